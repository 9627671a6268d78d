"""Efficiency benchmark: what I^3 costs next to a dual encoder (DE) on the same backbone.

One run, everything side by side, so that ratios mean something on a shared, noisy
machine.  SciFact (5,183 passages, the 300 test queries) and one backbone,
all-MiniLM-L6-v2 (offline copy):

* I^3 = ``I3Model.from_backbone()``: the paper's "full" variant, untrained (heads
  initialised with seed 0); DE = ``I3Model.from_backbone(variant="de")``: the same
  backbone weights (checked tensor by tensor), no reconstructor, no interactor.
  Costs do not depend on training; effectiveness does, so the int8 fast path's
  nDCG@10 is measured on the DE (the zero-shot MiniLM dual encoder), whose scores
  mean something, while ``--encoder i3`` still resolves to an untrained model.
* Passage encoding: the corpus is sorted by token length once and cut into chunks;
  every chunk is encoded by every configuration in turn (the order rotates from
  chunk to chunk), timing ``I3Model.encode_passages`` (tokenisation included, batch
  32, 256 tokens; a chunk is one batch): DE float32, I^3 float32 with the ``exact``
  fast path, DE int8 on every chunk; I^3 int8 on every 2nd and I^3 float32 on the
  reference path (``off``) on every 4th, compared with the others on those same
  chunks.  Forward hooks time the parts (encoder, reconstructor, interactor).  A
  4096^2 float32 matmul every 8 chunks samples the machine's peak under the same load.
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` on one passage per padded
  length that occurs (a forward is linear in the batch size), times the batches.
  Torch's table has no entry for the CPU flash-attention kernel, so that op is given
  the library's own SDPA formula.  The reference path's fused interactor layer is
  counted through its unfused (autograd) equivalent, same matrix products.
* Indexes: Pyserini FAISS flat indexes (``index`` + ``docid``) from those vectors;
  a token-level index (one float32 vector per non-padding passage token, the
  backbone's 384 dimensions, L2-normalised as ColBERT does; ColBERT's 128-d
  projection would be a third of it) captured from the same I^3 pass.
* Query latency, in process: per query, ``I3QueryEncoder.encode`` and
  ``FaissSearcher(index, I3QueryEncoder(dir)).search(q, k=1000)``, all systems in
  turn per query after a warm-up; the token-level index with exact MaxSim (matrix
  product, per-passage max, sum, top 1000) on a sample of queries.  Then
  ``python -m pyserini.search.faiss`` once per system for wall time with start-up;
  the int8 run goes through ``$PYSERINI_I3_FAST_PATH=int8``, the command-line route.
* nDCG@10 (pytrec_eval) of those command-line runs: DE float32 against DE int8.

Writes runs/efficiency/results.json and results.md (with machine details and load
averages).  ``--sample N`` encodes the first N passages only (a quick check, reported in
the work folder; its nDCG is not SciFact's).  Usage: ``make bench-efficiency`` or
``python benchmarks/efficiency.py --help``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pyserini_i3.eval.commands import display_path
from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
from pyserini_i3.utils import trec

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
BATCH = 32
# name, model, fast path, encodes every n-th chunk (the others' ratios use the chunks both encoded)
CONFIGS = [("DE fp32", "de", "off", 1), ("I3 fp32 exact", "i3", "exact", 1), ("DE int8", "de", "int8", 1),
           ("I3 int8", "i3", "int8", 2), ("I3 fp32 off", "i3", "off", 4)]

TARGETS = {
    "encode_ratio_i3_de": "<= 1.15",
    "query_latency_ratio_i3_de": "1.00 +/- 0.05",
    "index_bytes_i3_equals_de": "equal",
    "token_index_vs_de": ">= 30x",
    "fp32_fraction_of_peak": ">= 0.70",
    "fast_path_speedup": ">= 1.8x",
    "fast_path_ndcg_delta": "<= 0.005",
}


# --------------------------------------------------------------------------- machine
def cpu_details() -> dict:
    info: dict = {"model": platform.processor() or platform.machine(), "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name") and info["model"] in ("", platform.machine(), platform.processor()):
                info["model"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                info["flags"] = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))
                break
    except OSError:
        pass
    try:
        meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
        info["memory_gib"] = round(int(meminfo[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    info["logical_cpus"] = os.cpu_count()
    info["usable_cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return info


def software() -> dict:
    from importlib.metadata import version

    import faiss
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "pyserini": version("pyserini"), "faiss": faiss.__version__,
            "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "quantized_engine": torch.backends.quantized.engine, "faiss_omp_threads": faiss.omp_get_max_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_record(script: str, argv, started: float, load_start: list[float]) -> dict:
    """Where a benchmark run came from: its command, date, minutes, Pyserini, machine and load (the
    fields :func:`provenance` reads; used by benchmarks/indexes.py and server_load.py)."""
    import shlex

    from pyserini_i3.plugin.compat import pyserini_version

    return {"command": shlex.join(["python", f"benchmarks/{script}", *(argv if argv is not None else sys.argv[1:])]),
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
            "minutes": round((time.time() - started) / 60, 1), "pyserini": pyserini_version(),
            "machine": {**cpu_details(), "cpus": os.cpu_count()}, "load_start": load_start, "load_end": load_average()}


def provenance(results: dict) -> str:
    """The report's first line from a :func:`run_record`."""
    return (f"Produced by `{results['command']}` on {results['date']} in {results['minutes']} min (Pyserini "
            f"{results['pyserini']}). Machine: {results['machine']['model']}, {results['machine']['cpus']} CPUs; "
            f"load average at start {results['load_start']}, at end {results['load_end']}: times are this "
            "machine's under that load (other jobs may share the cores); compare them within a table.")


