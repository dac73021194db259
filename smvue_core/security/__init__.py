"""Secrets at rest: token encryption and key rotation."""
