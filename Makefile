# The two commands of the README: `make run` and `make test`. Everything else is a short alias for a real command.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# Test processes (pytest-xdist): two keep both cores of a small machine busy while a browser or a worker waits;
# work stealing evens out the few long tests (schemathesis, the bench run).
PYTEST_WORKERS ?= 2
BENCH_ARGS ?=

.PHONY: run test lint format e2e bench install clean messages

$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(DEV_STAMP)

## Serve the demo at http://127.0.0.1:8000 on SQLite, tasks in-process.
run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py runserver 127.0.0.1:8000

## The whole suite on PostgreSQL: DATABASE_URL when set, else a throwaway server started for the run.
test: $(DEV_STAMP)
	$(PY) scripts/with_postgres.py $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## Browser tests only (Chromium + axe-core).
e2e: $(DEV_STAMP)
	$(PY) scripts/with_postgres.py $(PY) -m pytest -m browser $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check
	DJANGO_SETTINGS_MODULE=innopole.settings.production DJANGO_SECRET_KEY=lint-only-$$(date +%s)-not-a-real-secret-key-xxxxxxxxxxxxxxxx \
	  DJANGO_ALLOWED_HOSTS=innopole.example $(PY) manage.py check --deploy --fail-level WARNING

format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Refresh the Traditional Chinese catalogue after changing user-facing strings.
messages: $(DEV_STAMP)
	$(PY) manage.py makemessages -l zh_Hant --ignore '.venv/*' --ignore 'staticfiles/*'
	$(PY) manage.py compilemessages -l zh_Hant --ignore '.venv/*'

## The readiness benchmark at HKSTP scale (ratios measured in the same run; README, "Benchmarks").
bench: $(DEV_STAMP)
	$(PY) scripts/with_postgres.py $(PY) manage.py bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
