# marketing-elt: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8765

.DEFAULT_GOAL := help
.PHONY: help install chromium demo test test-all soak lint format bench bench-quick bench-1m sandbox nightly backfill status clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv with the project and its dev tools (quick when already installed)

# The report test renders the HTML report in Debian's headless Chromium. Installed when missing and root
# (CI, a fresh machine); otherwise the test says how, skips locally and fails in CI. Never fails the target.
chromium: ## install Debian's Chromium for the report screenshot test (as root, when missing)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian) for the report test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the report test will say so" >&2; \
	  else echo "note: chromium is not installed (apt-get install chromium); the report test will skip" >&2; fi; }

demo: $(STAMP) ## start the sandbox, run the nightly into ./warehouse.duckdb, print what landed
	$(BIN)/marketing-elt demo

test: $(STAMP) chromium ## run the whole default test suite (what CI runs)
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing loudly" >&2; exit 1; fi; exit $$rc

test-all: $(STAMP) chromium ## the suite including slow tests
	$(BIN)/python -m pytest -q -m '' ; rc=$$?; [ $$rc -ne 5 ] || exit 1; exit $$rc

soak: $(STAMP) ## 30 simulated nights with faults on the hard sandbox, then a clean-run compare (slow; CI runs it)
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -m slow tests/reliability/test_soak.py; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no soak test: failing loudly" >&2; exit 1; fi; exit $$rc

lint: $(STAMP) ## ruff check, format check and the type checker (mypy strict on sources/ and pipelines/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## benchmarks against the sandbox (prints figures; not tests)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP) ## the benchmarks in quick mode
	$(BIN)/python -m benchmarks --quick

bench-1m: $(STAMP) ## Leads memory: first loads of 100,000 and 1,000,000 leads (too long for make bench)
	$(BIN)/python -m benchmarks --million

sandbox: $(STAMP) ## serve the vendor simulators on PORT (default 8765)
	$(BIN)/marketing-elt sandbox --port $(PORT)

nightly: $(STAMP) ## the nightly incremental load (configured vendors and destination)
	$(BIN)/marketing-elt run

backfill: $(STAMP) ## reload START=YYYY-MM-DD END=YYYY-MM-DD without moving the nightly cursors
	@test -n "$(START)" -a -n "$(END)" || { echo "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD" >&2; exit 2; }
	$(BIN)/marketing-elt backfill --start $(START) --end $(END)

status: $(STAMP) ## last load, cursors and rows per source
	$(BIN)/marketing-elt status

clean: ## remove the demo warehouse and demo state
	rm -rf .dlt_demo warehouse.duckdb warehouse.duckdb.wal
