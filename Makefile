# Argus — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run serve test test-fast provision lint format bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,bench]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

## make run: venv + install + migrate the SQLite database in ./var + seed the demo + serve.
run: $(VENV)/.installed
	$(BIN)/argus db upgrade
	$(BIN)/argus seed-demo
	$(BIN)/argus serve

serve: $(VENV)/.installed
	$(BIN)/argus serve

## make provision: PostGIS, Chromium, PostgreSQL/Redis/RabbitMQ/NATS running, the test database
## (scripts/provision-test-env; installs as root with apt-get, else says what to install and stops).
provision:
	@scripts/provision-test-env

## make test: provision, lint, type-check, then the whole suite (SQLite + every server).
test: provision $(VENV)/.installed-test lint
	@$(BIN)/pytest -n auto --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## make test-fast: unit tests only (no server), for iterating.
test-fast: $(VENV)/.installed-test
	@$(BIN)/pytest -n auto -m "not pg and not redis and not rabbitmq and not nats and not s3 and not browser and not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## make bench: every benchmark in benchmarks/ (prints tables; see benchmarks/README.md).
bench: $(VENV)/.installed-test
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
