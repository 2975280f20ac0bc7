# Parley: `make run` to chat, `make test` to check. See README.md.
SHELL := /bin/bash
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT
export UV_PYTHON_DOWNLOADS := never

PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
VENV := .venv
STAMP := $(VENV)/.parley-synced

.PHONY: run cluster test test-fast bench lint fmt migrate demo services clean messages screenshots bench-client

run: $(STAMP) migrate
	$(VENV)/bin/python -m config.serve --host $(HOST) --port $(PORT)

# WORKERS (default: one per core) behind nginx on HOST:PORT, on PostgreSQL + Redis (make
# services); Ctrl-C stops them all. config/cluster.py; docs/deploy.md, "One machine, several workers".
# Over https: CERTIFICATE=file CERTIFICATE_KEY=file [HTTP_PORT=port, redirecting to https]
# (docs/deploy.md, "TLS").
cluster: $(STAMP)
	$(VENV)/bin/python -m config.cluster $(if $(WORKERS),--workers $(WORKERS))

# BROWSER=postgres: of the browser tests only those marked postgres (the others run on their
# own SQLite server whatever DATABASE_URL says, so a second pass on PostgreSQL repeats them).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest --ignore=tests/browser
	$(VENV)/bin/pytest -p no:asyncio -W ignore::pytest.PytestConfigWarning tests/browser $(if $(BROWSER),-m '$(BROWSER)')

# The inner loop: lint, then the tests that need no service (SQLite, in-memory layer;
# neither the tests marked redis or postgres nor the browser). `make test` is the whole suite.
test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATABASE_URL=sqlite:///db.sqlite3 REDIS_URL= $(VENV)/bin/pytest --ignore=tests/browser -m "not redis and not postgres"

# Fan-out and persistence benchmark (docs/performance.md): ~20 min, or QUICK=1 for about a minute and a half;
# REPEAT=3 runs the fan-out sweep three times and judges the targets on the medians.
# CLUSTER=1: only the cluster scenario (1 and WORKERS workers behind nginx; a few minutes,
# QUICK=1 a smoke test of 2–3 on a busy machine); a full run includes it.
# TEAM=1: only the team scenario (1,000 people x 2 tabs, in-memory and on Redis; ~10 min,
# QUICK=1 a team of 100 in-memory); a full run includes it, QUICK=1 alone skips it.
bench: $(STAMP)
	$(VENV)/bin/python -m bench $(if $(QUICK),--quick) $(if $(REPEAT),--repeat $(REPEAT)) \
		$(if $(CLUSTER),--cluster) $(if $(WORKERS),--workers $(WORKERS)) $(if $(TEAM),--team)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP)
	$(VENV)/bin/python manage.py migrate --noinput

demo: migrate
	$(VENV)/bin/python manage.py seed_demo

services:
	scripts/services

# README's screenshots (docs/screenshots/): real server, demo data, fixed clock; needs Chromium.
screenshots: $(STAMP)
	$(VENV)/bin/python -m tests.browser.screenshots

# Opening a room of 10 / 50 / 10,000 messages in Chromium (docs/performance.md, Client).
bench-client: $(STAMP)
	$(VENV)/bin/python -m bench.client_open

# Translations (README: Languages): refresh locale/*/django.po from the code, then compile the .mo
# files that are committed (so running Parley needs no gettext). Needs gettext installed.
MESSAGES_IGNORE := --ignore=.venv --ignore=.tools --ignore=staticfiles --ignore=tests --ignore=bench
messages: $(STAMP)
	$(VENV)/bin/python manage.py makemessages -l de $(MESSAGES_IGNORE) --no-obsolete --add-location=file
	$(VENV)/bin/python manage.py compilemessages -l de --ignore=.venv --ignore=.tools

$(STAMP): pyproject.toml uv.lock .python-version | $(UV)
	$(UV) sync --locked
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache staticfiles
