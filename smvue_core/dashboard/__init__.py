"""The cadence dashboard (F18): one self-contained HTML page built from the published snapshot."""
