# Set-up and entry points. Each target creates the virtual environment it needs (.venv).
#   make run                 # install, then train the OCDN on the embedded Gaussian toy
#   make run ARGS="model=logreg -m seed=0..9"
#   make test                # install, then run the whole test suite (what CI runs)
#   make test-fast           # the inner loop: everything but the `system` tests (servers, stores,
#                            # launchers, subprocesses), in parallel (target: under 3 min on 2 cores)
#   make docs                # build the documentation site into site/ (mkdocs build --strict)
#
# torch is installed first (TORCH_SPEC), pinned, so nothing pulls another build. Which build a
# plain `pip install torch==2.13.0` gives depends on the index: PyPI serves CUDA builds for Linux
# (gigabytes); PyTorch's CPU index serves the CPU build:
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (our CI machines' package mirror serves the CPU build for this pin, so TORCH_INDEX stays empty there).
# On a GPU machine use: make run TORCH_SPEC=torch   (the normal CUDA build from PyPI).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?= -n auto --maxprocesses 4 --dist loadfile --durations=30
FAST_ARGS ?= -m "not system" -n auto --maxprocesses 4 --dist loadfile --durations=15

.PHONY: install install-dev run test test-fast bench docs clean

# .installed: the package and its dependencies (enough for `make run`); .installed-dev adds the
# test extras (pytest; PyOD, Optuna and psycopg2 for the PyOD adapter, sweeper and team-server tests).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,server]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(PY) run.py $(ARGS)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install-dev
	$(PY) -m pytest $(FAST_ARGS)

bench: install-dev
	$(PY) benchmarks/bench_training.py

# the docs extra (MkDocs, Material, mkdocstrings) is part of dev; --strict: a warning (broken link,
# an API page that does not build) fails the build
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) outputs multirun mlruns mlflow.db .pytest_cache site
