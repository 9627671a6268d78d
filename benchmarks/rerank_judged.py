"""Quick check of an encoder on a TREC pool: re-rank each query's judged passages.

    python benchmarks/rerank_judged.py MODEL [MODEL ...] [--pool dl19] [--max-length 128]

MODEL is ``i3``, an I^3 model directory, or ``base:NAME`` for a Hugging Face encoder used as
a plain dual encoder (``base:sentence-transformers/all-MiniLM-L6-v2``, the zero-shot base).
For every query of ``../shared/data/msmarco-pools/POOL`` the passages judged for it whose
text is in the pool (``qrels.with_text.txt``: 5,694 for DL19) are scored and ranked, and
nDCG@10 is computed with pytrec_eval over the official qrels.  It takes a few minutes on
2 CPU cores where a full pool through Pyserini takes a quarter of an hour, so it is the
screen used while choosing a training recipe; the figures that count are the Pyserini runs
(``python -m pyserini_i3 pyserini-runs``).  Prints one line per model; ``--output F``
appends them to F as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load(name: str):
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.resolve import load_model

    if name.startswith("base:"):
        return I3Model.from_backbone(name[len("base:"):], variant="de")
    return load_model(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--pool", default="dl19")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    import numpy as np
    import pytrec_eval
    import torch

    torch.manual_seed(0)
    pool = Path(args.data) / "msmarco-pools" / args.pool
    if not pool.is_dir():
        print(f"rerank_judged: {pool}: no such pool (../shared/data is needed)", file=sys.stderr)
        return 1
    with open(pool / "queries.tsv", encoding="utf-8") as f:
        queries = dict(line.rstrip("\n").split("\t", 1) for line in f)
    with open(pool / "collection.tsv", encoding="utf-8") as f:
        texts = dict(line.rstrip("\n").split("\t", 1) for line in f)
    judged: dict[str, list[str]] = {}
    with open(pool / "qrels.with_text.txt") as f:
        for line in f:
            qid, _, pid, _ = line.split()
            judged.setdefault(qid, []).append(pid)
    from pyserini_i3.utils.formats import read_qrels

    qrels = read_qrels(pool / "qrels.txt")
    qids = [q for q in queries if q in judged]
    pids = sorted({p for q in qids for p in judged[q]})
    row = {p: i for i, p in enumerate(pids)}
    for name in args.models:
        start = time.time()
        model = load(name)
        p_vecs = model.encode_passages([texts[p] for p in pids], max_length=args.max_length, show_progress=True)
        q_vecs = model.encode_queries([queries[q] for q in qids])
        run = {q: {p: float(np.dot(qv, p_vecs[row[p]])) for p in judged[q]} for q, qv in zip(qids, q_vecs)}
        per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
        ndcg = float(np.mean([per_query[q]["ndcg_cut_10"] for q in qids]))
        result = {"model": name, "pool": args.pool, "queries": len(qids), "passages": len(pids),
                  "max_length": args.max_length, "ndcg@10": round(ndcg, 4), "seconds": round(time.time() - start)}
        print(json.dumps(result), flush=True)
        if args.output:
            with open(args.output, "a") as out:
                out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
