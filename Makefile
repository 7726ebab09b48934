# The two set-up commands are `make demo` and `make test`; both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo lab test lint typecheck unit integration sandbox bench clean

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

# The tests that need no server: the flow tables (each service's protocol, row by row as
# docs/assumptions.md tells it), the layers and the exports. Seconds: none of them uses
# hypothesis, whose pytest plugin alone takes a second or two to load.
unit: $(BIN)/.installed
	$(BIN)/python -m pytest -p no:hypothesispytest tests/unit

# Every other test (marked `integration` by tests/conftest.py): against the sandbox, real
# kernels and browsers, and the fuzzer. Minutes.
integration: $(BIN)/.installed
	$(BIN)/python -m pytest -m integration

test: lint typecheck unit integration

# Each performance figure against its target, side by side in one run (about a minute).
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
