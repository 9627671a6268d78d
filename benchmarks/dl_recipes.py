"""Training recipes on MS MARCO queries, judged on TREC DL19 and DL20: does training end at or above the base?

Trains each row of ``benchmarks/scifact.py`` (the same ``train`` flags and sizing: 100
steps of 8 queries x 4 passages, 128 tokens, lr 2e-5 / 1e-3) on the 600 MS MARCO dev
queries of ``../shared/data/msmarco-pools/dev600`` (540 with their positive in the pool;
15 BM25 negatives each from ``python -m pyserini_i3 prepare`` over the 11,809-passage
pool, as ``make default-encoder`` does), then re-ranks the judged passages of every DL19
and DL20 query (``benchmarks/rerank_judged.py``: 5,694 and 5,138 passages, nDCG@10 with
pytrec_eval over the official qrels) and compares each row with the zero-shot base by a
paired t-test on per-query nDCG@10.

Each finished (row, seed) leaves a cell in ``OUT/cells/`` (committed): per-pool scores,
per-query nDCG@10, seconds, the validation record of best-step rows.  A cell found there
is not trained again, so the grid runs in parts; ``--cells-only`` reports what is there.
Usage: ``python benchmarks/dl_recipes.py --rows de full full-lgate --seeds 1``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, also when loaded by path

import rerank_judged  # noqa: E402
import scifact  # noqa: E402  (the rows, the sizing and the training of the SciFact benchmark)

from pyserini_i3.utils import trec  # noqa: E402
from pyserini_i3.utils.files import write_atomic  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
POOLS = ("dl19", "dl20")
BASE = "zero-shot base (DE)"
EVAL_LENGTH = 128  # passages are cut at the training length when judged (MS MARCO passages are short)


def prepare_dev600(data: Path, work: Path, log: Path) -> tuple[Path, float]:
    """The dev600 training file (BM25 negatives from the pool), made once."""
    pool = data / "msmarco-pools" / "dev600"
    out = work / "dev600-train.jsonl"
    seconds = 0.0
    if not scifact.done(out):
        seconds = scifact.sh([PY, "-m", "pyserini_i3", "prepare", "--collection", pool / "collection.tsv",
                              "--queries", pool / "queries.tsv", "--qrels", pool / "qrels.txt", "--output", out,
                              "--depth", "100", "--negatives", "15"], log)
    return out, seconds


def evaluate(model_dir: Path | None, pools: dict, args) -> dict:
    """Per pool: mean and per-query nDCG@10 of re-ranking its judged passages (``None``: the zero-shot base)."""
    name = f"base:{args.base}" if model_dir is None else str(model_dir)
    model = rerank_judged.load(name)
    result = {}
    for pool_name, pool in pools.items():
        per_query = rerank_judged.rerank(model, pool, args.eval_passage_length)["ndcg@10"]
        result[pool_name] = {"ndcg@10": trec.mean(per_query), "per_query_ndcg10": per_query}
    return result


def cell_path(out: Path, stem: str) -> Path:
    return out / "cells" / f"{stem}.e{EVAL_LENGTH}.json"


def load_or_make_cell(out: Path, stem: str, make, cells_only: bool) -> dict | None:
    path = cell_path(out, stem)
    if path.is_file():
        return json.loads(path.read_text())
    if cells_only:
        return None
    record = make()
    write_atomic(path, json.dumps(record, indent=1) + "\n")
    return record


def report(cells: dict[str, list[dict]], base: dict, args, out: Path) -> str:
    labels = {kind: scifact.ROWS[kind][0] for kind in cells}
    lines = ["# Recipes trained on MS MARCO dev600, re-ranking the judged passages of TREC DL19 and DL20", "",
             f"Produced by `python benchmarks/dl_recipes.py {' '.join(args.argv)}` on {platform.machine()}, "
             f"{os.cpu_count()} cores, torch CPU, {time.strftime('%Y-%m-%d')}.",
             "Training: the 600 MS MARCO dev queries of `../shared/data/msmarco-pools/dev600` (540 with their "
             "positive in the pool), 15 BM25 negatives each (`pyserini_i3 prepare`), the SciFact benchmark's sizing "
             f"({args.steps} steps of {args.batch_size} queries x {args.group_size} passages, "
             f"{args.train_passage_length} tokens, lr {args.lr} / {args.head_lr}). Test: each query's judged "
             f"passages with text re-ranked (DL19 43 queries, DL20 54; passages cut at {EVAL_LENGTH} tokens), "
             "nDCG@10 by pytrec_eval over the official qrels. Mean ± sample sd over seeds; the difference to the "
             "zero-shot base is a paired t-test on per-query nDCG@10 (each row's per-query mean over seeds).", "",
             "| recipe | seeds | " + " | ".join(f"{p.upper()} nDCG@10 | vs base (p)" for p in POOLS)
             + " | train min |",
             "|---|---|" + "---|---:|" * len(POOLS) + "---:|"]
    lines.append("| " + " | ".join([BASE, "-", *(cell for p in POOLS for cell in (f"{base[p]['ndcg@10']:.4f}", "-")),
                                     "-"]) + " |")
    summary = {}
    for kind, records in cells.items():
        row = [labels[kind], ", ".join(str(r["seed"]) for r in records)]
        summary[kind] = {}
        for p in POOLS:
            values = [r["pools"][p]["ndcg@10"] for r in records]
            mean_query = {q: statistics.fmean(r["pools"][p]["per_query_ndcg10"][q] for r in records)
                          for q in base[p]["per_query_ndcg10"]}
            spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
            test = trec.paired_t(mean_query, base[p]["per_query_ndcg10"])
            row += [f"{statistics.fmean(values):.4f}{spread}",
                    "the base itself" if test.get("identical") else f"{test['mean_diff']:+.4f} ({test['p']:.2g})"]
            summary[kind][p] = {"mean": statistics.fmean(values), "per_seed": values, "vs_base": test}
        minutes = [r["seconds"]["train"] / 60 for r in records if r["seconds"].get("train")]
        row.append(f"{statistics.fmean(minutes):.1f}" if minutes else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Rows: `train` flags on top of the sizing: " + "; ".join(
        f"`{kind}` = `{' '.join(scifact.ROWS[kind][1])}`" for kind in cells) + ". The rows named *distilled from "
        "the base* train on the file with the base model's own score of every pair (`teacher-scores`).", "",
        "Per-run records: `cells/` (per-query nDCG@10 per pool, seconds, the validation record of best-step rows)."]
    write_atomic(out / "recipes.json", json.dumps({"base": {p: base[p]["ndcg@10"] for p in POOLS},
                                                   "rows": summary, "sizing": {
                                                       k: getattr(args, k) for k in scifact.TRAIN_KEYS}},
                                                  indent=2) + "\n")
    text = "\n".join(lines) + "\n"
    write_atomic(out / "recipes.md", text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "dl-recipes")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "dl-pools")
    parser.add_argument("--rows", nargs="+", default=["de", "full"], choices=list(scifact.ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--cells-only", action="store_true", help="train nothing: report the cells in OUT/cells/")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    # the SciFact benchmark's sizing, so that a row means the same training on both collections
    defaults = scifact.build_parser().parse_args([])
    for key in (*scifact.TRAIN_KEYS, "base"):
        if key != "steps":
            setattr(args, key, getattr(defaults, key))
    args.eval_passage_length = EVAL_LENGTH

    if not (args.shared / "msmarco-pools" / "dev600" / "queries.tsv").is_file():
        print(f"dl-recipes: skipped: {args.shared}/msmarco-pools not found (the shared data is not beside this "
              "checkout)")
        return 0
    work, out = args.work, args.out
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    pools = {p: rerank_judged.load_pool(args.shared, p) for p in POOLS}
    base = load_or_make_cell(out, "base", lambda: {"pools": evaluate(None, pools, args),
                                                   "date": time.strftime("%Y-%m-%d")}, args.cells_only)
    if base is None:
        raise SystemExit(f"dl-recipes: --cells-only and no base cell in {out / 'cells'}")
    train_file = None
    cells: dict[str, list[dict]] = {}
    for kind in args.rows:
        for seed in args.seeds:
            name = scifact.model_name(kind, seed, args)

            def make(kind=kind, seed=seed, name=name):
                nonlocal train_file
                if train_file is None:
                    train_file, _ = prepare_dev600(args.shared, work, log)
                model, train_s = scifact.train(kind, seed, train_file, work, log, args)
                start = time.time()
                record = {"row": kind, "seed": seed, "model": name, "pools": evaluate(model, pools, args),
                          "seconds": {"train": round(train_s, 1) or None, "evaluate": round(time.time() - start, 1)},
                          "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
                if (model / "validation.json").is_file():
                    record["validation"] = json.loads((model / "validation.json").read_text())
                return record

            record = load_or_make_cell(out, name, make, args.cells_only)
            if record is not None:
                cells.setdefault(kind, []).append(record)
    print(report(cells, base["pools"], args, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