def matmul_flops(n: int = 4096, repeats: int = 1) -> float:
    """FLOP/s of an n x n float32 matmul (best of ``repeats``)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


# --------------------------------------------------------------------------- data
def load_scifact(shared: Path, sample: int | None):
    docs = [json.loads(line) for line in (shared / "scifact" / "corpus.jsonl").read_text().splitlines()]
    if sample:
        docs = docs[:sample]
    queries = {}
    for line in (shared / "scifact" / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (shared / "scifact" / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, r = line.split()
        qrels.setdefault(q, {})[d] = int(r)
    qids = sorted(qrels, key=int)
    return docs, [(q, queries[q]) for q in qids], qrels


def ndcg10(qrels: dict, run: dict) -> float:
    """Mean nDCG@10 over the judged queries (``trec_eval -c``: a query the run misses scores 0)."""
    return trec.mean(trec.evaluate(qrels, run, ["ndcg_cut_10"])["ndcg_cut_10"])


# --------------------------------------------------------------------------- models
def build_models(work: Path) -> dict[str, Path]:
    """I^3 (full, untrained, seed 0) and DE on the same MiniLM weights, plus int8 twins of both."""
    import torch

    from pyserini_i3.modeling.model import I3Model

    dirs = {name: work / "models" / name for name in ("i3", "de", "i3-int8", "de-int8")}
    if all((d / "model.safetensors").is_file() for d in dirs.values()):
        return dirs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        i3 = I3Model.from_backbone(DEFAULT_BACKBONE)
    de = I3Model.from_backbone(DEFAULT_BACKBONE, variant="de")
    for side in ("passage_encoder", "query_encoder"):
        mine, theirs = getattr(i3, side).state_dict(), getattr(de, side).state_dict()
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine), side
    for name, model in (("i3", i3), ("de", de)):
        model.save_pretrained(dirs[name])
        shutil.copytree(dirs[name], dirs[f"{name}-int8"], dirs_exist_ok=True)  # only config.json's route differs
        config = dirs[f"{name}-int8"] / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "fast_path": "int8"}, indent=2) + "\n")
    return dirs


def register_cpu_attention_flops() -> None:
    """Give the CPU flash-attention kernel torch's own SDPA FLOP formula (its table lacks the CPU op)."""
    import torch
    from torch.utils import flop_counter

    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    if op.default not in flop_counter.flop_registry and op not in flop_counter.flop_registry:
        flop_counter.register_flop_formula(op, get_raw=True)(flop_counter.sdpa_flop)  # already shape-wrapped


def flops_per_passage(model, mode: str, length: int) -> int:
    """FLOPs of one passage of ``length`` tokens (FlopCounterMode, a real forward)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tok = model.tokenizer
    ids = torch.full((1, length), tok.convert_tokens_to_ids("the"), dtype=torch.long)
    ids[0, 0], ids[0, -1] = tok.cls_token_id, tok.sep_token_id
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "token_type_ids" in tok.model_input_names:
        inputs["token_type_ids"] = torch.zeros_like(ids)
    with FlopCounterMode(display=False) as counter:
        if mode == "off":  # grad on: torch's fused encoder layer falls back to countable ops
            with torch.enable_grad():
                model.passage_vectors(inputs)
        else:
            with torch.inference_mode():
                model.passage_vectors(inputs, fast_path=mode)
    return counter.get_total_flops()


class PartTimer:
    """Wall time in the encoder, reconstructor and interactor of whichever path runs."""

    def __init__(self):
        self.bucket: dict[str, float] | None = None
        self._start: dict[str, float] = {}
        self._handles = []

    def _pre(self, part):
        def hook(*_args, **_kwargs):
            self._start[part] = time.perf_counter()
        return hook

    def _post(self, part):
        def hook(*_args, **_kwargs):
            if self.bucket is not None:
                self.bucket[part] = self.bucket.get(part, 0.0) + time.perf_counter() - self._start[part]
        return hook

    def module(self, module, part):
        self._handles.append(module.register_forward_pre_hook(self._pre(part)))
        self._handles.append(module.register_forward_hook(self._post(part)))

    @contextmanager
    def into(self, bucket: dict):
        self.bucket = bucket
        try:
            yield
        finally:
            self.bucket = None


class TokenCapture:
    """Non-padding token states of the passage encoder, in docid order, as one float32 array."""

    def __init__(self, lengths: list[int], dim: int):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.vectors = np.empty((int(self.offsets[-1]), dim), dtype=np.float32)
        self.active = False
        self.pending: list[int] = []  # docids of the rows the next forward encodes, in order
        self.seconds: dict[int, float] = {}  # copying time per chunk (taken out of the timing)
        self.chunk = -1

    def expect(self, docs: list[int], chunk: int) -> None:
        """The encode_passages call's order: length-sorted as I3Model._encode sorts (stable)."""
        self.pending = sorted(docs, key=lambda i: -self.lengths[i])
        self.chunk = chunk

    def hook(self, _module, _args, kwargs, output):
        if not self.active:
            return
        start = time.perf_counter()
        mask = kwargs["attention_mask"]
        hidden = output.last_hidden_state
        for row in range(hidden.size(0)):
            doc = self.pending.pop(0)
            n = int(mask[row].sum())
            assert n == self.lengths[doc], "token capture out of step with the encoder's batches"
            self.vectors[self.offsets[doc]:self.offsets[doc + 1]] = hidden[row, :n].float().numpy()
        self.seconds[self.chunk] = self.seconds.get(self.chunk, 0.0) + time.perf_counter() - start


def write_faiss(vectors: np.ndarray, docids: list[str], out: Path) -> Path:
    import faiss

    out.mkdir(parents=True, exist_ok=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(out / "index"))
    (out / "docid").write_text("".join(d + "\n" for d in docids))
    return out


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def latency_summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"median_ms": statistics.median(ms), "p95_ms": percentile(ms, 95), "mean_ms": statistics.fmean(ms),
            "n": len(ms)}


# --------------------------------------------------------------------------- stages
def encode_everything(models: dict, docs: list[dict], args, capture: TokenCapture, timer: PartTimer, log):
    """Every configuration on every (or every 2nd, 4th) length-sorted chunk, rotating the order."""
    texts, titles = [d["text"] for d in docs], [d["title"] for d in docs]
    lengths = capture.lengths
    order = sorted(range(len(docs)), key=lambda i: -lengths[i])
    chunks = [order[i:i + args.chunk] for i in range(0, len(order), args.chunk)]
    configs = [(name, key, mode, every) for name, key, mode, every in CONFIGS]
    dim = models["de"].dim
    vectors = {c[0]: np.full((len(docs), dim), np.nan, dtype=np.float32) for c in configs}
    seconds = {c[0]: {} for c in configs}
    parts = {c[0]: {} for c in configs}
    batches: dict[str, dict[int, list[tuple[int, int]]]] = {c[0]: {} for c in configs}  # chunk: (size, length)
    peaks = []
    for c, chunk in enumerate(chunks):
        active = [cfg for cfg in configs if c % cfg[3] == 0]
        shift = c % len(active)
        for name, key, mode, _ in active[shift:] + active[:shift]:
            model = models[key]
            capture.active = name == "I3 fp32 exact"
            if capture.active:
                capture.expect(chunk, c)
            with timer.into(parts[name]):
                start = time.perf_counter()
                out = model.encode_passages([texts[i] for i in chunk], titles=[titles[i] for i in chunk],
                                            batch_size=BATCH, max_length=args.max_length, fast_path=mode)
                copying = capture.seconds.get(c, 0.0) if capture.active else 0.0
                seconds[name][c] = time.perf_counter() - start - copying
            capture.active = False
            vectors[name][chunk] = out
            sorted_lengths = sorted((lengths[i] for i in chunk), reverse=True)
            batches[name][c] = [(len(sorted_lengths[b:b + BATCH]), sorted_lengths[b])
                                for b in range(0, len(chunk), BATCH)]
        if c % args.peak_every == args.peak_every - 1:
            peaks.append((c, matmul_flops(4096)))
        if c % 10 == 0 or c == len(chunks) - 1:
            done = ", ".join(f"{n} {seconds[n][c]:.1f}s" for n in seconds if c in seconds[n])
            log(f"chunk {c + 1}/{len(chunks)}: {done}; load {load_average()[0]}")
    return vectors, seconds, parts, batches, peaks, chunks


