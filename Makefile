# Every user-facing target creates .venv from a bare python3 when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: demo test test-fast lint bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# dagster-dbt builds the cadence assets from dbt's manifest: re-parse whenever the project changes
# (loading the code location never parses; every target that loads it depends on this).
DBT_MANIFEST := dbt_cadence/target/manifest.json
DBT_PROJECT_FILES := $(shell find dbt_cadence \( -path dbt_cadence/target -o -path dbt_cadence/logs \) -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)

$(DBT_MANIFEST): $(STAMP) $(DBT_PROJECT_FILES)
	DO_NOT_TRACK=1 $(BIN)/dbt parse --project-dir dbt_cadence --profiles-dir dbt_cadence --quiet
	@touch $@

demo: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/smvue demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The whole suite (CI runs this). SMVUE_TEST_SLOWDOWN stretches every deadline (default 3).
test: lint $(DBT_MANIFEST)
	$(BIN)/python -m pytest --durations=10 $(PYTEST_ARGS)

# The inner loop: everything but the slow journeys (no Dagster daemon, no demo, no browser).
test-fast: lint $(DBT_MANIFEST)
	$(BIN)/python -m pytest -m "not e2e" --durations=10 $(PYTEST_ARGS)

bench: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python -m bench $(BENCH_ARGS)

chaos: $(STAMP) $(DBT_MANIFEST)
	$(BIN)/python -m bench --chaos $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache dbt_cadence/target dbt_cadence/logs
