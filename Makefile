# The commands of the README's quick start: `make run`, `make demo` and
# `make test`. Each sets up what it needs first (a virtualenv in .venv; for
# tests also the npm test tools and Debian's Chromium for the browser tests),
# so each works on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint typecheck pytest bench browser clean

CHROMIUM := /usr/bin/chromium
# apt-get needs root; sudo when we are not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(BIN)/.installed
	$(BIN)/python -m bot

# The real bot against a local Slack and Stripe in the browser: no accounts.
demo: $(BIN)/.installed
	$(BIN)/python -m bot sandbox

# Debian's Chromium for the browser tests (Playwright drives it; it downloads
# no browser of its own). The emoji font makes Slack's emoji show.
browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium fonts-noto-color-emoji

test: $(BIN)/.installed node_modules/.installed browser lint typecheck pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

pytest: $(BIN)/.installed node_modules/.installed browser
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/webhook_ingest.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
