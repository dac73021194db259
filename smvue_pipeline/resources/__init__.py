"""Dagster resources: one interface per external system (warehouse, operational store, providers)."""
