# The commands of the README: `make demo`, `make test` and `make test-fast`. Each installs what it needs first.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install demo test test-fast lint chromium translations messages

$(BIN)/parentalites: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/parentalites translations

# Compiled catalogues (.mo) are build products: made from the .po files at every install.
translations: $(BIN)/parentalites
	@if [ -d translations ]; then $(BIN)/pybabel -q compile --use-fuzzy -d translations; fi

# `make demo PORT=9000` serves the site on another port (default 8000).
demo: install
	$(BIN)/parentalites demo $(if $(PORT),--port $(PORT))

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium missing: sudo apt-get install chromium" >&2; exit 1; fi; }

# The three tiers in one run (one database, one SMTP server, one worker), the quickest first:
# tests/unit (no server), tests/integration (PostgreSQL, Redis, Celery workers, aiosmtpd),
# tests/browser (Chromium). This is what .ci/run calls.
test: install chromium
	$(BIN)/pytest tests/unit tests/integration tests/browser

# The unit tier alone: no PostgreSQL, Redis, worker, browser nor SMTP server needed.
test-fast: install
	$(BIN)/pytest tests/unit

# The layers (.importlinter), ruff and mypy (pyproject.toml): each must report nothing.
lint: $(BIN)/parentalites
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy

# After changing user-visible strings: refresh the catalogues, then translate the new English entries.
messages: $(BIN)/parentalites
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching
