"""Dagster ops that are not assets."""
