# Signoff: `make demo` installs and starts the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# E-mail links follow the port (`make demo PORT=8201` as well as `PORT=8201 make demo`).
export PORT

.PHONY: demo test lint install migrate clean

# The demo needs the application only; the tests add their tools (the `test` extra).
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed client/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]' -e ./client
	touch $@

install: $(BIN)/.installed

# Test-only JavaScript (axe-core for the accessibility checks of the browser tests).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

migrate: install
	@$(BIN)/python manage.py migrate --noinput -v 0

demo: migrate
	@if [ -n "$$SIGNOFF_DEMO_MLFLOW" ] && [ "$$SIGNOFF_DEMO_MLFLOW" != 0 ]; then $(BIN)/python -m pip install --quiet -e '.[mlflow]'; fi
	SIGNOFF_DEMO=1 $(BIN)/python manage.py seed_demo
	SIGNOFF_DEMO=1 $(BIN)/python manage.py rundemo --port $(PORT)

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache node_modules
