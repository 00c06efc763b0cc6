# ticket-triage: `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run serve test test-fast lint bench load clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with its dev tools

run: $(STAMP)  ## run the service with its review page (trains a model from data/ on first run)
	$(BIN)/triage serve --train-if-missing

serve: run  ## same as run

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check model service cli tests bench notebooks
	$(BIN)/mypy

test: lint  ## lint, then every test (data, model, CLI, service, browser)
	$(BIN)/pytest -q

test-fast: $(STAMP)  ## the tests that do not train on the full data
	$(BIN)/pytest -q -m "not slow"

bench: $(STAMP)  ## run the benchmarks and rewrite docs/BENCHMARKS.md
	$(BIN)/python -m bench.run

load: $(STAMP)  ## hold 200 predictions/s against a local service for 3 minutes (docs/LOAD.md)
	$(BIN)/python -m bench.load --rate 200 --duration 180 --warmup 15

clean:  ## remove the virtualenv, caches and local models/databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache models var
