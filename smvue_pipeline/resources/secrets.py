"""Secrets as resource fields: set in the environment, the Dagster UI shows them by name only."""

from __future__ import annotations

import os

import dagster as dg


def env_secret(name: str, default):
    """`dg.EnvVar(name)` when the variable is set (resolved when a run starts); otherwise the
    built-in default, which for the provider credentials is the emulator's public one."""
    return dg.EnvVar(name) if os.environ.get(name) else default
