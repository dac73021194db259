"""`smvue demo`: the end-to-end scenario on embedded defaults (emulator, pipeline, DuckDB under data/)."""
