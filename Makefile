# civicgrid — the two commands of the README are `make demo` and `make test`.
# Every other target is a piece of those two. Stamps keep a second run from reinstalling:
# Python packages are reinstalled only when pyproject.toml is newer than .venv's stamp, npm
# packages only when web/package.json or web/package-lock.json changed, and the web console
# is rebuilt only when its sources (or the API it is generated from) changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
PY_STAMP := $(VENV)/.civicgrid-installed
NPM_STAMP := web/node_modules/.civicgrid-npm-ci
WEB_BUILT := src/civicgrid/static/index.html
# The database `make test` runs the suite on a second time; each test session makes its own
# throw-away database on that server and drops it afterwards.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
# Extra pytest arguments for both passes, e.g. `make test PYTEST_ARGS="-x -k audit"`.
PYTEST_ARGS ?=
# Each pass runs on pytest-xdist workers, every worker with its own database, live server and
# clock (tests/conftest.py); PYTEST_WORKERS=0 runs a pass in one process. Without pytest-xdist
# installed (a venv older than pyproject.toml) the passes run in one process each.
PYTEST_WORKERS ?= 2
HAVE_XDIST = $(shell $(BIN)/python -c 'import xdist' 2>/dev/null && echo yes)
XDIST_ARGS = $(if $(and $(HAVE_XDIST),$(filter-out 0,$(PYTEST_WORKERS))),-n $(PYTEST_WORKERS) --dist loadgroup)
# Where `make pytest` writes each pass's log (printed whole when the pass ends).
TEST_LOGS := test-artifacts/logs
IN_CI := $(filter 1 true TRUE True yes,$(CI))
# Connects once to PG_TEST_URL (an SQLAlchemy URL); on failure prints the reason on one line.
define PG_PROBE
import os, sys, psycopg
from sqlalchemy.engine import make_url
url = make_url(os.environ["PG_TEST_URL"]).set(drivername="postgresql")
try:
    psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=3).close()
except Exception as exc:
    sys.exit(" ".join(str(exc).split()) or type(exc).__name__)
endef
export PG_PROBE

.PHONY: help install demo test lint typecheck pytest pytest-sqlite pytest-postgres fuzz web bench clean

help:
	@echo "make demo       install, build the web console, load Yongzhou and demo data, serve http://127.0.0.1:8000"
	@echo "make test       install, build, then ruff, mypy and the test suite on SQLite and PostgreSQL"
	@echo "make install    the virtual environment .venv with civicgrid and its dev tools"
	@echo "make web        build the web console into src/civicgrid/static"
	@echo "make lint       ruff check, then the structure checks in tools/lint/"
	@echo "make typecheck  mypy"
	@echo "make pytest     the test suite only: SQLite and PostgreSQL (PG_TEST_URL, when it answers) passes at once"
	@echo "make fuzz       schemathesis over the live API as sysadmin and volunteer, 240 s, fails on any 5xx (run by make test when CI=true)"
	@echo "make bench      run every benchmark in bench/"
	@echo "make clean      remove .venv, node_modules, the built console and caches (keeps var/, your data)"

# ----------------------------------------------------------------------------- Python

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"civicgrid needs Python 3.11+ (found " + sys.version.split()[0] + "): set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@

install: $(PY_STAMP)

# ----------------------------------------------------------------------------- web console

