# Two commands on a fresh clone: `make demo` and `make test`.
# Both create .venv when missing and (re)install when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
DEV    := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck evaluate pytest fuzz chaos bench clean

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

## Lint, type-check, score the offline classifier on the corpus's untuned slice,
## and run the whole test suite.
test: lint typecheck evaluate pytest

lint: $(DEV)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(DEV)
	$(BIN)/mypy

## The rules classifier on the holdout slice of tests/corpus, never tuned on:
## the floors are what it reaches today, so quality cannot quietly fall.
evaluate: $(DEV)
	$(BIN)/superbrain eval --split holdout --min-table 93.5 --min-fields 86.5 --worst 5

pytest: $(DEV)
	$(BIN)/python -m pytest

## Long fuzzing: thousands of generated updates and exports per property (CI runs the
## bounded profile as part of pytest). Prints how many examples each property ran.
fuzz: $(DEV)
	SUPERBRAIN_FUZZ=long $(BIN)/python -m pytest tests/fuzz -q --hypothesis-show-statistics

## The chaos suite at full size (kill -9 mid-burst of 2,000 webhook updates, mid-batch,
## mid-ingest and mid-import, Postgres taken away, racing runs with faults); make test
## runs it bounded. Each test prints a CHAOS line with lost/duplicated counts and timings.
chaos: $(DEV)
	SUPERBRAIN_CHAOS=long CI=true $(BIN)/python -m pytest tests/chaos -q -s -p no:randomly \
		> $(VENV)/chaos.log 2>&1; status=$$?; \
		grep -E '^CHAOS|passed|failed in|error in' $(VENV)/chaos.log; exit $$status

## Benchmarks (print figures; no pass/fail). Each path is measured beside its lean
## baseline in the same run; the Postgres figures use BENCH_PG (a scratch database is
## created and dropped there). Memory is measured from 10k to 1M messages for the
## analyzer and the Desktop import (about 25 minutes in all). The last lines are the
## issue's targets in one table.
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/postgres
BENCH_RESULTS := $(VENV)/bench-results.jsonl
bench: $(DEV)
	rm -f $(BENCH_RESULTS)
	export SUPERBRAIN_BENCH_RESULTS=$(abspath $(BENCH_RESULTS)); \
	$(BIN)/python bench/capture.py && \
	$(BIN)/python bench/capture.py --db $(BENCH_PG) && \
	$(BIN)/python bench/webhook.py && \
	$(BIN)/python bench/batch.py --large 1000000 && \
	$(BIN)/python bench/batch.py --only instant --db $(BENCH_PG) && \
	$(BIN)/python bench/search.py && \
	$(BIN)/python bench/desktop_import.py --million && \
	$(BIN)/python bench/ingest_memory.py && \
	$(BIN)/python bench/classifier.py
	$(BIN)/python bench/summary.py $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data demo-data
