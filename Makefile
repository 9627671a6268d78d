# Two commands do all the set-up on a fresh machine:
#   make demo   - the main job (builds .venv first)
#   make test   - the test suite (builds .venv first)
#
# .venv gets the newest Pyserini the machine's Pythons allow: Pyserini 2.4 needs Python 3.12
# (taken from PATH, else from pyenv's versions); with Python 3.11 only, it is Pyserini 1.6.0.
# CI also runs the tests of what differs between Pyserini versions (marker `pyserini`) on the
# other supported Pyserini (.venv-pyserini1: Python 3.11, Pyserini 1.6.0): `make test-pyserini1`.
define first_python
$(firstword $(foreach p,$(1),$(shell "$(p)" -c 'import sys' >/dev/null 2>&1 && echo "$(p)")))
endef
PY312_CANDIDATES := python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12)
PY311_CANDIDATES := python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11)
PYTHON ?= $(or $(call first_python,$(PY312_CANDIDATES)),python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-py$(PYTHON_VERSION)
# the newest Pyserini of the supported range this Python allows
PYSERINI := $(if $(filter 3.12,$(PYTHON_VERSION)),pyserini==2.4.0,pyserini==1.6.0)

PYTHON1 ?= $(call first_python,$(PY311_CANDIDATES))
VENV1   := .venv-pyserini1
STAMP1  := $(VENV1)/.installed

.PHONY: venv venv-pyserini1 test test-fast test-pyserini1 lint demo default-encoder bench-scifact bench-pseudo-query \
	bench-efficiency bench-scale bench-server bench-indexes clean

venv: $(STAMP)
venv-pyserini1: $(STAMP1)

# torch first, pinned: on Python 3.11 that takes the CPU wheel on disk (any other spec pulls
# several GB of CUDA packages); on 3.12 the registry's 2.13.0 (a CUDA build: it runs on CPUs too).
# A .venv of another Python is rebuilt.
$(STAMP): setup.cfg setup.py pyproject.toml
	if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYTHON_VERSION)" ]; \
		then rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,lint]' '$(PYSERINI)'
	$(PY) -m pyserini_i3 install-hook
	$(PY) -c 'import importlib.metadata as m; print("pyserini", m.version("pyserini"), "on Python $(PYTHON_VERSION) in $(VENV)")'
	touch $(STAMP)

# The other end of the supported range, Pyserini 1.6.0 on Python 3.11 (CI: the end-to-end tests)
$(STAMP1): setup.cfg setup.py pyproject.toml
	test -n "$(PYTHON1)" || { echo "no python3.11 here for $(VENV1)"; exit 1; }
	test -x $(VENV1)/bin/python || $(PYTHON1) -m venv $(VENV1)
	$(VENV1)/bin/python -m pip install -q --upgrade pip
	$(VENV1)/bin/python -m pip install -q torch==2.13.0
	$(VENV1)/bin/python -m pip install -q -e '.[test]' 'pyserini==1.6.0'
	$(VENV1)/bin/python -m pyserini_i3 install-hook
	touch $(STAMP1)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

# the tests marked `pyserini` (the plugin layer, the training's BM25 calls) on Pyserini 1.6.0
test-pyserini1: $(STAMP1)
	$(VENV1)/bin/python -m pytest -q -m pyserini --durations=5

# everything not marked `slow`: no JVM, no Pyserini command (FAISS, trec_eval), no wheel, no launcher
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --durations=5

# ruff (pyproject.toml) and the import-linter contracts of the layers (setup.cfg)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The main job: SciFact test (or the BEIR download, or the bundled sample) indexed with
# --encoder i3 into FAISS and with Lucene; dense, BM25 and hybrid runs; one trec_eval table;
# TREC runs and an MS MARCO submission in runs/demo/latest/ (gitignored; runs/demo/ is the reference record).
demo: $(STAMP)
	$(PY) -m pyserini_i3 demo