def padding_waste(lengths: np.ndarray, batch: int, global_sort: bool) -> float:
    """Padded tokens / real tokens: global length sort (encode_passages on the corpus) or
    Pyserini's corpus-order batches, each sorted inside (I3DocumentEncoder)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if global_sort else list(range(len(lengths)))
    padded = 0
    for b in range(0, len(order), batch):
        chunk = [lengths[i] for i in order[b:b + batch]]
        padded += max(chunk) * len(chunk)
    return padded / lengths.sum() - 1


def maxsim_latency(model, capture: TokenCapture, queries: list[str], k: int = 1000) -> list[float]:
    """Exact MaxSim: per query, token states of the query encoder, one product against every
    passage token, the max per passage, the sum over query tokens, the top k."""
    import torch

    tokens = torch.from_numpy(capture.vectors)
    lengths = torch.from_numpy(capture.lengths)
    times = []
    with torch.inference_mode():
        for i, text in enumerate([queries[0]] + queries):  # the first one warms up
            start = time.perf_counter()
            inputs = model.tokenize([text], model.config.query_max_length)
            q = torch.nn.functional.normalize(model.query_model()(**inputs).last_hidden_state[0], dim=-1)
            sim = tokens @ q.T  # [all passage tokens, query tokens]
            best = torch.segment_reduce(sim, "max", lengths=lengths, axis=0)  # [passages, query tokens]
            scores = best.sum(1)
            torch.topk(scores, min(k, scores.numel()))
            elapsed = time.perf_counter() - start
            if i:
                times.append(elapsed)
    return times


def search_latency(systems: dict, queries: list[tuple[str, str]], warmup: int, k: int = 1000):
    """Per query, every system in turn (order rotating): encode latency and end-to-end search latency."""
    encode_s = {n: [] for n in systems}
    search_s = {n: [] for n in systems}
    runs: dict[str, dict] = {n: {} for n in systems}
    names = list(systems)
    for _, text in queries[:warmup]:
        for name in names:
            systems[name].search(text, k=k)
    for i, (qid, text) in enumerate(queries):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            searcher = systems[name]
            start = time.perf_counter()
            searcher.query_encoder.encode(text)
            encode_s[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            hits = searcher.search(text, k=k)
            search_s[name].append(time.perf_counter() - start)
            runs[name][qid] = {h.docid: float(h.score) for h in hits}
    return encode_s, search_s, runs


def cli_search(index: Path, encoder: Path, topics: Path, out: Path, env: dict, log_file: Path) -> float:
    cmd = [PY, "-m", "pyserini.search.faiss", "--index", str(index), "--topics", str(topics),
           "--encoder", str(encoder), "--output", str(out), "--hits", "1000"]
    start = time.time()
    with open(log_file, "a") as f:
        f.write("$ " + " ".join(f"{k}={v}" for k, v in env.items()) + (" " if env else "") + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **env})
    if proc.returncode:
        raise SystemExit(f"bench-efficiency: pyserini.search.faiss failed (exit {proc.returncode}), see {log_file}")
    return time.time() - start


# --------------------------------------------------------------------------- report
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report_head(r: dict) -> list[str]:
    """results.md: title, machine, corpus and models, the targets table."""
    m = r["machine"]
    lines = [
        "# Efficiency: I^3 against a dual encoder on one backbone",
        "",
        f"Produced by `{r['command']}` on {r['date']} in {r['wall_minutes']:.1f} min, every figure from this one run.",
        f"Machine: {m['cpu']['model']}, {m['cpu']['usable_cpus']} usable CPUs, {m['cpu'].get('memory_gib', '?')} GiB; "
        f"torch {m['software']['torch']} ({m['software']['torch_threads']} threads, "
        f"{m['software']['torch_cpu_capability']}), transformers {m['software']['transformers']}, "
        f"pyserini {m['software']['pyserini']}, faiss {m['software']['faiss']}. "
        f"Load average (1/5/15 min) at start {m['load_start']}, at end {m['load_end']}: other jobs shared the cores, "
        "so absolute times are noisy; ratios come from the same chunks or queries, measured in turn.",
        "",
        f"Corpus: {r['corpus']['passages']} SciFact passages (title [SEP] text, {r['corpus']['max_length']} "
        f"tokens max, {r['corpus']['tokens']} tokens, {r['corpus']['mean_tokens']:.1f} per passage), "
        f"{r['corpus']['queries']} test queries. "
        f"Models: {r['models']['note']}",
        "",
        "## Targets",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
    ]
    for row in r["targets"]:
        lines.append(f"| {row['what']} | {row['wanted']} | {row['measured']} | {row['verdict']} |")
    return lines


def report_encoding(r: dict) -> list[str]:
    """results.md: passage encoding (throughput, parts, paired ratios, int8 cosines, padding)."""
    e, fp = r["encoding"], r["fast_path"]
    lines = ["", "## Passage encoding", "",
              f"Chunks of {r['encoding']['chunk']} passages of the length-sorted corpus, batch {BATCH}; "
              "each configuration encodes each chunk in turn. Parts: forward hooks; other = tokenisation, padding, "
              "pooling, copies. The I^3 `exact` pass also copied the token states out for the token-level index; "
              f"that copying ({e['token_capture_s']:.1f} s) is taken out of its time. DE fp32, I^3 `exact` and "
              "DE int8 encode every chunk, I^3 int8 every 2nd, I^3 `off` every 4th. The benchmark opts into the "
              "allocator setting (`pyserini_i3.utils.memory.keep_freed_memory`, process-wide) before the warm-up: "
              "it serves every configuration of this run, `off` included, and the command lines "
              "(`$PYSERINI_I3_KEEP_FREED_MEMORY=1`).", "",
              "| configuration | chunks | passages | seconds | passages/s | encoder | reconstructor | interactor "
              "| other |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, row in e["configs"].items():
        p = row["parts_s"]
        other = row["seconds"] - sum(p.values())
        lines.append(f"| {name} | {row['chunks']} | {row['passages']} | {row['seconds']:.1f} | "
                     f"{row['passages_per_s']:.1f} | {p.get('encoder', 0):.1f} | {p.get('reconstructor', 0):.1f} | "
                     f"{p.get('interactor', 0):.1f} | {other:.1f} |")
    lines += ["", "Time ratios over the chunks both configurations encoded (ratio of the sums; median of the "
              "per-chunk ratios, which a burst from another job cannot move much):", "",
              "| ratio | sums | median of chunks | chunks |", "|---|---|---|---|"]
    for k, v in e["ratios"].items():
        lines.append(f"| {k} | {v['ratio']:.3f} | {v['median_chunk_ratio']:.3f} | {v['chunks']} |")
    lines += ["", f"I^3 `exact` against `off` vectors (the chunks both encoded): max |difference| "
              f"{e['exact_vs_off_max_abs']:.2e}; int8 against float32, cosine: DE min {fp['cosine_de']['min']:.4f} "
              f"mean {fp['cosine_de']['mean']:.5f}, I^3 min {fp['cosine_i3']['min']:.4f} "
              f"mean {fp['cosine_i3']['mean']:.5f}.",
              f"Padding: {e['padding_waste_global_sort'] * 100:.2f}% extra tokens with the corpus length-sorted "
              f"(as here); {e['padding_waste_pyserini_order'] * 100:.2f}% when Pyserini hands over batches of {BATCH} "
              "in corpus order (`python -m pyserini.encode`), each sorted inside.", ""]
    return lines


def report_flops_and_index(r: dict) -> list[str]:
    """results.md: FLOPs against the sampled peak, index sizes."""
    f, s = r["flops"], r["index_size"]
    lines = ["## FLOPs", "",
              "FLOPs: `torch.utils.flop_counter.FlopCounterMode` over one passage of each padded length that occurs, "
              "times the batches (padding included: what ran). Peak: a float32 4096^2 matmul with the same threads, "
              f"sampled every {f['peak_every']} chunks ({f['peak_samples']} samples, median "
              f"{f['peak_median'] / 1e9:.1f} GFLOP/s, best {f['peak_best'] / 1e9:.1f}; at start "
              f"{f['peak_start'] / 1e9:.1f}, at end {f['peak_end'] / 1e9:.1f}). Other jobs move both, so the "
              "paired fraction divides each window's encoding FLOP/s by the peak sampled right after it and takes "
              "the median over windows; fractions of the median and of the best sample are shown beside it.", "",
              "| configuration | GFLOP (executed) | GFLOP/passage | GFLOP/s (whole encode) | GFLOP/s (model forward) "
              "| of peak, paired | of median peak | of best peak |",
              "|---|---|---|---|---|---|---|---|"]
    for name, row in f["configs"].items():
        lines.append(f"| {name} | {row['flops'] / 1e9:.0f} | {row['flops_per_passage'] / 1e9:.2f} | "
                     f"{row['flops_per_s'] / 1e9:.1f} | {row['model_flops_per_s'] / 1e9:.1f} | "
                     f"{row['fraction_paired']:.2f} ({row['windows']} windows) | "
                     f"{row['fraction_of_median_peak']:.2f} | {row['fraction_of_best_peak']:.2f} |")
    lines += ["", "## Index size", "", "| index | bytes | bytes/passage | vs DE |", "|---|---|---|---|"]
    for name, row in s.items():
        lines.append(f"| {name} | {row['bytes']:,} | {row['bytes_per_passage']:,.0f} | {row['vs_de']:.1f}x |")
    return lines


def report_queries(r: dict) -> list[str]:
    """results.md: query latency, MaxSim, the command-line runs, the fast path's nDCG@10, threads."""
    q, fp = r["queries"], r["fast_path"]
    lines = ["", "## Query latency (in process, per query, k = 1000)", "",
              "| system | encode median ms | encode p95 ms | search median ms | search p95 ms |",
              "|---|---|---|---|---|"]
    for name, row in q["in_process"].items():
        lines.append(f"| {name} | {row['encode']['median_ms']:.2f} | {row['encode']['p95_ms']:.2f} | "
                     f"{row['search']['median_ms']:.2f} | {row['search']['p95_ms']:.2f} |")
    ms = q["maxsim"]
    vs_de = ms["median_ms"] / q["in_process"]["DE fp32"]["search"]["median_ms"]
    lines += ["", f"Token-level index, exact MaxSim ({ms['n']} queries, encode + score + top 1000): median "
              f"{ms['median_ms']:.1f} ms, p95 {ms['p95_ms']:.1f} ms ({vs_de:.0f}x DE's search median).", ""]
    if q.get("cli"):
        lines += ["`python -m pyserini.search.faiss` (whole command, start-up included, all queries, k = 1000):", "",
                  "| system | wall s | nDCG@10 |", "|---|---|---|"]
        for name, row in q["cli"].items():
            lines.append(f"| {name} | {row['wall_s']:.1f} | {row['ndcg10']:.4f} |")
        lines.append("")
    lines += ["## Fast path", "", fp["note"], ""]
    for k, v in fp["ndcg10"].items():
        lines.append(f"- nDCG@10 {k}: {v:.4f}")
    lines += ["", "## Threads", "", r["threads"]["note"], ""]
    return lines


