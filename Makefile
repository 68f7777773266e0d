# paperlib: `make test` and `make reproduce` create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the reproducibility setting (paperlib.bits): pinned float kernels, the same bits on any x86-64 CPU with AVX2;
# `make reproduce BITS=native` computes with this CPU's own kernels (faster, numbers this machine's own)
BITS ?= $(or $(PAPERLIB_BITS),pinned)
export PAPERLIB_BITS := $(BITS)

.PHONY: install test test-fast lint reproduce clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check paperlib tests notebooks benchmarks
	$(PY) -m pytest -q

# the unit tests alone (no training of whole sessions, no browser, no notebooks): under 2 minutes
test-fast: $(STAMP)
	$(PY) -m ruff check paperlib tests notebooks benchmarks
	$(PY) -m pytest -q -m "not slow and not browser and not notebooks"

reproduce: $(STAMP)
	$(PY) -m paperlib.pipeline --profile $(or $(PROFILE),demo)

lint: $(STAMP)
	$(PY) -m ruff check paperlib tests notebooks benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
