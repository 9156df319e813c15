# Signoff: `make demo` installs and starts the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# E-mail links follow the port (`make demo PORT=8201` as well as `PORT=8201 make demo`).
export PORT

.PHONY: demo test lint install migrate clean

# The demo needs the application only; the tests add their tools (the `test` extra).
# Packages come from PyPI through uv (installed beside the virtualenv by the system's pip):
# seconds from its cache where pip takes most of a minute.
UV := $(VENV)/tools/bin/uv
UV_INSTALL := $(UV) pip install --quiet --python $(BIN)/python

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target $(VENV)/tools 'uv>=0.9,<1'

$(BIN)/.installed: pyproject.toml | $(UV)
	$(UV_INSTALL) -e .
	touch $@

# The suite starts many Python processes (workers, beat, the CLI): their modules are compiled
# once here, as pip would have, rather than at every start where PYTHONDONTWRITEBYTECODE is set.
$(BIN)/.installed-test: $(BIN)/.installed client/pyproject.toml
	$(UV_INSTALL) -e '.[test]' -e ./client
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $@

install: $(BIN)/.installed

# Test-only JavaScript (axe-core for the accessibility checks of the browser tests).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

migrate: install
	@$(BIN)/python manage.py migrate --noinput -v 0

demo: migrate
	@if [ -n "$$SIGNOFF_DEMO_MLFLOW" ] && [ "$$SIGNOFF_DEMO_MLFLOW" != 0 ]; then $(UV_INSTALL) -e '.[mlflow]'; fi
	SIGNOFF_DEMO=1 $(BIN)/python manage.py rundemo --seed --port $(PORT)

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache node_modules
