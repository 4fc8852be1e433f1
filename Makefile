# The README's two commands are `make demo` and `make test`; both depend on `make setup`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export ZJTX_HOME ?= $(CURDIR)/var

# uv from PATH, else bootstrapped into .uv/ from the package registry.
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.uv/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATA := $(ZJTX_HOME)/data/demo
DEMO_FIRMS ?= 20000
DEMO_SEED ?= 7
DEMO_AS_OF ?= 2026-06-30

.PHONY: help setup demo test lint bench clean

help:
	@echo "make setup  - create .venv with the locked dependencies (idempotent)"
	@echo "make demo   - generate a demo data set, then run what the pipeline has on it"
	@echo "make test   - ruff, mypy and the test suite"
	@echo "make bench  - the benchmarks under bench/ (about an hour at 1M firms; prints tables)"

setup: $(VENV)/.synced

$(CURDIR)/.uv/bin/uv:
	python3 -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups --compile-bytecode --python python3.11
	@touch $@

demo: setup
	$(BIN)/zjtx generate --firms $(DEMO_FIRMS) --seed $(DEMO_SEED) --out $(DEMO_DATA)
	$(BIN)/zjtx validate --data $(DEMO_DATA) --rejects $(ZJTX_HOME)/demo-rejects.csv
	$(BIN)/zjtx train --data $(DEMO_DATA)
	$(BIN)/zjtx discover --data $(DEMO_DATA) --as-of $(DEMO_AS_OF)
	@echo
	@echo "demo: generated $(DEMO_FIRMS) firms in $(DEMO_DATA), trained the ranking models"
	@echo "      (MLflow: $(ZJTX_HOME)/mlflow/mlflow.db) and published a discovery run:"
	@echo "      invitation lists in $(ZJTX_HOME)/runs/latest/invitations/ (CSV and Excel per province),"
	@echo "      report in $(ZJTX_HOME)/runs/latest/report.html"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench.bench_criteria
	$(BIN)/python -m bench.bench_generate
	$(BIN)/python -m bench.bench_matching scale
	$(BIN)/python -m bench.bench_matching splink
	$(BIN)/python -m bench.bench_discovery
	$(BIN)/python -m bench.bench_national
	$(BIN)/python -m bench.bench_supply_graph --data bench/out/gen-250000-5 bench/out/gen-1000000-5 bench/out/national-1000000-5
	$(BIN)/python -m bench.bench_ranking
	$(BIN)/python -m bench.bench_service

clean:
	rm -rf $(VENV) .uv var .pytest_cache .mypy_cache .ruff_cache