def write_report(r: dict, out: Path) -> None:
    lines = report_head(r) + report_encoding(r) + report_flops_and_index(r) + report_queries(r)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(r, indent=2) + "\n")


# --------------------------------------------------------------------------- context
def append_log(log_file: Path, message: str) -> None:
    line = f"[{time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    with open(log_file, "a") as f:
        f.write(line + "\n")


@dataclass
class Context:
    """What every phase shares: arguments, folders, machine, data, models and the thread checks."""

    args: argparse.Namespace
    wall: float  # time.time() at the start
    work: Path
    out: Path
    log_file: Path
    machine: dict
    peak_start: float
    docs: list[dict]
    queries: list[tuple[str, str]]
    qrels: dict[str, dict[str, int]]
    dirs: dict[str, Path]
    models: dict  # "i3", "de": I3Model
    joined: list[str]  # title [SEP] text
    lengths: list[int]  # tokens per passage
    sample_batch: list[int]  # the thread check's batch
    default_threads: int
    threads: dict = field(default_factory=dict)

    @property
    def i3(self):
        return self.models["i3"]

    @property
    def de(self):
        return self.models["de"]

    def log(self, message: str) -> None:
        append_log(self.log_file, message)

    def thread_check(self) -> dict:
        """One batch of DE with the default threads and with 1, in turn, best of 2."""
        import torch

        batch = self.sample_batch
        times = {self.default_threads: [], 1: []}
        for _ in range(2):
            for n in times:
                torch.set_num_threads(n)
                begin = time.perf_counter()
                self.de.encode_passages([self.docs[i]["text"] for i in batch],
                                        titles=[self.docs[i]["title"] for i in batch], batch_size=BATCH,
                                        max_length=self.args.max_length)
                times[n].append(time.perf_counter() - begin)
        torch.set_num_threads(self.default_threads)
        return {"load": load_average()[0], "seconds_per_batch": {str(n): min(v) for n, v in times.items()}}


