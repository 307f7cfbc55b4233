# mamori — every habit of the project is a target here; `make help` lists them.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MAMORI_HOME ?= $(CURDIR)/var/demo
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export GX_ANALYTICS_ENABLED := False

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-fast test-slow lint fmt new-detection mutate coverage bench bench-quick clean

help: ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
	@# uv resolves nothing here (the lock is exact); it only installs ~15x faster than pip. Falls back to pip.
	@# --compile-bytecode: the .pyc files pip writes at install by default and uv does not. Without them every
	@# process compiles what it imports from source (Airflow, Great Expectations: half the CPU of an import),
	@# again in each process where PYTHONDONTWRITEBYTECODE is set, and by every component at once on the first
	@# `make up-local` otherwise: the start's CPU on a loaded machine (docs/operations.md, "Eighth round").
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 || true
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --compile-bytecode -p $(BIN)/python -r requirements.lock.txt && \
	   $(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e . ; \
	 else $(BIN)/pip install -q -r requirements.lock.txt && $(BIN)/pip install -q --no-deps -e . ; fi
	@# A silent half-install (seen once under load: exit 0, no console script) must stop here, not later.
	@test -x $(BIN)/mamori || { echo "make venv: the install left no $(BIN)/mamori; run make venv again" >&2; exit 1; }
	@touch $(STAMP)

venv: $(STAMP) ## create .venv from requirements.lock.txt (once; again when the lock changes)

demo: $(STAMP) ## generate a day of logs (six sources), run ingest, detect, health and dispatch through Airflow, print the summary
	$(BIN)/mamori demo

test: $(STAMP) ## the whole suite CI runs: lint, fast tests, then the slow end-to-end tier
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -m "not slow" -q
	$(BIN)/python -m pytest -m slow -q
	$(MAKE) --no-print-directory bench-quick

test-fast: $(STAMP) ## unit tier only (seconds)
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP) ## end-to-end tier: dag.test over generated data, moto S3 server
	$(BIN)/python -m pytest -m slow -q

lint: $(STAMP) ## ruff (check + format) + mypy + sqlfluff (athena) + the import layers (.importlinter) must be clean
	$(BIN)/ruff check include dags plugins tests bench
	$(BIN)/ruff format --check include dags plugins tests bench
	$(BIN)/mypy
	$(BIN)/sqlfluff lint sql --dialect athena
	$(BIN)/lint-imports

fmt: $(STAMP) ## apply ruff fixes and formatting, and sqlfluff fixes
	$(BIN)/ruff check --fix include dags plugins tests bench
	$(BIN)/ruff format include dags plugins tests bench
	$(BIN)/sqlfluff fix sql --dialect athena

new-detection: $(STAMP) ## scaffold sql/detections/<source>/$(ID).sql and its case folders: make new-detection ID=cloudtrail_x
	@test -n "$(ID)" || { echo "usage: make new-detection ID=<source>_<name>"; exit 2; }
	$(BIN)/mamori detections new $(ID)

mutate: $(STAMP) ## break each rule on purpose; every mutant must be killed by a case (or declared equivalent): make mutate [ID=...]
	$(BIN)/mamori detections mutate $(ID)

coverage: $(STAMP) ## regenerate docs/coverage.md + .svg: ATT&CK matrix of rules whose cases pass and kill every mutant
	$(BIN)/mamori detections coverage --out docs

bench: $(STAMP) ## benchmarks vs same-run baselines → docs/benchmarks.md (minutes)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP) ## CI-sized benchmarks (seconds) → var/bench-quick.md, so the benchmark code cannot rot
	$(BIN)/python bench/run.py --quick --out var/bench-quick.md

# The live benchmarks run a checkout's own `mamori up` (real scheduler, embedded PostgreSQL) with fresh homes, so
# they measure a fresh clone of HEAD (committed code only, never this tree's var/), made again on each call.
LIVE := $(CURDIR)/var/bench-live
define fresh_clone
	rm -rf $(LIVE) && git clone -q $(CURDIR) $(LIVE) && $(MAKE) -C $(LIVE) venv
endef
.PHONY: bench-first-ticket bench-latency bench-gx-share
bench-first-ticket: $(STAMP) ## start → first ticket of `make up-local`, on a fresh clone of HEAD (minutes)
	$(fresh_clone)
	$(BIN)/python bench/first_ticket.py $(LIVE) --json var/bench-first-ticket.json

bench-latency: $(STAMP) ## landing → ticket per story step over 30 minutes of landings, fresh clone of HEAD (~50 min)
	$(fresh_clone)
	$(BIN)/python bench/latency.py $(LIVE) --minutes 30 --drain 15 --json var/bench-latency.json

bench-gx-share: $(STAMP) ## GX share of convert tasks under the real scheduler, from Airflow's metadata, fresh clone of HEAD
	$(fresh_clone)
	$(BIN)/python bench/gx_share.py $(LIVE) --json var/bench-gx-share.json

.PHONY: up-local down screenshot
up-local: $(STAMP) ## the real Airflow on 127.0.0.1:8080 (scheduler, api-server, ...), 6 h of sample data, DAGs on
	$(BIN)/mamori up

down: ## stop everything `make up-local` started (its whole process session: nothing survives)
	$(BIN)/mamori down

screenshot: $(STAMP) ## regenerate docs/ screenshots: the view in the Airflow UI (scheduler e2e run); incident queue, incident, search, charts (triage browser test)
	MAMORI_SCREENSHOT=$(CURDIR)/docs/mamori-view.png $(BIN)/python -m pytest tests/e2e/test_scheduler.py -m slow -q
	MAMORI_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest tests/plugins/test_triage_browser.py -m slow -q

clean: ## remove local state (var/: demo lake, Airflow home, ledger)
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
