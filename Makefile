# Pressroom: `make run` sets everything up and serves the demo site; `make test` runs the suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ARTICLES ?= 400
# `make run` is a local demo: generate a development secret into var/ unless SECRET_KEY is set.
export PRESSROOM_DEV_SECRET ?= 1

.PHONY: run test lint typecheck format bench lighthouse lock install clean worker

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@python=$$(scripts/find-python) || exit 1; \
	if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $$python"; "$$python" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

var:
	@mkdir -p var

run: install var
	$(BIN)/pressroom migrate --no-input
	$(BIN)/pressroom collectstatic --no-input --verbosity 0
	$(BIN)/pressroom demo --articles $(DEMO_ARTICLES) --if-empty
	$(BIN)/pressroom serve --host $(HOST) --port $(PORT)

worker: install var
	$(BIN)/pressroom worker

# Measures branch coverage and fails under [tool.coverage.report] fail_under (pyproject.toml).
# One test process per core (pytest-xdist): most of the suite's time is spent waiting for the
# servers, workers and browsers it starts, so two processes on two cores take half as long.
# A subset (PYTEST_ARGS="path -k name") covers less: add --no-cov to it, and -n0 for one process.
TEST_PROCESSES ?= auto
test: install
	$(BIN)/pressroom collectstatic --no-input --verbosity 0
	$(BIN)/pytest -n $(TEST_PROCESSES) --cov --cov-report=term $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

typecheck: install
	$(BIN)/mypy pressroom

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Lighthouse (mobile) on the pages readers land on; needs node/npm and chromium (Debian's).
lighthouse: install
	$(BIN)/python -m bench lighthouse

# Regenerates requirements.lock from pyproject.toml's ranges (needs network access to PyPI).
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.12 -o requirements.lock

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .coverage .coverage.*
