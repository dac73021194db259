"""The DuckDB warehouse: its schema, how runs open it (encrypted when a key is set), and the
published snapshot downstream readers open."""
