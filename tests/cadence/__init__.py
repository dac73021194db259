"""Tests of the dbt_cadence project and its Dagster wiring."""