@dataclass
class Encoding:
    """The side-by-side encoding: vectors and timings per configuration, and the figures drawn from them."""

    vectors: dict[str, np.ndarray]  # configuration: [passages, dim]
    seconds: dict[str, dict[int, float]]  # configuration: chunk: seconds
    parts: dict[str, dict[str, float]]  # configuration: part: seconds
    batches: dict[str, dict[int, list[tuple[int, int]]]]  # configuration: chunk: (size, length)
    peaks: list[tuple[int, float]]  # (chunk, FLOP/s) of the matmul samples
    chunks: list[list[int]]
    capture: TokenCapture
    peak_end: float
    summary: dict = field(default_factory=dict)  # results.json's "encoding"


# --------------------------------------------------------------------------- phases
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-efficiency")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "efficiency")
    parser.add_argument("--sample", type=int, default=None, help="encode the first N passages only (quick check)")
    parser.add_argument("--chunk", type=int, default=BATCH,
                        help="passages per chunk of the side-by-side encoding (default: one batch)")
    parser.add_argument("--peak-every", type=int, default=8, help="a 4096^2 matmul after every n-th chunk")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--maxsim-queries", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--skip-cli", action="store_true", help="no pyserini.search.faiss runs (no nDCG)")
    return parser.parse_args(argv)


