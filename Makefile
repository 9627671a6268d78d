# Two commands do all the set-up on a fresh machine:
#   make demo   - the main job (builds .venv first)
#   make test   - the test suite (builds .venv first)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast lint demo default-encoder bench-scifact bench-efficiency bench-scale clean

venv: $(STAMP)

# torch first, pinned: any other spec pulls several GB of CUDA packages.
$(STAMP): setup.cfg setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,lint]'
	$(PY) -m pyserini_i3 install-hook
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

# the unit tests only (tests/unit): no JVM, no FAISS index build, no trec_eval
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
	--save-steps 50 --resume true
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

clean:
	rm -rf $(VENV) build *.egg-info
