# The two commands a user needs: `make run` and `make test`. Only Python 3.11+ is required.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_demo
	@echo "Admin: create a user with '$(BIN)/python manage.py createsuperuser', then open http://127.0.0.1:$(PORT)/admin/"
	@echo "API docs: http://127.0.0.1:$(PORT)/api/v1/docs/   (Ctrl-C stops web, worker and beat)"
	$(BIN)/honcho start --port $(PORT) --procfile Procfile.dev

# The linter first (ruff.toml): the whole tree stays clean.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

clean:
	rm -rf $(VENV) var

# `make bench`: the benchmark (bench/, docs/benchmarks.md) against the PostgreSQL and Redis
# named by DATABASE_URL and CELERY_BROKER_URL: every scenario 3 times, then bench/report.png.
.PHONY: bench
bench: $(VENV)/.bench
	$(BIN)/python -m bench --runs 3 $(BENCH_ARGS)
	$(BIN)/python -m bench.report

$(VENV)/.bench: requirements.txt requirements-dev.txt requirements-bench.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r requirements-bench.txt
	touch $(VENV)/.runtime $(VENV)/.dev $@
