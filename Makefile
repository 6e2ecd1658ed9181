# The two commands a newcomer needs:  make run   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint pytest smoke bench clean

$(STAMP): requirements.txt requirements-dev.txt scripts/bootstrap.sh
	PYTHON=$(PYTHON) scripts/bootstrap.sh
	@touch $(STAMP)

## Set up and run the product on the embedded default (SQLite, demo data, no API key).
run: $(STAMP)
	@HOST=$(HOST) PORT=$(PORT) scripts/run.sh

## Lint, type-check, then the whole suite on a throwaway PostgreSQL, then the SQLite smoke set.
test: $(STAMP)
	scripts/test.sh

## Every benchmark in bench/, against a throwaway PostgreSQL.
bench: $(STAMP)
	scripts/with_postgres.sh scripts/bench.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
