# The two commands of the README. Each sets up everything it needs, once:
# system packages (only the missing ones), a virtualenv, the pinned Python packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n auto
# Extra options for `briefs build`, e.g. make briefs BRIEFS_ARGS="--jobs 2 --force"
BRIEFS_ARGS ?=

.PHONY: briefs test setup system-deps schema clean

briefs: setup
	$(BIN)/briefs build $(BRIEFS_ARGS)

test: setup
	@.ci/system-deps test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: system-deps $(STAMP)

system-deps:
	@.ci/system-deps build

# Reinstalls only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable '.[test]'
	@touch $@

schema: setup
	$(BIN)/briefs schema

clean:
	rm -rf output $(VENV)
