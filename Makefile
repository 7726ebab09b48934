# The two set-up commands are `make demo` and `make test`; both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo lab dist test lint typecheck unit integration sandbox bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Runs notebooks/quickstart.ipynb headless against the sandbox; the result lands in build/demo/.
demo: $(BIN)/.installed
	$(BIN)/python -m nbauth.sandbox.demo

# JupyterLab with the quickstart open, the sandbox beside it (binder/start, which prints the
# demo accounts), for clicking through. It opens fresh copies of the notebooks in $(LAB_DIR), so
# what runs there (outputs, checkpoints) never reaches the tracked notebooks/; a next `make lab`
# copies them again over the old copies.
LAB_DIR ?= build/lab
JUPYTER ?= $(BIN)/jupyter
lab: $(BIN)/.installed
	mkdir -p $(LAB_DIR)
	cp notebooks/*.ipynb $(LAB_DIR)/
	@echo "make lab: fresh copies of notebooks/ in $(LAB_DIR)/ (the tracked ones stay clean)"
	PYTHON=$(abspath $(BIN))/python binder/start \
	    $(JUPYTER) lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_DIR)/quickstart.ipynb

# The wheel and the sdist in dist/, for `pip install 'dist/nbauth-<version>-py3-none-any.whl[lab]'`
# in the Jupyter of your choice.
DIST ?= dist
dist: $(BIN)/.installed
	rm -rf $(DIST)
	$(BIN)/python -m build --outdir $(DIST) .

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
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
