# Two commands on a fresh machine with only Python:
#   make app   - serve the steward notebooks on the bundled sample data (http://127.0.0.1:8866)
#   make test  - run the whole test suite
# Each makes .venv and installs what it needs on first use.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8866

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: install app test lint bench clean
install: $(BIN)/.installed

app: install
	@echo "Steward app: http://127.0.0.1:$(PORT)/  (Ctrl+C to stop)"
	$(BIN)/voila notebooks/steward.ipynb --no-browser --Voila.ip=127.0.0.1 --port=$(PORT)

test: install
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
