# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The caniemail linter the tests run (tools/email_lint.py): npm packages, locked.
LINT   := tools/email_lint
LINT_STAMP := $(LINT)/node_modules/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(LINT_STAMP): $(LINT)/package.json $(LINT)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: the email linter ($(LINT)) needs Node.js 18+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(LINT) --no-audit --no-fund --silent
	touch $@

demo: $(STAMP)
	$(PY) -m demo

test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) $(LINT_STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) -m bench.checks_bench

clean:
	rm -rf $(VENV) var outbox .pytest_cache .mypy_cache .ruff_cache $(LINT)/node_modules
