# Set-up and everyday commands. Every target creates/uses .venv at the repo root and installs
# exact versions from constraints.txt.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_SERVE := $(VENV)/.stamp-serve
STAMP_ALL := $(VENV)/.stamp-all
PYTEST_ARGS ?=

.PHONY: serve test test-fast lint docs bench bench-quick loadtest container-test fetch train clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP_SERVE): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet -c constraints.txt -e ".[serve]"
	touch $@

$(STAMP_ALL): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet -c constraints.txt -e ".[serve,train,load,distributed,dev]"
	touch $@ $(STAMP_SERVE)

## serve: serve the shipped default model on http://127.0.0.1:3000 (serving deps only)
serve: $(STAMP_SERVE)
	$(VENV)/bin/sentiment serve

## test: the whole test suite (installs everything pinned, fetches the datasets)
test: $(STAMP_ALL)
	$(VENV)/bin/sentiment fetch
	$(PY) -m pytest $(PYTEST_ARGS)

## test-fast: skip slow tests
test-fast: $(STAMP_ALL)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## lint: ruff, the import-layer contracts (import-linter) and mypy --strict on core and service
lint: $(STAMP_ALL)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

## docs: build the MkDocs site with --strict, outside the repo (SITE_DIR, default /tmp/sentiment-site)
docs: $(STAMP_ALL)
	$(VENV)/bin/mkdocs build --strict --site-dir $(or $(SITE_DIR),/tmp/sentiment-site)

fetch: $(STAMP_ALL)
	$(VENV)/bin/sentiment fetch

## train: reproduce the shipped default bundle
train: $(STAMP_ALL)
	$(VENV)/bin/sentiment train --force

bench: $(STAMP_ALL)
	$(VENV)/bin/sentiment bench

bench-quick: $(STAMP_ALL)
	$(VENV)/bin/sentiment bench --quick

loadtest: $(STAMP_ALL)
	$(VENV)/bin/sentiment loadtest

container-test: $(STAMP_ALL)
	bash deploy/container_test.sh

clean-venv:
	rm -rf $(VENV)
