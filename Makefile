# Haven developer entry points. Everything bootstraps itself: venv, packages, broker, store.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test demo lint typecheck bench clean web js-test cluster cluster-stop test-cluster

# Haven Web: the JS SDK, the app, and what the browser tests inject (axe-core); each package
# is installed from its lockfile (`npm ci`) when node_modules is missing or older than it.
NPM ?= npm
JS_SDK := clients/js
WEB_APP := clients/web
JS_PACKAGES := $(patsubst %/package.json,%,$(wildcard $(JS_SDK)/package.json $(WEB_APP)/package.json))
NODE_PACKAGES := $(JS_PACKAGES) $(patsubst %/package.json,%,$(wildcard tests/browser/package.json))
NODE_STAMPS := $(addsuffix /node_modules/.package-lock.json,$(NODE_PACKAGES))
WEB_BUILD := $(WEB_APP)/dist/index.html
# Everything the bundle is built from: the app's and the SDK's files, not their outputs.
WEB_SOURCES := $(shell find $(WEB_APP) $(JS_SDK) \( -name node_modules -o -name dist \) -prune \
	-o -type f -print 2>/dev/null)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## up: build Haven Web if needed, start broker (if needed), SecantusDB and the three services
## in the foreground; the app opens at http://127.0.0.1:8080/app/
up: $(STAMP) web
	@echo "Haven Web: open http://127.0.0.1:$${HAVEN_GATEWAY_PORT:-8080}/app/"
	exec $(PY) -m tools.devstack

## web: npm ci where a lockfile is newer than node_modules, then build clients/web/dist when
## any source is newer than the build
web: $(NODE_STAMPS) $(if $(wildcard $(WEB_APP)/package.json),$(WEB_BUILD))

%/node_modules/.package-lock.json: %/package-lock.json %/package.json
	@command -v $(NPM) >/dev/null || { echo "npm is missing: apt-get install nodejs npm"; exit 1; }
	cd $* && $(NPM) ci --no-audit --no-fund
	mkdir -p $(@D) && touch $@

# The app imports the SDK as file:../js, so the SDK's packages are installed first.
$(WEB_APP)/node_modules/.package-lock.json: $(if $(wildcard $(JS_SDK)/package.json),$(JS_SDK)/node_modules/.package-lock.json)

$(WEB_BUILD): $(WEB_SOURCES) $(NODE_STAMPS)
	cd $(WEB_APP) && $(NPM) run build
	touch $@

## js-test: lint and unit tests of the JS SDK and the app
js-test: web
	@for dir in $(JS_PACKAGES); do \
		echo "== $$dir"; (cd $$dir && $(NPM) run lint && $(NPM) test) || exit 1; \
	done

## demo: operator, coach and client exchange encrypted messages against `make up`'s stack (or a
## throw-away one), then show what the server stored: ciphertext only
demo: $(STAMP)
	$(PY) -m tools.demo

## test: lint, types, the JS packages' lint and tests, then the whole test suite (browser
## tests in headless Chromium included) against the real broker and a fresh store, on
## TEST_WORKERS pytest-xdist workers (tests/support/parallel.py; TEST_WORKERS=0: one process)
TEST_WORKERS ?= 4
# Compiled once before the suite: the hundreds of service and CLI processes it starts then read
# the bytecode instead of each compiling the same modules again (an environment with
# PYTHONDONTWRITEBYTECODE set, as this machine's is, never keeps what they compile).
PY_SOURCES := shared services tools tests bench clients/python
test: $(STAMP) web
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory js-test
	$(PY) -m tools.broker
	$(PY) -m compileall -q $(PY_SOURCES)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## cluster: start a local three-node RabbitMQ cluster of the machine's rabbitmq-server
## (hvc1..3@localhost on 5701-5703, files in $${TMPDIR:-/tmp}/haven-cluster; never the broker
## on 5672) and print its HAVEN_AMQP_URL; cluster-stop stops it
cluster: $(STAMP)
	$(PY) -m tools.cluster start

cluster-stop: $(STAMP)
	$(PY) -m tools.cluster stop

## test-cluster: the cluster suite (tests/cluster/): the services as processes on that cluster,
## which it starts (and stops again) unless `make cluster` runs it; a node killed under load
test-cluster: $(STAMP)
	$(PY) -m pytest tests/cluster $(PYTEST_ARGS)

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
	rm -rf $(VENV) .haven-data $(WEB_APP)/dist $(addsuffix /node_modules,$(NODE_PACKAGES))
