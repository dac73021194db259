"""The reliability harness (`python -m bench --chaos`, make chaos): SPEC.md "Reliability and security"."""
