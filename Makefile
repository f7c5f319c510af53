# Haven: two commands on a fresh machine with Python 3.11, 3.12 or 3.13: `make run` and `make test`.
# The newest of python3.13, python3.12 and python3.11 that runs here (or PYTHON=...).
PYTHON ?= $(firstword $(foreach v,3.13 3.12 3.11,$(shell python$(v) -c "" >/dev/null 2>&1 && echo python$(v))) python3)
VENV := .venv
PY := $(VENV)/bin/python
# uv (from the package index, its own hashes in requirements-uv.lock) in a folder of its own,
# so that syncing .venv to a lock never removes it.
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
# What `make test` needs (requirements-dev.lock) and what `make run` needs (requirements.lock):
# every transitive package pinned with its hashes; `make lock` writes both again.
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
LOCK_ARGS := --quiet --universal --python-version 3.11 --generate-hashes

# uv does not read pip's configuration: hand it this machine's (pip config, PIP_* variables), so a
# machine set up with a local index or a wheel folder installs from them as pip would.
pip_config = $(strip $(or $($(2)),$(shell $(PYTHON) -m pip config get global.$(1) 2>/dev/null)))
PIP_INDEX := $(call pip_config,index-url,PIP_INDEX_URL)
PIP_EXTRA := $(call pip_config,extra-index-url,PIP_EXTRA_INDEX_URL)
PIP_LINKS := $(call pip_config,find-links,PIP_FIND_LINKS)
UV_ENV := $(if $(PIP_INDEX),UV_INDEX_URL="$(PIP_INDEX)") \
  $(if $(PIP_EXTRA),UV_EXTRA_INDEX_URL="$(PIP_EXTRA)" UV_INDEX_STRATEGY=unsafe-best-match) \
  $(if $(PIP_LINKS),UV_FIND_LINKS="$(PIP_LINKS)")
UV_RUN := $(strip env $(UV_ENV) $(UV))

.PHONY: run install test lint format bench browser-test clean venv messages lock

$(UV): requirements-uv.lock
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r requirements-uv.lock
	touch $(UV)

$(PY): | $(UV)
	$(UV_RUN) venv --quiet --python $(PYTHON) $(VENV)

$(STAMP): requirements-dev.lock | $(PY)
	$(UV_RUN) pip sync --quiet --require-hashes --python $(PY) requirements-dev.lock
	touch $(STAMP) $(RUN_STAMP)

# Only what running needs; a later `make test` installs the rest again.
$(RUN_STAMP): requirements.lock | $(PY)
	$(UV_RUN) pip sync --quiet --require-hashes --python $(PY) requirements.lock
	rm -f $(STAMP)
	touch $(RUN_STAMP)

## Write the locks again from requirements*.txt (after changing a pin).
lock: | $(UV)
	$(UV_RUN) pip compile $(LOCK_ARGS) requirements-dev.txt -o requirements-dev.lock
	$(UV_RUN) pip compile $(LOCK_ARGS) -c requirements-dev.lock requirements.txt -o requirements.lock

venv: $(STAMP)

# Compiled catalogues (locale/*/LC_MESSAGES/*.mo, never committed): Django's compilemessages runs
# Debian's msgfmt (package gettext) again whenever a .po file changes. README "Languages".
PO := $(wildcard locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)
$(MO) &: $(PO) | $(RUN_STAMP)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=var -v 0
messages: $(MO)

## What a server needs (README "Running it in production"): the runtime lock and the catalogues.
install: $(RUN_STAMP) $(MO)

## Serve Haven on http://127.0.0.1:8000 with SQLite and the in-memory layer (demo data seeded).
run: $(RUN_STAMP) $(MO)
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	$(PY) -m project.serve -b 127.0.0.1 -p 8000 --websocket-max-frame-size 65536 \
	  --access-log /dev/null project.asgi:application

# pytest-xdist workers: on two cores three about halve the suite and four gain nothing more
# (README "Quick start" has the timings). 0: no workers, everything in one process (a quicker
# start for a handful of tests).
TEST_WORKERS ?= 3
BROWSER_WORKERS ?= 3

## The whole suite (PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set). A file marked
## xdist_group keeps one worker (--dist loadgroup): its module-scoped setup is made once.
test: $(STAMP) $(MO)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -m "not browser" --ignore=tests/browser -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## Browser tests: Debian's Chromium driven by Playwright, axe-core from the npm registry. Each
## test file keeps one worker (--dist loadfile): its Haven server is the file's.
browser-test: $(STAMP) $(MO) tests/browser/node_modules/axe-core/axe.min.js
	$(PY) -m pytest -m browser tests/browser -n $(BROWSER_WORKERS) --dist loadfile $(PYTEST_ARGS)

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(TOOLS) var staticfiles $(MO)
## Load benchmark against the raw and naive reference servers (docs/performance.md).
bench: $(STAMP)
	$(UV_RUN) pip install --quiet --python $(PY) -r bench/requirements.txt
	$(PY) bench/run.py $(BENCH_ARGS)
