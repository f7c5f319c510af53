# Haven: two commands on a fresh machine with Python 3.11 — `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench browser-test clean venv messages

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Compiled catalogues (locale/*/LC_MESSAGES/*.mo, never committed): Django's compilemessages runs
# Debian's msgfmt (package gettext) again whenever a .po file changes. README "Languages".
PO := $(wildcard locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)
$(MO) &: $(PO) | $(STAMP)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules --ignore=var -v 0
messages: $(MO)

## Serve Haven on http://127.0.0.1:8000 with SQLite and the in-memory layer (demo data seeded).
run: $(STAMP) $(MO)
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	$(PY) -m project.serve -b 127.0.0.1 -p 8000 --websocket-max-frame-size 65536 \
	  --access-log /dev/null project.asgi:application

## The whole suite (PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set).
test: $(STAMP) $(MO)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -m "not browser" --ignore=tests/browser $(PYTEST_ARGS)

## Browser tests: Debian's Chromium driven by Playwright, axe-core from the npm registry.
browser-test: $(STAMP) $(MO) tests/browser/node_modules/axe-core/axe.min.js
	$(PY) -m pytest -m browser tests/browser $(PYTEST_ARGS)

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --silent

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles $(MO)
## Load benchmark against the raw and naive reference servers (docs/performance.md).
bench: $(STAMP)
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py $(BENCH_ARGS)
