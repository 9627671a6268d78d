"""``python -m pyserini_i3 pyserini-runs``: BM25, I^3 and hybrid runs with Pyserini's own
commands on the SciFact test subset and the MS MARCO pools; writes the commands and the
scores to ``runs/<collection>/`` (``commands.sh``, ``scores.md``, ``scores.json``).

Collections (built from ``../shared/data`` into a scratch directory, never the repo):

  scifact-subset  every passage judged for the first 50 SciFact test queries
                  + 1,000 others (1,051); topics/qrels as files
  dl19-pool       the 15,939-passage DL19 pool; ``--topics dl19-passage`` and the
                  ``dl19-passage`` qrels by name (installed offline first)
  dl20-pool       the 15,495-passage DL20 pool; ``--topics dl20``, qrels ``dl20-passage``
  dev600-pool     the 11,809-passage pool of 600 MS MARCO dev queries (their BM25 top-20);
                  topics/qrels as files; MRR@10 is the metric that counts

Metrics: ``trec_eval -c -m ndcg_cut.10``, ``-c -m recall.100``, ``-c -M 10 -m recip_rank``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from pyserini_i3.eval.commands import ROOT, Runner, display_path, write_results
from pyserini_i3.eval.pipelines import collection_runs

COLLECTIONS = ("scifact-subset", "dl19-pool", "dl20-pool", "dev600-pool")
NAMED = {"dl19-pool": ("dl19-passage", "dl19-passage"), "dl20-pool": ("dl20", "dl20-passage")}  # topics, qrels
DESCRIPTIONS = {
    "scifact-subset": ("SciFact test subset: the first {queries} test queries (by id), every passage judged for "
                       "them + 1,000 others drawn with seed 13 ({docs} passages); passages are `title [SEP] text` "
                       "(--fields title text --add-sep), BM25 on title + text."),
    "dl19-pool": ("TREC DL19 passage pool ({docs} passages: all judged-relevant, part of the judged non-relevant, "
                  "the rest unjudged top-100 hits of six public systems); the official 43 topics and qrels by "
                  "name; unjudged = non-relevant, so the numbers are comparable between systems here, not with "
                  "full-corpus results."),
    "dl20-pool": ("TREC DL20 passage pool ({docs} passages, built as DL19's; about a third of the relevant passages "
                  "are missing, so it is for comparisons between systems only); the official 54 judged topics and "
                  "qrels by name."),
    "dev600-pool": ("MS MARCO dev re-ranking pool: 600 dev.small queries and their BM25 top-20 ({docs} passages; "
                    "the relevant passage is among them for 540 queries), searched as one collection; official "
                    "qrels; MRR@10 is MS MARCO's metric."),
}


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

    from pyserini_i3.eval.collections import msmarco_pool, scifact_subset
    from pyserini_i3.plugin import topics
    from pyserini_i3.plugin.resolve import resolve

    encoder_path = resolve(args.encoder)
    if encoder_path is None:
        encoder_note = ("Encoder: `--encoder i3` resolved to the fallback, an UNTRAINED I^3 on all-MiniLM-L6-v2 "
                        "(seed 0): no trained encoder is installed. These I^3 numbers check the plumbing, not the "
                        "model.")
    else:
        encoder_note = f"Encoder: `--encoder {display_path(args.encoder)}` = `{display_path(encoder_path)}`."
    env = {**os.environ, "TOKENIZERS_PARALLELISM": os.environ.get("TOKENIZERS_PARALLELISM", "false")}
    for name in args.collections:
        work = args.work / name
        if work.exists():
            shutil.rmtree(work)
        log = lambda msg, name=name: print(f"[{name}] {msg}", flush=True)  # noqa: E731
        start = time.time()
        run = Runner(work, env, log)
        if name == "scifact-subset":
            coll = scifact_subset(args.data, work)
            scores = collection_runs(run, args.encoder, "topics.tsv", "qrels.txt", ["title", "text"], 100)
        elif name in NAMED:
            coll = msmarco_pool(args.data, work, name.removesuffix("-pool"))
            topics.install(args.data / "topics-and-qrels", eval_script=True)
            scores = collection_runs(run, args.encoder, *NAMED[name], ["text"], 1000)
        else:
            coll = msmarco_pool(args.data, work, "dev600")
            scores = collection_runs(run, args.encoder, "topics.tsv", "qrels.txt", ["text"], 1000)
        description = DESCRIPTIONS[name].format(queries=coll.num_queries, docs=coll.num_docs)
        write_results(args.out / name, name, description, encoder_note, run, scores, time.time() - start)
        log(f"wrote {args.out / name}")
        for system, values in scores.items():
            log(f"{system}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
    return 0
