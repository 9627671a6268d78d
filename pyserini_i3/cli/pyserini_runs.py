"""``python -m pyserini_i3 pyserini-runs``: BM25, I^3 and hybrid runs with Pyserini's own
commands on the SciFact test subset and the DL19 pool; writes the commands and the
scores to ``runs/<collection>/`` (``commands.sh``, ``scores.md``, ``scores.json``).

Collections (built from ``../shared/data`` into a scratch directory, never the repo):

  scifact-subset  every passage judged for the first 50 SciFact test queries
                  + 1,000 others (1,051); topics/qrels as files
  dl19-pool       the 15,939-passage DL19 pool; ``--topics dl19-passage`` and the
                  ``dl19-passage`` qrels by name (installed offline first)

Metrics: ``trec_eval -c -m ndcg_cut.10``, ``-c -m recall.100``, ``-c -M 10 -m recip_rank``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS = [
    ("nDCG@10", ["-c", "-m", "ndcg_cut.10"], "ndcg_cut_10"),
    ("R@100", ["-c", "-m", "recall.100"], "recall_100"),
    ("MRR@10", ["-c", "-M", "10", "-m", "recip_rank"], "recip_rank"),
]
COLLECTIONS = ("scifact-subset", "dl19-pool")


class Runner:
    def __init__(self, work: Path, env: dict, log, name: str = "pyserini-runs"):
        self.name = name
        self.last_seconds = 0.0
        self.work = work
        self.env = env
        self.log = log
        self.commands: list[tuple[str, float]] = []

    def __call__(self, *args, record=True, stream=False) -> str:
        """Run ``python ARGS`` in the work directory; ``stream``: show its output (progress bars) live."""
        cmd = [sys.executable, *map(str, args)]
        shown = shlex.join(["python", *map(str, args)])
        self.log(f"$ {shown}")
        start = time.time()
        proc = subprocess.run(cmd, cwd=self.work, env=self.env, capture_output=not stream, text=True)
        seconds = time.time() - start
        self.last_seconds = seconds
        if proc.returncode != 0:
            if not stream:
                sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
            raise SystemExit(f"{self.name}: command failed (exit {proc.returncode}): {shown}")
        if record:
            self.commands.append((shown, seconds))
        return proc.stdout or ""

    def trec_eval(self, qrels: str, run: str) -> dict[str, float]:
        scores = {}
        for label, args, key in METRICS:
            out = self("-m", "pyserini.eval.trec_eval", *args, qrels, run)
            line = next(line for line in out.splitlines() if line.startswith(key))
            scores[label] = float(line.split()[2])
        return scores


def pipeline(name: str, coll, run: Runner, encoder: str, topics: str, qrels: str, fields: list[str],
             hits: int) -> dict[str, dict[str, float]]:
    encode_fields = ["--fields", *fields] if fields != ["text"] else []
    add_sep = ["--add-sep"] if "title" in fields else []
    run("-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus", "--index",
        "indexes/lucene", "--generator", "DefaultLuceneDocumentGenerator", "--threads", "2", "--storeRaw")
    run("-m", "pyserini.encode", "input", "--corpus", "corpus", *encode_fields,
        "output", "--embeddings", "indexes/faiss-i3", "--to-faiss",
        "encoder", "--encoder", encoder, *encode_fields, *add_sep, "--batch-size", "32",
        "--dimension", "384", "--device", "cpu")
    run("-m", "pyserini.search.lucene", "--index", "indexes/lucene", "--topics", topics, "--bm25",
        "--hits", str(hits), "--output", "runs/run.bm25.txt")
    run("-m", "pyserini.search.faiss", "--index", "indexes/faiss-i3", "--topics", topics, "--encoder", encoder,
        "--hits", str(hits), "--batch-size", "32", "--threads", "2", "--output", "runs/run.i3.txt")
    run("-m", "pyserini.search.hybrid", "dense", "--index", "indexes/faiss-i3", "--encoder", encoder,
        "sparse", "--index", "indexes/lucene", "fusion", "--alpha", "0.5", "--normalization",
        "run", "--topics", topics, "--hits", str(hits), "--batch-size", "32", "--threads", "2",
        "--output", "runs/run.hybrid.txt")
    run("-m", "pyserini.fusion", "--runs", "runs/run.bm25.txt", "runs/run.i3.txt", "--method", "rrf",
        "--output", "runs/run.rrf.txt")
    return {
        "BM25": run.trec_eval(qrels, "runs/run.bm25.txt"),
        f"I^3 ({encoder})": run.trec_eval(qrels, "runs/run.i3.txt"),
        "hybrid (alpha 0.5, normalized)": run.trec_eval(qrels, "runs/run.hybrid.txt"),
        "RRF (BM25 + I^3)": run.trec_eval(qrels, "runs/run.rrf.txt"),
    }


def load_note() -> str:
    load = os.getloadavg()[1]
    note = f"5-min load average at the end {load:.1f}"
    if load > (os.cpu_count() or 1):
        note += ": other jobs shared the cores, so the seconds overstate an idle machine's"
    return note


def write_results(out: Path, name: str, description: str, encoder_note: str, run: Runner,
                  scores: dict, seconds: float, extra: list[str] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU used (--device cpu)"
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for module, dist in (("pyserini", "pyserini"), ("torch", "torch"), ("transformers", "transformers"),
                         ("faiss", "faiss-cpu")):
        try:
            versions[module] = version(dist)
        except PackageNotFoundError:
            versions[module] = "?"
    lines = ["#!/usr/bin/env bash", f"# {name}: {description}",
             "# Run from the collection's scratch directory (corpus/, topics.tsv, qrels.txt),",
             f"# built by `python -m pyserini_i3 {run.name}`; seconds measured on: " + machine, "set -euo pipefail"]
    for command, secs in run.commands:
        lines.append(f"{command}  # {secs:.0f}s")
    (out / "commands.sh").write_text("\n".join(lines) + "\n")
    header = "| run | " + " | ".join(label for label, _, _ in METRICS) + " |"
    table = [header, "|---|" + "---:|" * len(METRICS)]
    for system, values in scores.items():
        table.append(f"| {system} | " + " | ".join(f"{values[label]:.4f}" for label, _, _ in METRICS) + " |")
    md = [f"# {name}", "", description, "", encoder_note, "",
          f"Measured {stamp} on {machine}; pyserini {versions['pyserini']}, torch {versions['torch']}, "
          f"transformers {versions['transformers']}, faiss {versions['faiss']}; whole pipeline {seconds / 60:.1f} min "
          f"({load_note()}).",
          "", *table, "", *(extra or []), "Commands (and seconds each): [commands.sh](commands.sh).", ""]
    (out / "scores.md").write_text("\n".join(md))
    (out / "scores.json").write_text(json.dumps({"collection": name, "measured": stamp, "machine": machine,
                                                 "versions": versions, "scores": scores,
                                                 "commands": [{"command": c, "seconds": round(s, 1)}
                                                              for c, s in run.commands]}, indent=2) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 pyserini-runs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", nargs="+", choices=COLLECTIONS, default=list(COLLECTIONS))
    parser.add_argument("--encoder", default="i3", help="--encoder for Pyserini (default: i3)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared test data (default: ../shared/data)")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory for corpora, indexes and runs")
    parser.add_argument("--out", type=Path, default=ROOT / "runs", help="where to write commands and scores")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"--data {args.data}: not found")

    from pyserini_i3 import topics
    from pyserini_i3.defaults import resolve
    from pyserini_i3.pyserini_data import dl19_pool, scifact_subset

    encoder_path = resolve(args.encoder)
    if encoder_path is None:
        encoder_note = ("Encoder: `--encoder i3` resolved to the fallback, an UNTRAINED I^3 on all-MiniLM-L6-v2 "
                        "(seed 0): no trained encoder ships yet. These I^3 numbers check the plumbing, not the model.")
    else:
        encoder_note = f"Encoder: `--encoder {args.encoder}` = `{encoder_path}`."
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in args.collections:
        work = args.work / name
        if work.exists():
            shutil.rmtree(work)
        log = lambda msg: print(f"[{name}] {msg}", flush=True)  # noqa: E731
        start = time.time()
        if name == "scifact-subset":
            coll = scifact_subset(args.data, work)
            run = Runner(work, env, log)
            scores = pipeline(name, coll, run, args.encoder, "topics.tsv", "qrels.txt", ["title", "text"], 100)
            description = (f"SciFact test subset: the first {coll.num_queries} test queries (by id), every passage "
                           f"judged for them + 1,000 others drawn with seed 13 ({coll.num_docs} passages); "
                           "passages are `title [SEP] text` (--fields title text --add-sep), BM25 on title + text.")
        else:
            coll = dl19_pool(args.data, work)
            topics.install(args.data / "topics-and-qrels", eval_script=True)
            run = Runner(work, env, log)
            scores = pipeline(name, coll, run, args.encoder, "dl19-passage", "dl19-passage", ["text"], 1000)
            description = (f"TREC DL19 passage pool ({coll.num_docs} passages: all judged-relevant, part of the "
                           "judged non-relevant, the rest unjudged top-100 hits of six public systems); the "
                           "official 43 topics and qrels by name; unjudged = non-relevant, so the numbers are "
                           "comparable between systems here, not with full-corpus results.")
        write_results(args.out / name, name, description, encoder_note, run, scores, time.time() - start)
        log(f"wrote {args.out / name}")
        for system, values in scores.items():
            log(f"{system}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    return 0