def setup(args: argparse.Namespace) -> Context:
    """Folders and log, machine details and the first peak sample, data, models, passage lengths, thread check."""
    wall = time.time()
    load_start = load_average()
    import torch

    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.encoders import FAST_PATH_ENV, KEEP_FREED_MEMORY_ENV
    from pyserini_i3.utils.memory import keep_freed_memory

    # the query encoder's module registers "i3" with pyserini.encode on import: done here, before any measurement,
    # as the script always has (measure_queries imports the class itself)
    importlib.import_module("pyserini_i3.plugin.encoders")
    os.environ.pop(FAST_PATH_ENV, None)
    os.environ[KEEP_FREED_MEMORY_ENV] = "1"  # the command lines opt in as this process does
    keep_freed_memory()
    work, out = args.work, args.out
    if args.sample:  # a quick check: its report stays in the work folder
        out = work / f"results-sample{args.sample}"
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    log_file = work / "bench.log"
    log_file.write_text("")

    machine = {"cpu": cpu_details(), "software": software(), "load_start": load_start}
    append_log(log_file, f"{machine['cpu']['model']}, torch threads {machine['software']['torch_threads']}, "
                         f"load {load_start}")
    peak_start = matmul_flops(4096, repeats=3)

    docs, queries, qrels = load_scifact(args.shared, args.sample)
    if args.sample:
        queries = queries[:min(len(queries), args.sample)]
    dirs = build_models(work)
    models = {"i3": I3Model.from_pretrained(dirs["i3"]), "de": I3Model.from_pretrained(dirs["de"])}
    i3 = models["i3"]
    joined = [i3.join_title(d["text"], d["title"]) for d in docs]
    lengths = [len(ids) for ids in i3.tokenizer(joined, truncation=True, max_length=args.max_length)["input_ids"]]
    append_log(log_file, f"{len(docs)} passages, {sum(lengths)} tokens; {len(queries)} queries")

    sample_batch = sorted(range(len(docs)), key=lambda i: -lengths[i])[len(docs) // 4:len(docs) // 4 + BATCH]
    ctx = Context(args=args, wall=wall, work=work, out=out, log_file=log_file, machine=machine,
                  peak_start=peak_start, docs=docs, queries=queries, qrels=qrels, dirs=dirs, models=models,
                  joined=joined, lengths=lengths, sample_batch=sample_batch,
                  default_threads=torch.get_num_threads())
    ctx.threads = {"default": ctx.default_threads, "start": ctx.thread_check()}
    return ctx


def warm_up(ctx: Context) -> None:
    """Every configuration once (this builds the int8 copies)."""
    for model in (ctx.i3, ctx.de):
        for mode in ("off", "exact", "int8"):
            model.encode_passages(ctx.joined[:2], max_length=ctx.args.max_length, fast_path=mode)
            model.encode_queries([ctx.queries[0][1]], fast_path=mode)


def instrument(ctx: Context):
    """Part timers on both paths of both models, and the token capture on the I^3 passage encoder."""
    i3 = ctx.i3
    timer = PartTimer()
    for model in (i3, ctx.de):
        timer.module(model.passage_encoder, "encoder")
        timer.module(model.int8_copies()["passage_encoder"], "encoder")
    timer.module(i3.reconstructor, "reconstructor")  # one forward for every route
    timer.module(i3.interactor, "interactor")
    capture = TokenCapture(ctx.lengths, i3.dim)
    handle = i3.passage_encoder.register_forward_hook(capture.hook, with_kwargs=True)
    return timer, capture, handle


def measure_encoding(ctx: Context) -> Encoding:
    warm_up(ctx)
    timer, capture, handle = instrument(ctx)
    ctx.log("encoding")
    vectors, seconds, parts, batches, peaks, chunks = encode_everything(
        ctx.models, ctx.docs, ctx.args, capture, timer, ctx.log)
    handle.remove()
    encoding = Encoding(vectors=vectors, seconds=seconds, parts=parts, batches=batches, peaks=peaks, chunks=chunks,
                        capture=capture, peak_end=matmul_flops(4096, repeats=3))
    encoding.summary = encoding_summary(ctx, encoding)
    ratios = encoding.summary["ratios"]
    ctx.log("encoding ratios: " + "; ".join(
        f"{k} {v['ratio']:.3f} ({v['median_chunk_ratio']:.3f})" for k, v in ratios.items()))
    return encoding


def paired(seconds: dict[str, dict[int, float]], a: str, b: str) -> dict:
    """Time of a / time of b over the chunks both encoded: ratio of the sums, and the median of
    the per-chunk ratios (robust to a burst of other jobs hitting one configuration)."""
    both = sorted(set(seconds[a]) & set(seconds[b]))
    return {"ratio": sum(seconds[a][c] for c in both) / sum(seconds[b][c] for c in both),
            "median_chunk_ratio": statistics.median(seconds[a][c] / seconds[b][c] for c in both),
            "chunks": len(both)}


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict:
    c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {"min": float(c.min()), "mean": float(c.mean()), "below_0.99": int((c < 0.99).sum()), "n": len(c)}


def encoding_summary(ctx: Context, encoding: Encoding) -> dict:
    """Throughput per configuration, the paired time ratios, `exact` against `off`, padding."""
    seconds, chunks, vectors = encoding.seconds, encoding.chunks, encoding.vectors
    configs = {}
    for name in seconds:
        done_chunks = sorted(seconds[name])
        passages = sum(len(chunks[c]) for c in done_chunks)
        total_s = sum(seconds[name].values())
        configs[name] = {"chunks": len(done_chunks), "passages": passages, "seconds": total_s,
                         "passages_per_s": passages / total_s, "parts_s": encoding.parts[name]}
    ratios = {
        "I3 fp32 exact / DE fp32": paired(seconds, "I3 fp32 exact", "DE fp32"),
        "I3 fp32 off / DE fp32": paired(seconds, "I3 fp32 off", "DE fp32"),
        "I3 int8 / DE int8": paired(seconds, "I3 int8", "DE int8"),
        "I3 fp32 off / I3 fp32 exact": paired(seconds, "I3 fp32 off", "I3 fp32 exact"),
        "int8 speed-up, DE: DE fp32 / DE int8": paired(seconds, "DE fp32", "DE int8"),
        "int8 speed-up, I^3: I3 fp32 exact / I3 int8": paired(seconds, "I3 fp32 exact", "I3 int8"),
        "int8 speed-up, I^3 against the reference path: I3 fp32 off / I3 int8":
            paired(seconds, "I3 fp32 off", "I3 int8"),
    }
    rows_off = sorted(i for c in seconds["I3 fp32 off"] for i in chunks[c])
    exact_vs_off = float(np.abs(vectors["I3 fp32 exact"][rows_off] - vectors["I3 fp32 off"][rows_off]).max())
    lengths_arr = np.asarray(ctx.lengths)
    return {"chunk": ctx.args.chunk, "configs": configs, "ratios": ratios, "exact_vs_off_max_abs": exact_vs_off,
            "token_capture_s": sum(encoding.capture.seconds.values()),
            "padding_waste_global_sort": padding_waste(lengths_arr, BATCH, True),
            "padding_waste_pyserini_order": padding_waste(lengths_arr, BATCH, False)}


def measure_flops(ctx: Context, encoding: Encoding) -> dict:
    """FLOPs executed per fp32 configuration and their fraction of the sampled matmul peak."""
    register_cpu_attention_flops()
    flop_cache: dict[tuple, int] = {}
    peaks, peak_every = encoding.peaks, ctx.args.peak_every
    ends = [ctx.peak_start, encoding.peak_end]
    samples = [f for _, f in peaks]
    flops = {"peak_start": ctx.peak_start, "peak_end": encoding.peak_end, "peak_samples": len(peaks),
             "peak_median": statistics.median(samples + ends), "peak_best": max(samples + ends),
             "peak_every": peak_every, "configs": {}}
    for name, key, mode in (("DE fp32", "de", "exact"), ("I3 fp32 exact", "i3", "exact"), ("I3 fp32 off", "i3", "off")):
        per_chunk = {}
        for c, chunk_batches in encoding.batches[name].items():
            per_chunk[c] = 0
            for size, length in chunk_batches:
                if (key, mode, length) not in flop_cache:
                    flop_cache[(key, mode, length)] = flops_per_passage(ctx.models[key], mode, length)
                per_chunk[c] += size * flop_cache[(key, mode, length)]
        executed = sum(per_chunk.values())
        windows = []  # each peak sample against the chunks encoded just before it, under the same load
        for c, peak in peaks:
            window = [w for w in range(c - peak_every + 1, c + 1) if w in per_chunk]
            if window:
                window_s = sum(encoding.seconds[name][w] for w in window)
                windows.append(sum(per_chunk[w] for w in window) / window_s / peak)
        row = encoding.summary["configs"][name]
        model_time = sum(row["parts_s"].values())
        flops["configs"][name] = {
            "flops": executed, "flops_per_passage": executed / row["passages"],
            "flops_per_s": executed / row["seconds"], "model_flops_per_s": executed / model_time,
            "fraction_paired": statistics.median(windows) if windows else float("nan"), "windows": len(windows),
            "fraction_of_median_peak": executed / row["seconds"] / flops["peak_median"],
            "fraction_of_best_peak": executed / row["seconds"] / flops["peak_best"],
        }
    ctx.log("FLOP/s fraction of peak (paired): " + ", ".join(
        f"{n} {v['fraction_paired']:.2f}" for n, v in flops["configs"].items()))
    return flops


def build_indexes(ctx: Context, encoding: Encoding) -> tuple[dict[str, Path], dict]:
    """FAISS flat indexes of DE fp32, I^3 fp32 and DE int8 vectors, and every index's size."""
    docids = [d["_id"] for d in ctx.docs]
    idx = {name: write_faiss(encoding.vectors[src], docids, ctx.work / "indexes" / name)
           for name, src in (("de-fp32", "DE fp32"), ("i3-fp32", "I3 fp32 exact"), ("de-int8", "DE int8"))}
    capture = encoding.capture
    de_bytes = (idx["de-fp32"] / "index").stat().st_size
    token_bytes = capture.vectors.nbytes + capture.offsets.nbytes
    index_size = {
        "DE (FAISS flat, 384-d)": {"bytes": de_bytes},
        "I^3 (FAISS flat, 384-d)": {"bytes": (idx["i3-fp32"] / "index").stat().st_size},
        "token-level, 384-d float32 (+ int64 offsets)": {"bytes": token_bytes},
        "token-level, 128-d float32 (ColBERT's size; computed)": {
            "bytes": int(capture.vectors.shape[0]) * 128 * 4 + capture.offsets.nbytes},
    }
    for row in index_size.values():
        row["bytes_per_passage"] = row["bytes"] / len(ctx.docs)
        row["vs_de"] = row["bytes"] / de_bytes
    return idx, index_size


def measure_queries(ctx: Context, encoding: Encoding, idx: dict[str, Path]) -> tuple[dict, dict]:
    """In-process query latency of every system and exact MaxSim on the token-level index; nDCG@10 of the runs."""
    from pyserini.search.faiss import FaissSearcher

    from pyserini_i3.plugin.encoders import I3QueryEncoder

    capture, dirs = encoding.capture, ctx.dirs
    capture.vectors /= np.linalg.norm(capture.vectors, axis=1, keepdims=True)
    ctx.log("query latency")
    systems = {
        "DE fp32": FaissSearcher(str(idx["de-fp32"]), I3QueryEncoder(str(dirs["de"]))),
        "I3 fp32": FaissSearcher(str(idx["i3-fp32"]), I3QueryEncoder(str(dirs["i3"]))),
        "DE int8": FaissSearcher(str(idx["de-int8"]), I3QueryEncoder(str(dirs["de-int8"]))),
        "I3 int8 (query side; fp32 index)": FaissSearcher(str(idx["i3-fp32"]), I3QueryEncoder(str(dirs["i3-int8"]))),
    }
    encode_s, search_s, runs = search_latency(systems, ctx.queries, ctx.args.warmup)
    in_process = {n: {"encode": latency_summary(encode_s[n]), "search": latency_summary(search_s[n])} for n in systems}
    i3_row, de_row, int8_row = in_process["I3 fp32"], in_process["DE fp32"], in_process["DE int8"]
    query_ratios = {
        "encode median I3/DE": i3_row["encode"]["median_ms"] / de_row["encode"]["median_ms"],
        "search median I3/DE": i3_row["search"]["median_ms"] / de_row["search"]["median_ms"],
        "search p95 I3/DE": i3_row["search"]["p95_ms"] / de_row["search"]["p95_ms"],
        "encode median DE fp32/int8": de_row["encode"]["median_ms"] / int8_row["encode"]["median_ms"],
    }
    sample_queries = [text for _, text in ctx.queries[:ctx.args.maxsim_queries]]
    maxsim = latency_summary(maxsim_latency(ctx.i3, capture, sample_queries))
    ctx.log(f"query ratios: {query_ratios}; MaxSim median {maxsim['median_ms']:.1f} ms")
    ndcg = {f"{n} (in process)": ndcg10(ctx.qrels, runs[n]) for n in ("DE fp32", "DE int8", "I3 fp32")}
    return {"in_process": in_process, "ratios": query_ratios, "maxsim": maxsim}, ndcg


def measure_cli(ctx: Context, idx: dict[str, Path], ndcg: dict) -> dict:
    """``python -m pyserini.search.faiss`` once per system (unless --skip-cli); adds their nDCG@10 to ``ndcg``."""
    from pyserini_i3.plugin.encoders import FAST_PATH_ENV

    cli = {}
    if ctx.args.skip_cli:
        return cli
    topics = ctx.work / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in ctx.queries))
    ctx.log("pyserini.search.faiss command lines")
    for name, index, encoder, env in (
            ("DE fp32", idx["de-fp32"], ctx.dirs["de"], {}),
            ("I3 fp32", idx["i3-fp32"], ctx.dirs["i3"], {}),
            ("DE int8 ($PYSERINI_I3_FAST_PATH=int8)", idx["de-int8"], ctx.dirs["de"], {FAST_PATH_ENV: "int8"})):
        run_file = ctx.work / "runs" / (name.split(" (")[0].replace(" ", "-") + ".trec")
        run_file.parent.mkdir(exist_ok=True)
        wall_s = cli_search(index, encoder, topics, run_file, env, ctx.log_file)
        cli[name] = {"wall_s": wall_s, "ndcg10": ndcg10(ctx.qrels, trec.read_run(run_file))}
    ndcg.update({f"{n} (pyserini.search.faiss)": v["ndcg10"] for n, v in cli.items()})
    return cli


