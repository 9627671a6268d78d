# Two commands do all the set-up on a fresh machine:
#   make demo   - the main job (builds .venv first)
#   make test   - the test suite (builds .venv first)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast demo bench-scifact bench-efficiency clean

venv: $(STAMP)

# torch first, pinned: any other spec pulls several GB of CUDA packages.
$(STAMP): setup.cfg setup.py pyproject.toml
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

# The main job, for now a smoke run: BM25, I^3 (--encoder i3) and hybrid retrieval on a
# SciFact test subset through Pyserini's own commands, scored with trec_eval.
demo: $(STAMP)
	$(PY) -m pyserini_i3 pyserini-runs --collections scifact-subset --work .work/demo --out .work/demo-out

# DE vs I^3 on SciFact (train split -> 300 test queries); writes runs/scifact/.
# Sizing (steps, batch, lengths, seeds) is recorded in runs/scifact/results.json.
BENCH_ARGS ?=
bench-scifact: $(STAMP)
	$(PY) benchmarks/scifact.py $(BENCH_ARGS)

# I^3 vs DE cost on SciFact, side by side in one run (encoding, FLOP/s vs peak, index
# size, query latency, int8 fast path); writes runs/efficiency/. Quick: BENCH_ARGS="--sample 400".
bench-efficiency: $(STAMP)
	$(PY) benchmarks/efficiency.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
