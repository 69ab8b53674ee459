# CQI Tracker — everyday tasks. `make run` works on a fresh clone: it builds .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Touched after a successful install; reinstall when pyproject.toml is newer.
STAMP  := $(VENV)/.installed

.PHONY: $(VENV) run test test-unit test-integration test-sql test-e2e test-faults lint bench clean

$(VENV): $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev]"
	touch $@

run: $(VENV)
	$(BIN)/cqi serve

# Most tests wait on PostgreSQL rather than on the CPU: three processes (one embedded server
# each; a file's tests stay together and in order). The tests that kill servers or time loads
# run afterwards on their own, so that other tests' load does not skew what they measure.
PARALLEL := -n 3 --dist loadfile

test: $(VENV)
	$(BIN)/pytest -q $(PARALLEL) tests/unit tests/integration tests/e2e
	$(BIN)/pytest -q tests/faults tests/bench

test-unit: $(VENV)
	$(BIN)/pytest -q tests/unit

test-integration: $(VENV)
	$(BIN)/pytest -q $(PARALLEL) tests/integration

# The tests whose SQL could differ between PostgreSQL versions: the event store and its audit
# trigger, every view and its batch writes, snapshots, group commit, the read cache's fence, the
# paged lists, sessions, throttling, idempotency keys. CI runs them again on the
# PostgreSQL 15 server (TEST_DATABASE_URL); the pages read the same views.
SQL_TESTS := $(wildcard tests/integration/test_api_*.py) $(addprefix tests/integration/, \
	test_rebuild.py test_audit_chain.py test_idempotency.py test_sessions.py \
	test_sign_in_throttle.py test_concurrency.py test_portfolio.py test_runner_health.py \
	test_cycle_measures.py test_demo_measures.py test_projection_batches.py \
	test_group_commit_store.py test_command_cache.py test_snapshot_format.py test_snapshot_cache.py \
	test_board_cache.py \
	test_list_paging.py)

test-sql: $(VENV)
	$(BIN)/pytest -q $(PARALLEL) $(SQL_TESTS)

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
