# Haven developer entry points. Everything bootstraps itself: venv, packages, broker, store.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test demo lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## up: start broker (if needed), SecantusDB and the three services in the foreground
up: $(STAMP)
	exec $(PY) -m tools.devstack

## demo: operator, coach and client exchange encrypted messages against `make up`'s stack (or a
## throw-away one), then show what the server stored: ciphertext only
demo: $(STAMP)
	$(PY) -m tools.demo

## test: lint, types, then the whole test suite against the real broker and a fresh store
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m tools.broker
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## bench: the workloads and ceilings of docs/PERFORMANCE.md on a fresh local stack (~5 min)
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m tools.broker
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .haven-data
