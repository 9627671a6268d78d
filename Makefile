# Two commands do all the set-up on a fresh machine:
#   make demo   - the main job (builds .venv first)
#   make test   - the test suite (builds .venv first)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast demo clean

venv: $(STAMP)

# torch first, pinned: any other spec pulls several GB of CUDA packages.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	$(PY) -m pyserini_i3 install-hook
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

demo: $(STAMP)
	$(PY) -m pyserini_i3 --help

clean:
	rm -rf $(VENV) build *.egg-info
