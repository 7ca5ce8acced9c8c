# The two commands of the README, and the checks CI runs. Each target installs what it needs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint check benchmark setup
.DEFAULT_GOAL := demo

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed
	./scripts/system-deps

## make demo: the embedded default (own PostgreSQL and Mosquitto when none is configured)
demo: setup
	$(BIN)/pogo demo

## make test: the whole test suite against a real PostgreSQL and a real Mosquitto
test: setup
	./scripts/system-deps --services
	$(BIN)/pytest

## make lint: ruff (lint and format) and mypy strict
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

## make benchmark: the benchmarks of benchmarks/ (see the README)
benchmark: setup
	./scripts/system-deps --services
	$(BIN)/pytest benchmarks --benchmark-enable -s -p no:cacheprovider -o testpaths=benchmarks \
	  -o 'python_files=bench_*.py test_*.py'