def de_ndcg10(ndcg: dict, cli: dict) -> tuple[float, float]:
    """DE fp32's and DE int8's nDCG@10: of the command-line runs where there are some, else in process."""
    fp32 = cli["DE fp32"]["ndcg10"] if cli else ndcg["DE fp32 (in process)"]
    int8 = cli["DE int8 ($PYSERINI_I3_FAST_PATH=int8)"]["ndcg10"] if cli else ndcg["DE int8 (in process)"]
    return fp32, int8


def measure_fast_path(ctx: Context, encoding: Encoding, ndcg: dict, cli: dict) -> dict:
    """int8 against float32: vector cosines (DE, I^3) and nDCG@10 (DE)."""
    vectors = encoding.vectors
    rows_int8 = sorted(i for c in encoding.seconds["I3 int8"] for i in encoding.chunks[c])
    de_fp32_ndcg, de_int8_ndcg = de_ndcg10(ndcg, cli)
    return {
        "note": ("int8 = `fast_path: int8` in config.json or `$PYSERINI_I3_FAST_PATH=int8`: torch dynamic int8 "
                 "quantisation of the encoders' Linear layers (per-channel weights, 8-bit activations on this VNNI "
                 "CPU), the I^3 heads restated exactly in float32. nDCG@10 on SciFact test with the zero-shot "
                 "MiniLM dual encoder (DE), index and queries both int8, since `--encoder i3` is still untrained."),
        "cosine_de": cosine_stats(vectors["DE int8"], vectors["DE fp32"]),
        "cosine_i3": cosine_stats(vectors["I3 int8"][rows_int8], vectors["I3 fp32 exact"][rows_int8]),
        "ndcg10": ndcg, "ndcg10_delta_de": de_int8_ndcg - de_fp32_ndcg,
    }


def thread_line(check: dict, default_threads: int) -> str:
    t = check["seconds_per_batch"]
    return (f"{t[str(default_threads)]:.2f} s with {default_threads} threads and {t['1']:.2f} s with 1 at load "
            f"{check['load']} ({t['1'] / t[str(default_threads)]:.2f}x from the second core)")


