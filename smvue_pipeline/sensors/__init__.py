"""Dagster sensors: the change queue and the write-back state."""
