"""The admin API (/_admin/...): scripting scenarios without touching the emulator's internals."""
