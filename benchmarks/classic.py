"""Classic collections with many graded positives (Cranfield, CISI): what ``train`` gains over the zero-shot base.

SciFact has about one positive per query; Cranfield about 7 (graded 1-4) and CISI about 41
(``../shared/data/classic``, fixed train/test query splits).  Per collection:

    python -m pyserini_i3 prepare --beir-dir DIR --split train ...   BM25 hard negatives (Pyserini)
    python -m pyserini_i3 train --train-file ... ROW-OPTIONS --seed S   each row, each seed
    python -m pyserini.search.lucene ...                                BM25 on the test queries

and every model ranks the test queries over the whole collection in process
(``encode_passages`` / ``encode_queries`` and a dot product, titles joined with [SEP] as
``--add-sep`` does), scored by :mod:`pyserini_i3.utils.trec` (nDCG@10, R@100, MRR@10).  Each
row is compared with the zero-shot base (all-MiniLM-L6-v2 as a dual encoder) by a paired
t-test over the test queries, on each query's mean over the seeds; the report says how many
rows were looked at, so that picking the best can be corrected (Bonferroni).

A row is the options it adds to ``train``'s defaults (``full``: none, what a user gets).  Each
finished (collection, row, seed) leaves a cell in ``OUT/cells/`` (committed): its scores,
per-query nDCG@10, training minutes and training log; a cell is never trained again, so the grid
runs in parts.  Usage: ``python benchmarks/classic.py --rows de full --seeds 1 2 3``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pyserini_i3.utils import pyserini_commands as cmd
from pyserini_i3.utils import trec
from pyserini_i3.utils.files import copy_atomic, write_atomic
from pyserini_i3.utils.formats import read_qrels

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
COLLECTIONS = ("cranfield", "cisi")
METRICS = tuple(trec.MEASURES)
# row -> the options it adds to train's defaults
ROWS: dict[str, list[str]] = {
    "de": ["--variant", "de"],
    "full": [],
    "de-mask": ["--variant", "de", "--other-positives", "mask"],
    "full-mask": ["--other-positives", "mask"],
    "de-positive": ["--variant", "de", "--other-positives", "positive"],
    "full-positive": ["--other-positives", "positive"],
    "de-each-mask": ["--variant", "de", "--positive-sampling", "each", "--other-positives", "mask"],
    "full-each-mask": ["--positive-sampling", "each", "--other-positives", "mask"],
    "de-100": ["--variant", "de", "--max-steps", "100"],
    "full-100": ["--max-steps", "100"],
}


def sh(command: list, log: Path) -> float:
    start = time.time()
    with open(log, "a") as f:
        f.write("$ " + " ".join(map(str, command)) + "\n")
        f.flush()
        proc = subprocess.run(list(map(str, command)), stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SystemExit(f"bench-classic: command failed (exit {proc.returncode}), see {log}")
    return time.time() - start


def row_tag(row: str) -> str:
    return hashlib.sha1(json.dumps(ROWS[row]).encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- stages
def prepared(name: str, data: Path, work: Path, log: Path) -> dict:
    """The training file (train split, BM25 negatives), the BM25 index, the test topics and qrels."""
    source, out = data / name, work / name
    train_file, index = out / "train.jsonl", out / "bm25"
    if not train_file.is_file():
        sh([PY, "-m", "pyserini_i3", "prepare", "--beir-dir", source, "--split", "train", "--output", train_file,
            "--keep-bm25-index", index], log)
    queries = {q["_id"]: q["text"] for q in map(json.loads, (source / "queries.jsonl").read_text().splitlines())}
    qrels = read_qrels(source / "qrels" / "test.tsv")
    topics = out / "test-topics.tsv"
    if not topics.is_file():
        write_atomic(topics, "".join(f"{q}\t{queries[q]}\n" for q in sorted(qrels, key=int)))
    return {"source": source, "train": train_file, "index": index / "index", "topics": topics, "qrels": qrels,
            "queries": {q: queries[q] for q in qrels}}


def rank(model, col: dict) -> trec.Run:
    """The test queries over the whole collection, top 1000, in process."""
    docs = [json.loads(line) for line in (col["source"] / "corpus.jsonl").read_text().splitlines()]
    passages = model.encode_passages([d["text"] for d in docs], [d.get("title") or None for d in docs],
                                     show_progress=True)
    qids = list(col["queries"])
    queries = model.encode_queries([col["queries"][q] for q in qids])
    return trec.dense_run(qids, [d["_id"] for d in docs], queries @ passages.T, 1000)


def evaluate(col: dict, run: trec.Run) -> dict:
    per_query = trec.evaluate(col["qrels"], run)
    return {"scores": {m: round(trec.mean(per_query[m]), 4) for m in METRICS},
            "per_query_ndcg10": per_query["ndcg_cut_10"]}


def base_cell(name: str, col: dict, out: Path) -> dict:
    path = out / "cells" / f"{name}-base.json"
    if path.is_file():
        return json.loads(path.read_text())
    from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
    from pyserini_i3.modeling.model import I3Model

    cell = {"collection": name, "row": "base", **evaluate(col, rank(I3Model.from_backbone(DEFAULT_BACKBONE,
                                                                                         variant="de"), col))}
    write_atomic(path, json.dumps(cell, indent=1) + "\n")
    return cell


def bm25_cell(name: str, col: dict, work: Path, out: Path, log: Path) -> dict:
    path = out / "cells" / f"{name}-bm25.json"
    if path.is_file():
        return json.loads(path.read_text())
    run = work / name / "bm25-test.trec"
    sh([PY, *cmd.search_lucene(col["index"], col["topics"], run, hits=1000, threads=2, batch_size=64)], log)
    cell = {"collection": name, "row": "bm25", **evaluate(col, trec.read_run(run))}
    write_atomic(path, json.dumps(cell, indent=1) + "\n")
    return cell


def trained_cell(name: str, col: dict, row: str, seed: int, work: Path, out: Path, log: Path) -> dict:
    stem = f"{name}-{row}-seed{seed}-{row_tag(row)}"
    path = out / "cells" / f"{stem}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from pyserini_i3.modeling.model import I3Model

    model_dir = work / name / "models" / stem
    shutil.rmtree(model_dir, ignore_errors=True)
    options = ["--train-file", col["train"], *ROWS[row], "--seed", str(seed)]
    seconds = sh([PY, "-m", "pyserini_i3", "train", "--output-dir", model_dir, *options], log)
    cell = {"collection": name, "row": row, "seed": seed, "options": [str(o) for o in options[2:]],
            "train_minutes": round(seconds / 60, 2),
            **evaluate(col, rank(I3Model.from_pretrained(model_dir), col))}
    for extra in ("validation.json",):
        if (model_dir / extra).is_file():
            cell["validation"] = json.loads((model_dir / extra).read_text())
    copy_atomic(model_dir / "train_log.jsonl", out / "cells" / f"{stem}.train_log.jsonl")
    write_atomic(path, json.dumps(cell, indent=1) + "\n")
    return cell


# --------------------------------------------------------------------------- report
def report(results: dict, out: Path, looks: int, command: str) -> str:
    lines = ["# Classic collections: does `train` gain over the zero-shot base?", "",
             f"`{command}` (benchmarks/classic.py), from the committed cells (each made by `python "
             "benchmarks/classic.py --rows ROW --seeds SEED`; its `train` options are in the cell and below). "
             "Train on the train split's queries (BM25 hard negatives from "
             "`prepare`), rank the test split's queries over the whole collection; nDCG@10, R@100 and MRR@10 "
             "(trec_eval's measures, pytrec_eval); mean and spread over seeds. Paired t-test (two-sided) of each "
             "row against the zero-shot base over the test queries, on each query's mean over the seeds; "
             f"{looks} trained rows were looked at here, so a row picked as the best must reach "
             f"p < {0.05 / max(1, looks):.4f} (Bonferroni) to count at 0.05.", ""]
    for name, systems in results.items():
        lines += [f"## {name}", "", "| system | seeds | nDCG@10 | R@100 | MRR@10 | train min | vs base: diff, p |",
                  "|---|---|---|---|---|---|---|"]
        base = systems["base"][0]["per_query_ndcg10"]
        for row, cells in systems.items():
            def cell_mean(m, cells=cells):
                values = [c["scores"][m] for c in cells]
                mean = statistics.fmean(values)
                return f"{mean:.4f}" + (f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else "")
            minutes = [c["train_minutes"] for c in cells if "train_minutes" in c]
            per_query = {q: statistics.fmean(c["per_query_ndcg10"][q] for c in cells) for q in base}
            test = trec.paired_t(per_query, base) if row != "base" else None
            versus = "" if test is None else (
                "identical" if test.get("identical") else f"{test['mean_diff']:+.4f}, p {test['p']:.3g}")
            seeds = ", ".join(str(c["seed"]) for c in cells if "seed" in c) or "-"
            lines.append(f"| {row} | {seeds} | {cell_mean('ndcg_cut_10')} | {cell_mean('recall_100')} | "
                         f"{cell_mean('recip_rank')} | {statistics.fmean(minutes):.1f} | {versus} |"
                         if minutes else f"| {row} | - | {cell_mean('ndcg_cut_10')} | {cell_mean('recall_100')} | "
                         f"{cell_mean('recip_rank')} | - | {versus} |")
        lines.append("")
    lines += ["Rows (options added to `python -m pyserini_i3 train`'s defaults):", ""]
    reported = {row for systems in results.values() for row in systems}
    lines += [f"- `{row}`: `{' '.join(options) or '(none: the defaults)'}`" for row, options in ROWS.items()
              if row in reported]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "classic")
    parser.add_argument("--collections", nargs="+", default=list(COLLECTIONS), choices=COLLECTIONS)
    parser.add_argument("--rows", nargs="+", default=["de", "full"], choices=sorted(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-classic")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "classic")
    parser.add_argument("--report", default="results", help="report name in OUT (default: results)")
    parser.add_argument("--cells-only", action="store_true", help="report the committed cells, train nothing")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"bench-classic: {args.data} not found (../shared/data/classic is needed)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    (args.out / "cells").mkdir(parents=True, exist_ok=True)
    log = args.work / "bench.log"
    results: dict[str, dict[str, list[dict]]] = {}
    for name in args.collections:
        col = prepared(name, args.data, args.work, log)
        systems = {"base": [base_cell(name, col, args.out)], "bm25": [bm25_cell(name, col, args.work, args.out, log)]}
        for row in ROWS:  # the rows asked for are trained; every row's committed cells are reported
            cells = []
            for seed in args.seeds if row in args.rows and not args.cells_only else []:
                cells.append(trained_cell(name, col, row, seed, args.work, args.out, log))
                print(f"[bench-classic] {name} {row} seed {seed}: nDCG@10 {cells[-1]['scores']['ndcg_cut_10']}",
                      flush=True)
            found = sorted(args.out.joinpath("cells").glob(f"{name}-{row}-seed*-{row_tag(row)}.json"))
            cells = [json.loads(path.read_text()) for path in found]
            if cells:
                systems[row] = sorted(cells, key=lambda c: c["seed"])
        results[name] = systems
    command = "python benchmarks/classic.py " + " ".join(argv if argv is not None else sys.argv[1:])
    looks = len({row for systems in results.values() for row in systems} - {"base", "bm25"})
    text = report(results, args.out, looks, command.strip())
    write_atomic(args.out / f"{args.report}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