# Rebuild the shipped default encoder from the shared data (about 15 min on 2 CPU cores):
# BM25 hard negatives for SciFact train + the 600 MS MARCO dev queries, the base model's
# (all-MiniLM-L6-v2, train's and teacher-scores' default) scores as distillation targets, LoRA adapters + I^3 heads, seed 1 (encoders/*/README.md).
DATA    ?= ../shared/data
ENC_OUT ?= .work/default-encoder
DEFAULT_ENCODER_ARGS = --variant full --tied-encoders true \
	--lora-rank 16 --seed 1 --max-steps 168 --batch-size 8 --group-size 4 --passage-max-length 128 \
	--query-max-length 64 --learning-rate 2e-4 --head-learning-rate 1e-3 --rec-weight 0.1 --kd-weight 1.0 \
	--save-steps 50 --resume true --validation-queries 0 --validation-significance 0
default-encoder: $(STAMP)
	mkdir -p $(ENC_OUT)
	$(PY) -m pyserini_i3 prepare --beir-dir $(DATA)/scifact --split train --output $(ENC_OUT)/scifact-train.jsonl --depth 100 --negatives 15
	$(PY) -m pyserini_i3 prepare --collection $(DATA)/msmarco-pools/dev600/collection.tsv --queries $(DATA)/msmarco-pools/dev600/queries.tsv --qrels $(DATA)/msmarco-pools/dev600/qrels.txt --output $(ENC_OUT)/dev600-train.jsonl --depth 100 --negatives 15
	cat $(ENC_OUT)/scifact-train.jsonl $(ENC_OUT)/dev600-train.jsonl > $(ENC_OUT)/train.jsonl
	$(PY) -m pyserini_i3 teacher-scores --train-file $(ENC_OUT)/train.jsonl --output $(ENC_OUT)/train.kd.jsonl
	$(PY) -m pyserini_i3 train --train-file $(ENC_OUT)/train.kd.jsonl --output-dir $(ENC_OUT)/model $(DEFAULT_ENCODER_ARGS)

# DE vs I^3 on SciFact (train split -> 300 test queries); writes runs/scifact/.
# Sizing (steps, batch, lengths, seeds) is recorded in runs/scifact/results.json.
BENCH_ARGS ?=
bench-scifact: $(STAMP)
	$(PY) benchmarks/scifact.py $(BENCH_ARGS)

# I^3 vs DE cost on SciFact, side by side in one run (encoding, FLOP/s vs peak, index
# size, query latency, int8 fast path); writes runs/efficiency/. Quick: BENCH_ARGS="--sample 400".
bench-efficiency: $(STAMP)
	$(PY) benchmarks/efficiency.py $(BENCH_ARGS)

# The released I^3 architecture (BERT-base, official layout, random weights: no download) against DE:
# passage encoding and training-step throughput on CPU (about 10 min on 2 cores), and on the GPU in bf16
# where there is one, with the time to encode MS MARCO's 8.8M passages; writes runs/scale/.
bench-scale: $(STAMP)
	$(PY) benchmarks/scale.py $(BENCH_ARGS)

# Every FAISS and Lucene dense index with I^3 and DE side by side (SciFact, the MS MARCO pools' union), then
# synthetic vectors up to 1M and the extrapolation to 8.8M; resumable cells; writes runs/indexes/ (hours on 2 cores).
bench-indexes: $(STAMP)
	$(PY) benchmarks/indexes.py $(BENCH_ARGS)

# Pyserini's REST server with I^3 (FAISS, Lucene HNSW int8) and BM25 aliases under 1, 4 and 16 requests at
# once, with the plugin's JVM lock and without; needs `make demo` first; writes runs/server-load/ (about 5 min).
bench-server: $(STAMP)
	$(PY) benchmarks/server_load.py $(BENCH_ARGS)

# What the pseudo-query says (term recall against the SciFact test claims) and BM25 expanded by it, with
# hybrid runs; reuses (or trains) the SciFact benchmark's models; writes runs/pseudo-query/.
bench-pseudo-query: $(STAMP)
	$(PY) benchmarks/pseudo_query.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV1) build *.egg-info