ifneq ($(wildcard web/package.json),)
# The generated API types (web/src/api/schema.d.ts) come from the backend's OpenAPI schema,
# which only the routers and their schemas change.
WEB_SOURCES := $(shell find web/src web/public -type f ! -path web/src/api/schema.d.ts 2>/dev/null) \
	$(wildcard web/index.html web/vite.config.* web/tsconfig*.json web/scripts/*)
API_SOURCES := src/civicgrid/main.py $(wildcard src/civicgrid/*/endpoints.py src/civicgrid/*/schemas.py)

$(NPM_STAMP): web/package.json $(wildcard web/package-lock.json)
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (https://nodejs.org)"; exit 1; }
	@# npm ci refuses a lock file that lists an optional dependency the registry does not serve
	@# (vite's Windows-only napi-windows-process-start-time, here); npm install tolerates it.
	npm --prefix web ci --no-audit --no-fund || { \
		echo "npm ci refused web/package-lock.json (see above): falling back to npm install --no-save"; \
		npm --prefix web install --no-audit --no-fund --no-save; }
	@touch $@

$(WEB_BUILT): $(NPM_STAMP) $(PY_STAMP) $(WEB_SOURCES) $(API_SOURCES)
	npm --prefix web run build
	@touch $@

web: $(WEB_BUILT)
else
web:
	@echo "web/package.json not found: skipped the web console build"
endif

# ----------------------------------------------------------------------------- run

demo: install web
	$(BIN)/civicgrid demo

# ----------------------------------------------------------------------------- checks

# Structure checks: each tools/lint/*.py is a script that prints what breaks a house rule and
# exits non-zero (personal data columns without the PII type, scoped tables read unscoped, …).
lint: install
	$(BIN)/ruff check src tests bench tools
	@for check in $(wildcard tools/lint/*.py); do \
		$(BIN)/python $$check || exit 1; \
	done

typecheck: install
	$(BIN)/mypy

# In CI the schema fuzzing runs beside the two test passes (it fuzzes its own server for a fixed
# time); outside CI `make fuzz` runs it alone.
test: install web
	@$(MAKE) lint
	@$(MAKE) typecheck
	@if [ -n "$(IN_CI)" ]; then $(MAKE) pytest FUZZ_TOO=1; \
	else $(MAKE) pytest; echo "schema fuzzing skipped outside CI (make fuzz runs it)"; fi

# The SQLite and PostgreSQL passes run at the same time, each into $(TEST_LOGS)/<pass>.log,
# and each log is printed whole when its pass ends (tools/together.py); the 15 slowest tests of
# each pass are at the end of its log.
pytest: install web
	@$(BIN)/python tools/together.py --logs $(TEST_LOGS) \
		sqlite='$(MAKE) pytest-sqlite' postgres='$(MAKE) pytest-postgres' \
		$(if $(FUZZ_TOO),fuzz='$(MAKE) fuzz')

pytest-sqlite: install
	@echo "== test suite on SQLite (browser tests included) $(XDIST_ARGS) =="
	$(BIN)/pytest -q --durations=15 $(XDIST_ARGS) $(PYTEST_ARGS)

# Outside CI a PostgreSQL server that does not answer skips this pass with a message; in CI
# (CI=true) it fails the run. Browser tests already ran in the SQLite pass.
pytest-postgres: install
	@if reason=$$(PG_TEST_URL='$(PG_TEST_URL)' $(BIN)/python -c "$$PG_PROBE" 2>&1); then \
		echo "== test suite on PostgreSQL ($(PG_TEST_URL)) $(XDIST_ARGS) =="; \
		CIVICGRID_TEST_DATABASE_URL='$(PG_TEST_URL)' $(BIN)/pytest -q --durations=15 -m "not browser" $(XDIST_ARGS) $(PYTEST_ARGS); \
	elif [ -n "$(IN_CI)" ]; then \
		echo "PostgreSQL not reachable at $(PG_TEST_URL): $$reason"; \
		echo "CI=true requires the PostgreSQL run: failing."; exit 1; \
	else \
		echo "PostgreSQL not reachable: skipped the PostgreSQL run ($(PG_TEST_URL): $$reason)"; \
	fi

# Schema fuzzing (issue 9 §3.5): a fresh SQLite database with the demo data, `civicgrid serve`,
# then schemathesis (check not_a_server_error, seed 20261203) for FUZZ_SECONDS split between the
# FUZZ_ROLES; fails on any 5xx. About 1 min of demo data plus the fuzzing time.
FUZZ_ROLES ?= volunteer,sysadmin
FUZZ_SECONDS ?= 240
fuzz: install
	@echo "== schema fuzzing: schemathesis as $(FUZZ_ROLES), $(FUZZ_SECONDS) s =="
	$(BIN)/python tools/fuzz_api.py --roles '$(FUZZ_ROLES)' --seconds $(FUZZ_SECONDS)

# ----------------------------------------------------------------------------- benchmarks

bench: install
	@for script in bench/*.py; do \
		echo "== $$script =="; \
		$(BIN)/python $$script; \
	done

clean:
	rm -rf $(VENV) web/node_modules src/civicgrid/static web/src/api/schema.d.ts \
		src/*.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts build
	find src tests bench -name __pycache__ -type d -prune -exec rm -rf {} +
