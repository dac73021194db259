"""The Dagster code location: every asset, check, job, sensor, schedule and resource of SMVue."""

import dagster as dg

defs = dg.Definitions()
