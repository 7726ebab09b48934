# The two set-up commands are `make demo` and `make test`; both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo lab test lint typecheck unit sandbox bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Runs notebooks/quickstart.ipynb headless against the sandbox; the result lands in build/demo/.
demo: $(BIN)/.installed
	$(BIN)/python -m nbauth.sandbox.demo

# JupyterLab with the quickstart open, the sandbox beside it (binder/start), for clicking through.
lab: $(BIN)/.installed
	PYTHON=$(abspath $(BIN))/python binder/start \
	    $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/quickstart.ipynb

sandbox: $(BIN)/.installed
	$(BIN)/python -m nbauth.sandbox

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/python -m pytest

test: lint typecheck unit

# Each performance figure against its target, side by side in one run (about a minute).
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
