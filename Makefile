# CQI Tracker — everyday tasks. `make run` works on a fresh clone: it builds .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Touched after a successful install; reinstall when pyproject.toml is newer.
STAMP  := $(VENV)/.installed

.PHONY: $(VENV) run test test-unit test-integration test-e2e test-faults lint bench clean

$(VENV): $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev]"
	touch $@

run: $(VENV)
	$(BIN)/cqi serve

test: $(VENV)
	$(BIN)/pytest -q

test-unit: $(VENV)
	$(BIN)/pytest -q tests/unit

test-integration: $(VENV)
	$(BIN)/pytest -q tests/integration

test-e2e: $(VENV)
	$(BIN)/pytest -q tests/e2e

# Kills things while the service works (issue 5, "Faults survived"); `make test` runs them too.
test-faults: $(VENV)
	$(BIN)/pytest -q tests/faults

lint: $(VENV)
	$(BIN)/ruff check .

# Charts timed against a floor, then loads (HTTP commands and pages on `cqi serve`, a million
# events) beside baselines measured in the same run; a few minutes on its own embedded
# PostgreSQL. Prints the tables (docs/benchmarks.md keeps the last one) and fails when a target
# is missed. `python -m tests.bench --help` runs parts.
bench: $(VENV)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info test-artifacts
	find . -path ./.cqi -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
