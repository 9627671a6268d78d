"""Screen an encoder on every collection the project can measure, against the zero-shot base.

    python benchmarks/screen.py MODEL [MODEL ...] [--output F.jsonl]

MODEL is ``i3``, an I^3 model directory, or ``base:NAME`` (a Hugging Face encoder as a plain
dual encoder).  For each model, in-process with its own encoders (no index, no JVM):

* ``scifact``: the 300 SciFact test queries over all 5,183 passages (``title [SEP] text``,
  cut at ``--scifact-length``, 256 by default: the base's own limit), exact dot-product
  search, nDCG@10;
* ``dl19``, ``dl20``: each query's judged passages re-ranked (``rerank_judged.py``), nDCG@10;
* ``dev600``: each MS MARCO dev query's BM25 top-20 re-ranked, MRR@10.

MS MARCO passages are cut at ``--msmarco-length`` (128).  It takes about 10 minutes a model on
2 CPU cores.  The figures that count for the shipped encoder are Pyserini's own runs
(``make demo``, ``python -m pyserini_i3 pyserini-runs``); this is the screen used to choose.
Prints one JSON line per model (with the per-query scores under ``per_query`` when
``--output`` is given, so that paired tests can be run on them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rerank_judged  # noqa: E402

from pyserini_i3.utils import trec  # noqa: E402

DATA = rerank_judged.DATA
METRIC = {"scifact": "ndcg@10", "dl19": "ndcg@10", "dl20": "ndcg@10", "dev600": "mrr@10"}


def scifact_test(model, data: Path, max_length: int) -> dict[str, dict[str, float]]:
    """Per-query nDCG@10 and MRR@10 (on the top 10) of exact search over the whole SciFact corpus."""
    from pyserini_i3.utils.formats import read_queries

    root = Path(data) / "scifact"
    with open(root / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    qrels = trec.read_qrels(root / "qrels" / "test.tsv")
    queries = read_queries(root / "queries.jsonl", "beir")
    qids = sorted(qrels)
    p = model.encode_passages([d["text"] for d in docs], [d.get("title") or None for d in docs],
                              max_length=max_length, show_progress=True)
    q = model.encode_queries([queries[i] for i in qids])
    run = trec.dense_run(qids, [d["_id"] for d in docs], q @ p.T, 100)
    evaluated = trec.evaluate(qrels, run, rerank_judged.MEASURES.values())
    return {name: {qid: evaluated[m][qid] for qid in qids} for name, m in rerank_judged.MEASURES.items()}


def screen(name: str, data: Path, scifact_length: int, msmarco_length: int) -> dict:
    model = rerank_judged.load(name)
    result: dict = {"model": name, "per_query": {}}
    start = time.time()
    per_query = {"scifact": scifact_test(model, data, scifact_length)}
    for pool in ("dl19", "dl20", "dev600"):
        per_query[pool] = rerank_judged.rerank(model, rerank_judged.load_pool(data, pool), msmarco_length)
    for collection, scores in per_query.items():
        metric = METRIC[collection]
        result[collection] = round(trec.mean(scores[metric]), 4)
        result["per_query"][collection] = scores[metric]
    result["lengths"] = {"scifact": scifact_length, "msmarco": msmarco_length}
    result["seconds"] = round(time.time() - start)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--scifact-length", type=int, default=256)
    parser.add_argument("--msmarco-length", type=int, default=128)
    parser.add_argument("--output", help="append one JSON line per model (with per-query scores)")
    args = parser.parse_args(argv)
    if not (args.data / "scifact" / "corpus.jsonl").is_file():
        print(f"screen: {args.data}: the shared data is not there", file=sys.stderr)
        return 1
    import torch

    torch.manual_seed(0)
    for name in args.models:
        result = screen(name, args.data, args.scifact_length, args.msmarco_length)
        print(json.dumps({k: v for k, v in result.items() if k != "per_query"}), flush=True)
        if args.output:
            with open(args.output, "a") as out:
                out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
