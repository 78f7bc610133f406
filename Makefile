# The two commands a user needs are `make run` and `make test`; everything else is a convenience.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else a private copy installed from PyPI into .tools/
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen --no-sync
LANDING ?= data/landing
WAREHOUSE ?= data/warehouse.duckdb
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

.PHONY: help setup run demo-data test lint ui docs metrics clean bench

help:
	@echo "make run    - load $(LANDING) (demo data if it holds no survey files) into $(WAREHOUSE)"
	@echo "make test   - the whole test suite (pytest + dbt build on fixtures)"
	@echo "make ui     - Dagster UI on http://127.0.0.1:3000"
	@echo "make docs   - dbt docs for $(WAREHOUSE) on http://127.0.0.1:8080"
	@echo "make lint   - ruff and sqlfluff"
	@echo "make metrics - a dbt semantic layer query (MetricFlow) on $(WAREHOUSE)"
	@echo "make bench  - the pipeline against bare DuckDB (SIZES=\"1m 10m\", default 1m;"
	@echo "              SCENARIOS=\"full new-day ...\", default all)"

$(UV):
	python3 -m pip install --quiet --disable-pip-version-check --target $(CURDIR)/.tools uv

# EXTRAS: optional extras to install, e.g. `make test EXTRAS=spark` (.ci/run does); --inexact
# keeps the ones installed before (uv sync --extra spark) instead of removing them
EXTRAS ?=
# --compile-bytecode: the packages' .pyc files are written once, here; where the environment sets
# PYTHONDONTWRITEBYTECODE, every process would otherwise compile dagster, dbt and GX from source
# again (about 13 s of each pipeline run on two cores)
setup: $(UV)
	$(UV) sync --frozen --inexact --compile-bytecode $(foreach extra,$(EXTRAS),--extra $(extra))

run: setup
	$(RUN) nps-warehouse demo-data --landing $(LANDING) --if-empty
	$(RUN) nps-warehouse run --landing $(LANDING) --warehouse $(WAREHOUSE)

demo-data: setup
	$(RUN) nps-warehouse demo-data --landing $(LANDING)

# the test modules run on TEST_WORKERS pytest-xdist workers (one module stays on one worker, the
# slowest start first: tests/conftest.py); TEST_WORKERS=0 runs them in this process, one by one
TEST_WORKERS ?= 2
test: setup
	$(RUN) pytest --numprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	@# sqlfluff's dbt templater opens the warehouse file: DuckDB creates it, not its folder
	mkdir -p $(dir $(WAREHOUSE))
	$(RUN) sqlfluff lint models macros

ui: setup
	$(RUN) python -c "from orchestration.pipeline import ensure_dagster_home; ensure_dagster_home()"
	NPS_LANDING_DIR=$(abspath $(LANDING)) NPS_WAREHOUSE=$(abspath $(WAREHOUSE)) \
		$(RUN) dagster dev -m orchestration.definitions --host 127.0.0.1 --port 3000

docs: setup
	NPS_WAREHOUSE=$(abspath $(WAREHOUSE)) $(RUN) dbt docs generate --static
	NPS_WAREHOUSE=$(abspath $(WAREHOUSE)) $(RUN) dbt docs serve --host 127.0.0.1 --port 8080 --no-browser

# mf has no --target option: the dbt profile reads its target from DBT_TARGET (default duckdb)
metrics: setup
	NPS_WAREHOUSE=$(abspath $(WAREHOUSE)) $(RUN) dbt parse --quiet
	NPS_WAREHOUSE=$(abspath $(WAREHOUSE)) $(RUN) mf query --metrics nps,responses,nps_standard_error \
		--group-by metric_time__month,region --order metric_time__month,region

# generated data and runs go to data/bench/<size>/ (reused data, fresh runs); see bench/README.md
SIZES ?= 1m
bench: setup
	$(RUN) python -m bench.run --sizes $(SIZES) $(if $(SCENARIOS),--scenarios $(SCENARIOS))

clean:
	rm -rf target logs .dagster_home data/warehouse.duckdb
