"""The plain-Python core: providers, sync, stores, write-back, reminders, dashboard. No Dagster, no FastAPI."""
