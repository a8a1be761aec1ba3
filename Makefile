# The two commands of the README. Each sets up everything it needs, once:
# system packages (only the missing ones), a virtualenv, the pinned Python packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?= -n auto
# Extra options for `briefs build`, e.g. make briefs BRIEFS_ARGS="--jobs 2 --force"
BRIEFS_ARGS ?=

.PHONY: briefs test test-fast lint golden golden-citations setup test-setup system-deps schema clean readme-images

briefs: setup
	$(BIN)/briefs build $(BRIEFS_ARGS)

# Lint and types first (seconds), then the whole suite.
test: test-setup
	@$(MAKE) --no-print-directory $(NODE_STAMP)
	@$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: no PDF rendering, no browser.
test-fast: test-setup lint
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not slow and not browser"

lint: test-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Regenerate tests/golden/ after an intended change to the HTML output; review the diff.
golden: setup
	$(BIN)/python tests/support/golden.py

# The browser test's Node packages (axe-core, puppeteer-core), exactly as locked.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The fixture project's notes and bibliographies as pandoc's citeproc writes them
# (tests/golden/citations/), after a deliberate change of style, locale or pandoc.
golden-citations: setup
	$(BIN)/python tests/support/reference_citations.py

# The first page of each audience's brief as a picture for the README.
readme-images: briefs
	@.ci/system-deps docs
	@mkdir -p docs/img
	@$(BIN)/python -c 'import json; briefs = json.load(open("output/manifest.json"))["briefs"]; \
		print(*sorted(s for s, b in briefs.items() if not b["custom"] and "pdf" in b["files"]))' | \
		tr ' ' '\n' | while read -r slug; do \
			pdftoppm -r 60 -f 1 -l 1 -singlefile -png "output/$$slug.pdf" "docs/img/$$slug-page1" && \
			echo "docs/img/$$slug-page1.png"; \
		done

setup: system-deps $(STAMP)

system-deps:
	@.ci/system-deps build

# Building needs only the runtime packages; the test extras (pytest, pikepdf, ruff, ...)
# come with `make test`. Each reinstalls only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable .
	@touch $@

test-setup: setup
	@.ci/system-deps test
	@$(MAKE) --no-print-directory $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint constraints.txt --editable '.[test]'
	@touch $@

schema: setup
	$(BIN)/briefs schema

clean:
	rm -rf output $(VENV)
