# The two commands of the README, and the checks CI runs. Each target installs what it needs:
# system packages first (python3-venv among them), then uv (pinned by hash), then exactly the
# dependencies of uv.lock into $(VENV).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint lock lock-upgrade lock-check check benchmark setup system-deps
.DEFAULT_GOAL := demo

system-deps:
	./scripts/system-deps

$(UV): scripts/uv-bootstrap.txt | system-deps
	@echo "installing uv (the installer of the locked dependencies) into $(UV_HOME)/" >&2
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q --disable-pip-version-check --require-hashes -r scripts/uv-bootstrap.txt

$(BIN)/.installed: pyproject.toml uv.lock $(UV)
	@echo "installing the dependencies locked in uv.lock into $(VENV)/ (a minute the first time)" >&2
	$(UV) sync --locked --extra dev --python $(PYTHON)
	touch $@

setup: system-deps $(BIN)/.installed

## make demo: the embedded default (own PostgreSQL and Mosquitto when none is configured)
demo: setup
	$(BIN)/pogo demo

## make test: the whole test suite against a real PostgreSQL and a real Mosquitto
test: setup
	./scripts/system-deps --services
	$(BIN)/pytest

## make lint: the lock matches pyproject.toml, ruff (lint and format) and mypy strict
lint: setup lock-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make lock: re-resolve uv.lock after a change to pyproject.toml (make lock-upgrade: newest releases)
lock: $(UV)
	$(UV) lock

lock-upgrade: $(UV)
	$(UV) lock --upgrade

lock-check: $(UV)
	$(UV) lock --check

check: lint test

## make benchmark: the benchmarks of benchmarks/ (see the README)
benchmark: setup
	./scripts/system-deps --services
	$(BIN)/pytest benchmarks --benchmark-enable -s -p no:cacheprovider -o testpaths=benchmarks \
	  -o 'python_files=bench_*.py test_*.py'
