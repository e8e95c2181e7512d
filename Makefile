# Two commands on a fresh machine with only Python:
#   make app   - serve the steward app on the bundled sample data (http://127.0.0.1:8866)
#   make test  - run the whole test suite (ruff, mypy, pytest)
# Each makes .venv and installs what it needs on first use: `make app` the app extra, `make test` the
# test extra (which holds every other extra).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8866
# pytest workers: one per core (at most 4); each takes whole test files, so module fixtures are built once
JOBS ?= auto
WORKSPACE ?= workspace/steward.duckdb

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# one stamp per extra installed (editable), redone when pyproject.toml changes
$(BIN)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[$*]'
	touch $@

.PHONY: install app test lint typecheck bench clean
install: $(BIN)/.installed-test

app: $(BIN)/.installed-app
	@mkdir -p $(dir $(WORKSPACE))
	$(BIN)/contactsync app -w $(WORKSPACE) --demo --port $(PORT)

test: install lint typecheck
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q --durations=25 -n $(JOBS) --maxprocesses=4 --dist loadfile

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

bench: $(BIN)/.installed-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache build *.egg-info
