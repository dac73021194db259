"""SMVue benchmarks and the reliability harness: `python -m bench` (make bench), `--chaos` (make chaos)."""
