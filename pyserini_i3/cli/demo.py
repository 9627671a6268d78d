"""``python -m pyserini_i3 demo``: the whole system on one collection, with Pyserini's commands.

Indexes the collection with ``--encoder i3`` into FAISS and with Lucene (BM25), runs
dense, BM25 and hybrid retrieval, scores the three runs with trec_eval, prints one
table (scores and the seconds each stage took), and writes under ``--out``
(default ``runs/demo/latest/``, gitignored; ``runs/demo/`` holds the committed
reference record):

  run.i3.trec, run.bm25.trec, run.hybrid.trec   TREC runs (top 100 per query)
  run.i3.msmarco.tsv                            the dense run as an MS MARCO submission
                                                (qid<TAB>docid<TAB>rank, --output-format msmarco)
  scores.md, scores.json, commands.sh           the table and every command with its seconds

Collection (``--collection auto``): SciFact test (5,183 passages, 300 queries) from
``../shared/data/scifact`` when present; otherwise BEIR's public SciFact download when
online (cached in ``~/.cache/pyserini_i3``); otherwise the small handwritten sample in
``pyserini_i3/eval/sample_collection`` (60 passages, 12 claims), labelled as a sample.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from pyserini_i3.eval.commands import ROOT, display_path, load_note, write_results
from pyserini_i3.eval.pipelines import DEMO_FILES, demo, demo_record_extra, find_collection
from pyserini_i3.utils.pyserini_commands import METRICS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pyserini_i3 demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collection", choices=("auto", "scifact", "sample"), default="auto")
    parser.add_argument("--encoder", default="i3", help="--encoder for Pyserini (default: i3, the shipped encoder)")
    parser.add_argument("--alpha", type=float, default=0.5, help="hybrid fusion weight of BM25 (default: 0.5)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared test data (default: ../shared/data)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pyserini_i3",
                        help="where the BEIR download is kept")
    parser.add_argument("--work", type=Path, default=Path(".work") / "demo", help="scratch: corpus, indexes")
    parser.add_argument("--out", type=Path, default=Path("runs") / "demo" / "latest",
                        help="runs, submission and scores (default: runs/demo/latest, gitignored)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    import torch

    from pyserini_i3.plugin.resolve import resolve

    log = lambda msg: print(f"[demo] {msg}", flush=True)  # noqa: E731
    start = time.time()
    name, beir_dir, description = find_collection(args.collection, args.data, args.cache, log)
    encoder_path = resolve(args.encoder)
    encoder_note = (f"Encoder: `--encoder {args.encoder}` = `{display_path(encoder_path)}`."
                    if encoder_path is not None else
                    "Encoder: `--encoder i3` = an UNTRAINED I^3 (no trained encoder installed).")
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "false"),
           "PYSERINI_I3_KEEP_FREED_MEMORY": os.environ.get("PYSERINI_I3_KEEP_FREED_MEMORY", "1")}  # opt in
    result, run = demo(beir_dir, name, description, args.work.resolve(), args.out, args.encoder, args.alpha,
                       device, env, log)
    seconds = time.time() - start
    result.seconds = seconds
    write_results(args.out, f"demo: {name}", result.description, encoder_note, run, result.scores, seconds,
                  extra=demo_record_extra(result),
                  data={"stages_s": {k: round(v, 1) for k, v in result.stages.items()}}, device=device)

    width = max(len(s) for s in result.scores)
    print(f"\n{result.description}")
    print(f"{'run':<{width}}  " + "  ".join(f"{label:>8}" for label, _, _ in METRICS))
    for system, values in result.scores.items():
        print(f"{system:<{width}}  " + "  ".join(f"{values[label]:>8.4f}" for label, _, _ in METRICS))
    print()
    for stage, secs in result.stages.items():
        print(f"  {secs:7.1f} s  {stage}")
    print(f"  {seconds:7.1f} s  whole demo ({load_note()})")
    print(f"\nwrote {args.out}/: {', '.join(DEMO_FILES)}, scores.md (reference: runs/demo/scores.md)")
    return 0
