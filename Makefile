# Two commands on a fresh clone: `make demo` and `make test`.
# Both create .venv when missing and (re)install when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
DEV    := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The runtime packages at the versions the images ship (deploy/constraints.txt),
# so the suite tests what is deployed.
PINS   := deploy/constraints.txt

$(CORE): pyproject.toml $(PINS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(PINS) -e .
	touch $@

$(DEV): pyproject.toml $(PINS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(PINS) -e '.[dev]'
	touch $@ $(CORE)

## Run the whole pipeline on the embedded SQLite default with built-in sample data.
demo: $(CORE)
	$(BIN)/superbrain demo

## Lint, type-check and run the whole test suite.
test: lint typecheck pytest

lint: $(DEV)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV)
	$(BIN)/python -m pytest

## Benchmarks (print figures; no pass/fail).
bench: $(DEV)
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/desktop_import.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data demo-data
