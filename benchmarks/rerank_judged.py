"""Quick check of an encoder on a TREC pool: re-rank each query's judged passages.

    python benchmarks/rerank_judged.py MODEL [MODEL ...] [--pool dl19] [--max-length 128]

MODEL is ``i3``, an I^3 model directory, or ``base:NAME`` for a Hugging Face encoder used as
a plain dual encoder (``base:sentence-transformers/all-MiniLM-L6-v2``, the zero-shot base).
For every query of ``../shared/data/msmarco-pools/POOL`` the passages judged for it whose
text is in the pool (``qrels.with_text.txt``: 5,694 for DL19) are scored and ranked, and
nDCG@10 is computed with pytrec_eval over the official qrels.  ``--pool dev600`` re-ranks
each dev query's BM25 top-20 (``candidates.run``) instead, and MRR@10 is the metric that
counts there (both are printed).  It takes a few minutes on 2 CPU cores where a full pool
through Pyserini takes a quarter of an hour, so it is the screen used while choosing a
training recipe; the figures that count are the Pyserini runs
(``python -m pyserini_i3 pyserini-runs``).  Prints one line per model; ``--output F``
appends them to F as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEASURES = {"ndcg@10": "ndcg_cut_10", "mrr@10": "recip_rank"}  # name -> utils.trec measure (MRR: on the top 10)


@dataclass
class Pool:
    """What is re-ranked: each query's candidate passages, and the official judgments."""

    name: str
    queries: dict[str, str]
    texts: dict[str, str]
    candidates: dict[str, list[str]]  # qid -> pids to rank
    qrels: dict[str, dict[str, int]]


def load_pool(data: Path, name: str) -> Pool:
    """DL19 / DL20: each query's judged passages with text; dev600: each query's BM25 top-20."""
    from pyserini_i3.utils.trec import read_qrels

    pool = Path(data) / "msmarco-pools" / name
    if not pool.is_dir():
        raise FileNotFoundError(f"{pool}: no such pool (../shared/data is needed)")
    with open(pool / "queries.tsv", encoding="utf-8") as f:
        queries = dict(line.rstrip("\n").split("\t", 1) for line in f)
    with open(pool / "collection.tsv", encoding="utf-8") as f:
        texts = dict(line.rstrip("\n").split("\t", 1) for line in f)
    listed = pool / "candidates.run" if (pool / "candidates.run").is_file() else pool / "qrels.with_text.txt"
    candidates: dict[str, list[str]] = {}
    with open(listed) as f:
        for line in f:
            parts = line.split()
            candidates.setdefault(parts[0], []).append(parts[2])
    candidates = {q: pids for q, pids in candidates.items() if q in queries}
    return Pool(name, queries, texts, candidates, read_qrels(pool / "qrels.txt"))


def rerank(model, pool: Pool, max_length: int) -> dict[str, dict[str, float]]:
    """Per-query nDCG@10 and MRR@10 of ``model`` re-ranking each query's candidates (queries in
    qrels without candidates score 0, as trec_eval -c does)."""
    import numpy as np

    from pyserini_i3.utils import trec

    qids = sorted(pool.candidates)
    pids = sorted({p for q in qids for p in pool.candidates[q]})
    row = {p: i for i, p in enumerate(pids)}
    p_vecs = model.encode_passages([pool.texts[p] for p in pids], max_length=max_length, show_progress=True)
    q_vecs = model.encode_queries([pool.queries[q] for q in qids])
    run = {}
    for q, qv in zip(qids, q_vecs):
        scores = {p: float(np.dot(qv, p_vecs[row[p]])) for p in pool.candidates[q]}
        run |= trec.dense_run([q], list(scores), np.array([list(scores.values())]), 10)  # ties: candidate order
    judged = {q: rels for q, rels in pool.qrels.items() if q in pool.queries}
    evaluated = trec.evaluate(judged, run, MEASURES.values())
    return {name: evaluated[m] for name, m in MEASURES.items()}


def load(name: str):
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.resolve import load_model

    if name.startswith("base:"):  # queries cut at 64 tokens, as the SciFact benchmark's zero-shot row
        return I3Model.from_backbone(name[len("base:"):], variant="de", query_max_length=64)
    return load_model(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--pool", default="dl19", help="dl19 | dl20 | dev600")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    import torch

    from pyserini_i3.utils import trec

    torch.manual_seed(0)
    try:
        pool = load_pool(Path(args.data), args.pool)
    except FileNotFoundError as exc:
        print(f"rerank_judged: {exc}", file=sys.stderr)
        return 1
    for name in args.models:
        start = time.time()
        per_query = rerank(load(name), pool, args.max_length)
        result = {"model": name, "pool": args.pool, "queries": len(per_query["ndcg@10"]),
                  "passages": len({p for pids in pool.candidates.values() for p in pids}),
                  "max_length": args.max_length, **trec.means(per_query, digits=4),
                  "seconds": round(time.time() - start)}
        print(json.dumps(result), flush=True)
        if args.output:
            with open(args.output, "a") as out:
                out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
