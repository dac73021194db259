"""Dagster assets: raw events, app mirrors, 1:1s, cadence (dbt), reminders, briefs, dashboard."""