def finish_threads(ctx: Context) -> None:
    """The second thread check, its note, and the closing load average."""
    threads, n = ctx.threads, ctx.default_threads
    threads["end"] = ctx.thread_check()
    threads["note"] = (f"torch uses {n} threads by default here ({ctx.machine['cpu']['usable_cpus']} usable "
                       "CPUs): setting that number explicitly is what torch already does, so the model leaves it "
                       "alone, as it leaves Pyserini's --threads (FAISS). One batch of "
                       f"{BATCH} passages (DE, best of 2, in turn) took {thread_line(threads['start'], n)} at the "
                       f"start, {thread_line(threads['end'], n)} at the end. When another job holds a core, the "
                       "second thread waits for it at every synchronisation and one thread can be faster; on a free "
                       "machine both cores are used.")
    ctx.machine["load_end"] = load_average()


def paired_text(r: dict) -> str:
    return f"{r['ratio']:.3f} (median of chunks {r['median_chunk_ratio']:.3f})"


def targets(ctx: Context, encoding: dict, flops: dict, index_size: dict, queries: dict, fast_path: dict) -> list:
    """The targets table: what was wanted, what was measured, met or not."""
    ratios = encoding["ratios"]
    exact_ratio = ratios["I3 fp32 exact / DE fp32"]
    off_ratio = ratios["I3 fp32 off / DE fp32"]
    q_ratio = queries["ratios"]["search median I3/DE"]
    de_bytes = index_size["DE (FAISS flat, 384-d)"]["bytes"]
    i3_bytes = index_size["I^3 (FAISS flat, 384-d)"]["bytes"]
    token_x = index_size["token-level, 384-d float32 (+ int64 offsets)"]["vs_de"]
    frac = flops["configs"]["DE fp32"]["fraction_paired"]
    frac_i3 = flops["configs"]["I3 fp32 exact"]["fraction_paired"]
    speed_de = ratios["int8 speed-up, DE: DE fp32 / DE int8"]
    speed_i3 = ratios["int8 speed-up, I^3: I3 fp32 exact / I3 int8"]
    speed_i3_off = ratios["int8 speed-up, I^3 against the reference path: I3 fp32 off / I3 int8"]
    delta = fast_path["ndcg10_delta_de"]
    de_fp32_ndcg, de_int8_ndcg = de_ndcg10(fast_path["ndcg10"], queries["cli"])
    sample_note = " (sample: not SciFact's figure)" if ctx.args.sample else ""
    return [
        {"what": "I^3 passage encoding time / DE's", "wanted": "<= 1.15",
         "measured": f"{paired_text(exact_ratio)} with `exact`; {paired_text(off_ratio)} on the reference `off` path",
         "verdict": verdict(exact_ratio["ratio"] <= 1.15) + " (`exact`); "
                    + verdict(off_ratio["ratio"] <= 1.15) + " (`off`)"},
        {"what": "query latency I^3 / DE, search median (p95)", "wanted": "1.00 +/- 0.05",
         "measured": f"{q_ratio:.3f} ({queries['ratios']['search p95 I3/DE']:.3f})",
         "verdict": verdict(abs(q_ratio - 1) <= 0.05)},
        {"what": "index bytes I^3 = DE", "wanted": "equal", "measured": f"{i3_bytes:,} = {de_bytes:,}",
         "verdict": verdict(i3_bytes == de_bytes)},
        {"what": "token-level index / DE", "wanted": ">= 30x", "measured": f"{token_x:.0f}x",
         "verdict": verdict(token_x >= 30)},
        {"what": "fp32 encoding FLOP/s / measured peak (paired in time, median)", "wanted": ">= 0.70",
         "measured": f"DE {frac:.2f}, I^3 `exact` {frac_i3:.2f}", "verdict": verdict(min(frac, frac_i3) >= 0.70)},
        {"what": "int8 fast path throughput / fp32", "wanted": ">= 1.8x",
         "measured": f"DE {paired_text(speed_de)}; I^3 {paired_text(speed_i3)} against `exact`, "
                     f"{paired_text(speed_i3_off)} against `off`",
         "verdict": verdict(min(speed_de["ratio"], speed_i3["ratio"]) >= 1.8)},
        {"what": "int8 nDCG@10 - fp32 (DE, SciFact test)", "wanted": "|delta| <= 0.005",
         "measured": f"{delta:+.4f} ({de_int8_ndcg:.4f} vs {de_fp32_ndcg:.4f}){sample_note}",
         "verdict": verdict(abs(delta) <= 0.005)},
    ]


MODELS_NOTE = ("I^3 = `I3Model.from_backbone()` (full variant: 1 reconstructor layer over 32 slots cross-attending "
               "to all passage tokens, 1 interactor layer over passage + pseudo-query), untrained heads (seed 0); "
               "DE = `I3Model.from_backbone(variant=\"de\")`; the same all-MiniLM-L6-v2 weights in both (checked).")


def inputs_summary(ctx: Context) -> dict:
    """results.json's "corpus" and "models"."""
    lengths, args = ctx.lengths, ctx.args
    return {
        "corpus": {"passages": len(ctx.docs), "queries": len(ctx.queries), "tokens": int(sum(lengths)),
                   "mean_tokens": float(np.mean(lengths)), "max_length": args.max_length, "sample": args.sample},
        "models": {"backbone": DEFAULT_BACKBONE, "dirs": {k: display_path(v) for k, v in ctx.dirs.items()},
                   "note": MODELS_NOTE},
    }


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.shared / "scifact" / "corpus.jsonl").is_file():
        print(f"bench-efficiency: skipped: {args.shared}/scifact not found "
              "(the shared data is not beside this checkout)")
        return 0
    ctx = setup(args)
    encoding = measure_encoding(ctx)
    flops = measure_flops(ctx, encoding)
    idx, index_size = build_indexes(ctx, encoding)
    queries, ndcg = measure_queries(ctx, encoding, idx)
    queries["cli"] = measure_cli(ctx, idx, ndcg)
    fast_path = measure_fast_path(ctx, encoding, ndcg, queries["cli"])
    finish_threads(ctx)

    results = {
        "command": "python benchmarks/efficiency.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": ctx.machine, "threads": ctx.threads,
        **inputs_summary(ctx),
        "targets": targets(ctx, encoding.summary, flops, index_size, queries, fast_path),
        "encoding": encoding.summary, "flops": flops, "index_size": index_size, "queries": queries,
        "fast_path": fast_path, "wall_minutes": (time.time() - ctx.wall) / 60,
    }
    write_report(results, ctx.out)
    print((ctx.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
