# SEND test-and-learn evaluation toolkit. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLAN ?= plans/change_programme_2023.yaml
SEED ?=
KERNEL := send-evaluation

.DEFAULT_GOAL := help

.PHONY: validate
.PHONY: help setup report reports areas demo-data power browser-deps test test-slow lint format clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  Variables: AREA=<slug|3-digit code|GSS code>  PLAN=$(PLAN)  SEED=<int, default from plan>"
	@echo "  make reports: JOBS=<processes>  FORCE=1 (redo everything)  SCHEDULER=<Dask address, or set DASK_SCHEDULER_ADDRESS>"

setup: ## Create .venv, install the project (editable, dev extras) and register the Jupyter kernel
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "SEND evaluation (.venv)"
	@echo "Set-up complete. Next: make report AREA=hartlepool"

report: ## Render the evidence report for one pilot area: make report AREA=hartlepool
	@if [ -z "$(AREA)" ]; then echo "error: give an area, e.g. make report AREA=hartlepool (make areas lists them)" >&2; exit 2; fi
	$(BIN)/python -m evaluation report --area "$(AREA)" --plan "$(PLAN)" $(if $(SEED),--seed $(SEED),)

reports: ## Bring every area page, the overview and reports/index.html up to date (JOBS=n FORCE=1 SCHEDULER=tcp://host:8786)
	$(BIN)/python -m evaluation reports --plan "$(PLAN)" $(if $(SEED),--seed $(SEED),) $(if $(JOBS),--jobs $(JOBS),) $(if $(FORCE),--force,) $(if $(SCHEDULER),--scheduler "$(SCHEDULER)",)

areas: ## List the pilot areas that AREA accepts
	@$(BIN)/python -m evaluation areas --plan "$(PLAN)"

demo-data: ## Write SYNTHETIC case-level returns and their area x month panel to data/synthetic (SEED=n)
	$(BIN)/python -m evaluation demo-data --out data/synthetic --seed $(if $(SEED),$(SEED),20230901)
	$(BIN)/python -m evaluation cases data/synthetic/synthetic_cases.csv --freq month --start 2021-01 --out data/synthetic/synthetic_panel_monthly.csv

power: ## Minimum detectable effects (80% power) per outcome, per-area and programme designs -> reports/power/
	$(BIN)/python -m evaluation power --plan "$(PLAN)" $(if $(SEED),--seed $(SEED),)

validate: ## Validate the plan's input files against data_contracts/ (quarantine in reports/validation)
	$(BIN)/python -m evaluation validate --plan "$(PLAN)" --report-json reports/validation/report.json

browser-deps: ## Install Debian's chromium and the npm packages (axe-core, playwright-core) for the browser test
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "warning: chromium is not installed (needs root: apt-get install chromium); the browser test will be skipped"; fi; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
	  (cd tests/browser && npm install --no-audit --no-fund --no-package-lock --loglevel=error) \
	    || echo "warning: npm install failed; the browser test will be skipped"; \
	else echo "warning: npm is not installed; the browser test will be skipped"; fi

test: ## Run the test suite
	$(BIN)/python -m pytest

lint: ## Check code style with ruff
	$(BIN)/ruff check evaluation tests bench
	$(BIN)/ruff format --check evaluation tests bench

format: ## Reformat code with ruff
	$(BIN)/ruff format evaluation tests bench
	$(BIN)/ruff check --fix evaluation tests bench

clean: ## Remove generated reports, caches and build artefacts (keeps .venv)
	rm -rf reports/*/ reports/index.html build dist *.egg-info .pytest_cache .ruff_cache .cache

test-slow: ## Run the full test suite including slow Monte Carlo checks
	$(BIN)/python -m pytest -m ""
