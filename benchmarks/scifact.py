"""SciFact benchmark: BM25, zero-shot base, DE vs I^3 fine-tuned (several seeds), hybrid.

Trains on SciFact train (809 queries, BM25 hard negatives from
``python -m pyserini_i3 prepare``), evaluates on the 300 test queries over all
5,183 passages, every run made by Pyserini's own commands:

    pyserini.index.lucene / pyserini.search.lucene        BM25
    pyserini.encode ... --to-faiss / pyserini.search.faiss dense (base, DE, I^3)
    pyserini.search.hybrid                                 BM25 + best I^3 seed

and scored in process by ``pyserini_i3.utils.trec`` (nDCG@10, R@100, MRR@10: trec_eval's
measures by pytrec_eval, ``-c``, MRR@10 on the top 10; means to 4 decimals, as
``pyserini.eval.trec_eval`` prints them and as the cells made with it hold them),
and writes ``runs/scifact/``: results.md / results.json (mean and spread over seeds,
a per-query paired t-test of I^3 against DE), the config of every run, gzipped TREC
runs, and training curves (training_curves.png).

Two caches make it resumable.  Finished stages (models, indexes, runs) are kept in
``--work`` (gitignored), so an interrupted benchmark continues where it stopped.  Each
finished (row, seed) run also leaves a *cell* in ``OUT/cells/`` (committed with the
results): its scores, per-query nDCG@10, seconds, training log and top-100 TREC run.  A
cell found there is not trained again, so a grid can be run in parts, on different
machines, and a report rebuilt from the committed cells alone.  Usage:
``make bench-scifact`` or ``python benchmarks/scifact.py --help``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pyserini_i3.eval.commands import display_path
from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
from pyserini_i3.utils import pyserini_commands as cmd
from pyserini_i3.utils import trec
from pyserini_i3.utils.files import copy_atomic, write_atomic

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
METRICS = tuple(trec.MEASURES)  # ndcg_cut_10, recall_100, recip_rank (on the top 10: MRR@10)
LABELS = {m: trec.MEASURES[m].label for m in METRICS}


# --------------------------------------------------------------------------- plumbing
def sh(cmd: list[str], log: Path, env: dict | None = None) -> float:
    """Run a command, append its output to ``log``; returns wall seconds."""
    start = time.time()
    with open(log, "a") as f:
        f.write("$ " + " ".join(map(str, cmd)) + "\n")
        f.flush()
        proc = subprocess.run(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT,
                              env={**os.environ, **(env or {})})
    if proc.returncode:
        raise SystemExit(f"bench-scifact: command failed (exit {proc.returncode}), see {log}: "
                         f"{' '.join(map(str, cmd))}")
    return time.time() - start


def done(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def trained(model_dir: Path) -> bool:
    """A finished model directory (``train`` writes it last, whole)."""
    from pyserini_i3.modeling.storage import is_i3_model_dir, model_format

    return is_i3_model_dir(model_dir) and model_format(model_dir) is not None


def write_collection(shared: Path, work: Path) -> dict:
    """All 5,183 passages (Pyserini JsonCollection + title/text fields) and the test and train topics/qrels."""
    from pyserini_i3.eval.collections import beir_split, beir_test_collection

    out = work / "collection"
    corpus = out / "corpus" / "corpus.jsonl"
    if not done(corpus) or not done(out / "train-qrels.txt"):
        beir_test_collection(shared / "scifact", out)
        beir_split(shared / "scifact", out, "train")
    return {"corpus": corpus, "topics": out / "topics.tsv", "qrels": out / "qrels.txt",
            "train_topics": out / "train-topics.tsv", "train_qrels": out / "train-qrels.txt"}


def scores(qrels: Path, run: Path) -> dict[str, float]:
    """nDCG@10, R@100 and MRR@10 of ``run`` (``trec_eval -c``, by pytrec_eval in process), to 4 decimals as
    ``pyserini.eval.trec_eval`` printed them for the cells made with it."""
    return trec.means(trec.evaluate(trec.read_qrels(qrels), trec.read_run(run), METRICS), digits=4)


def per_query(qrels: Path, run: Path) -> dict[str, float]:
    """Per-query nDCG@10 for the paired t-test."""
    return trec.evaluate(trec.read_qrels(qrels), trec.read_run(run), ["ndcg_cut_10"])["ndcg_cut_10"]


# --------------------------------------------------------------------------- stages
def bm25(col: dict, work: Path, log: Path, topics: Path, name: str) -> tuple[Path, float]:
    index = work / "bm25-index"
    if not done(index / "segments_1") and not any(index.glob("segments_*")):
        shutil.rmtree(index, ignore_errors=True)
        sh([PY, *cmd.lucene_index(col["corpus"].parent, index)], log)
    run = work / "runs" / f"{name}.trec"
    seconds = 0.0
    if not done(run):
        run.parent.mkdir(parents=True, exist_ok=True)
        seconds = sh([PY, *cmd.search_lucene(index, topics, run, hits=1000, threads=2, batch_size=64,
                                             remove_query=True)], log)
    return run, seconds


def dense_index(model: Path, col: dict, work: Path, log: Path, args) -> tuple[Path, float]:
    index = work / "indexes" / model.name
    seconds = 0.0
    if not done(index / "index"):
        shutil.rmtree(index, ignore_errors=True)
        # --add-sep (with a title field): "title [SEP] text", the join the trainer uses; no --dimension: the
        # plugin gives Pyserini the encoder's own
        seconds = sh([PY, *cmd.encode_faiss(col["corpus"], index, model, fields=("title", "text"),
                                            max_length=args.eval_passage_length)], log)
    return index, seconds


def dense_run(model: Path, index: Path, topics: Path, work: Path, log: Path, name: str) -> Path:
    run = work / "runs" / f"{name}.trec"
    if not done(run):
        run.parent.mkdir(parents=True, exist_ok=True)
        sh([PY, *cmd.search_faiss(index, topics, model, run, hits=1000, batch_size=64, threads=2)], log)
    return run


def hybrid_run(model: Path, index: Path, topics: Path, work: Path, log: Path, alpha: float, name: str) -> Path:
    run = work / "runs" / f"{name}.trec"
    if not done(run):
        sh([PY, *cmd.search_hybrid(index, model, work / "bm25-index", topics, run, alpha=alpha, hits=1000,
                                   batch_size=64, threads=2)], log)
    return run


# rows of the comparison: name -> (label, `train` flags beyond the shared sizing)
VALIDATION = ["--validation-queries", "50", "--eval-steps", "25"]
GUARD = ["--validation-queries", "80", "--eval-steps", "25", "--validation-significance", "0.05"]
# rows without a validation set say so: `train`'s own default holds out queries (the guard), the rows measure
# each lever alone
NO_VALIDATION = ["--validation-queries", "0", "--validation-significance", "0"]
ROWS = {
    "de": ("DE fine-tuned", ["--variant", "de"]),
    "de-layer": ("DE + layer (interactor over [p ; H_p[1:]], no pseudo-query)", ["--variant", "de-layer"]),
    "full-norec": ("I^3 full, no reconstruction loss", ["--variant", "full", "--rec-weight", "0"]),
    "full": ("I^3 full fine-tuned", ["--variant", "full"]),
    "official-layout": ("I^3, the released code's layout (R over p, I over [p ; mean Q~])",
                        ["--variant", "full", "--reconstructor-attends-to", "cls", "--interactor-input",
                         "cls+pseudo-mean"]),
    "full-gate": ("I^3 full, identity start (scalar gate)", ["--variant", "full", "--interactor-gate", "scalar"]),
    "full-lgate": ("I^3 full, identity start (linear gate)", ["--variant", "full", "--interactor-gate", "linear"]),
    "full-lgate-fast": ("I^3 full, identity start (linear gate at lr 1e-2)",
                        ["--variant", "full", "--interactor-gate", "linear", "--gate-learning-rate", "1e-2"]),
    "full-gate-fast": ("I^3 full, identity start (scalar gate at lr 1e-2)",
                       ["--variant", "full", "--interactor-gate", "scalar", "--gate-learning-rate", "1e-2"]),
    "official": ("I^3 official fine-tuned", ["--variant", "official"]),
    # the pseudo-query's target (issue 26): a larger weight on the slot-aligned target, and the bag-of-words one
    "full-rec1": ("I^3 full, reconstruction weight 1.0", ["--variant", "full", "--rec-weight", "1.0"]),
    "full-bag": ("I^3 full, bag-of-words reconstruction target", ["--variant", "full", "--rec-loss", "bag"]),
    "full-bag1": ("I^3 full, bag-of-words reconstruction target, weight 1.0",
                  ["--variant", "full", "--rec-loss", "bag", "--rec-weight", "1.0"]),
    # the best-step lever: 50 train queries held out, evaluated every 25 steps (step 0 = the start included)
    "de-val": ("DE fine-tuned, best validation step", ["--variant", "de", *VALIDATION]),
    "full-lgate-val": ("I^3 full, identity start (linear gate), best validation step",
                       ["--variant", "full", "--interactor-gate", "linear", *VALIDATION]),
    # the guarded best step: 80 train queries held out, and a trained step replaces the start (step 0, the base
    # for an identity start and the DE; the base itself for full) only when it beats it by a one-sided paired
    # t-test at 0.05 on them
    "de-guard": ("DE fine-tuned, guarded best step", ["--variant", "de", *GUARD]),
    "full-guard": ("I^3 full fine-tuned, guarded best step (tested against the base)",
                   ["--variant", "full", *GUARD]),
    "full-lgate-guard": ("I^3 full, identity start (linear gate), guarded best step",
                         ["--variant", "full", "--interactor-gate", "linear", *GUARD]),
    # the distillation lever: KL to the base model's own scores of every training pair (teacher-scores)
    "full-lgate-kd": ("I^3 full, identity start (linear gate), distilled from the base",
                      ["--variant", "full", "--interactor-gate", "linear"]),
    "full-lgate-kd-val": ("I^3 full, identity start (linear gate), distilled from the base, best validation step",
                          ["--variant", "full", "--interactor-gate", "linear", *VALIDATION]),
}
KD_FROM_BASE = ("full-lgate-kd", "full-lgate-kd-val")  # rows trained on the file with the base's scores
BEST_STEP_OF = {"de-val": "de", "full-lgate-val": "full-lgate", "full-lgate-kd-val": "full-lgate-kd",
                "de-guard": "de", "full-lgate-guard": "full-lgate", "full-guard": "full"}
LEVER_OF = {**BEST_STEP_OF, "full-lgate-kd": "full-lgate", "full-rec1": "full", "full-bag": "full",
            "full-bag1": "full"}  # a lever's row -> the same row without it
BASE = "zero-shot base (DE)"
I3_ROWS = ("full", "full-gate", "full-lgate", "full-norec", "official-layout", "official", "full-lgate-val",
           "full-lgate-fast", "full-gate-fast", "full-lgate-guard", "full-guard", "full-rec1", "full-bag", "full-bag1",
           *KD_FROM_BASE)

TRAIN_KEYS = ("base", "steps", "batch_size", "group_size", "train_passage_length", "lr", "head_lr", "rec_weight",
              "tied")


def train_tag(args) -> str:
    """Short hash of the training settings: models of other sizings never mix in the cache."""
    import hashlib

    settings = json.dumps({k: getattr(args, k) for k in TRAIN_KEYS}, sort_keys=True)
    return hashlib.sha1(settings.encode()).hexdigest()[:8]


def model_name(kind: str, seed: int, args) -> str:
    """The name of a row's trained model: its directory in --work, its configs and its cell."""
    return f"{kind}-seed{seed}-{train_tag(args)}"


def row_train_file(kind: str, train_file: Path, work: Path, log: Path, args) -> Path:
    """The training file of a row: the shared one, or (KD_FROM_BASE) a copy with the base's score on every pair."""
    if kind not in KD_FROM_BASE:
        return train_file
    scored = train_file.with_suffix(".kd-base.jsonl")
    if not done(scored):
        sh([PY, "-m", "pyserini_i3", "teacher-scores", "--train-file", train_file, "--teacher", args.base,
            "--output", scored, "--query-max-length", "64", "--passage-max-length", str(args.train_passage_length)],
           log)
    return scored


def train(kind: str, seed: int, train_file: Path, work: Path, log: Path, args) -> tuple[Path, float]:
    """The trained model directory and the seconds training took now (0.0: it was in the cache)."""
    out = work / "models" / model_name(kind, seed, args)
    seconds = 0.0
    if not trained(out):
        train_file = row_train_file(kind, train_file, work, log, args)
        argv = [PY, "-m", "pyserini_i3", "train", "--train-file", train_file, "--output-dir", out,
               "--base", args.base, "--seed", str(seed), "--max-steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--group-size", str(args.group_size),
               "--passage-max-length", str(args.train_passage_length), "--query-max-length", "64",
               "--learning-rate", str(args.lr), "--head-learning-rate", str(args.head_lr),
               "--rec-weight", str(args.rec_weight), "--save-steps", "25", "--resume", "true", "--progress", "false",
               *NO_VALIDATION, *ROWS[kind][1]]  # a row's own flags come last: they win over the shared ones
        if args.tied:
            argv += ["--tied-encoders", "true"]
        seconds = sh(argv, log)
    return out, seconds


def zero_shot(work: Path, args) -> Path:
    """The base model as an I^3 model directory in DE mode (no training)."""
    out = work / "models" / "base-zero-shot"
    if not trained(out):
        from pyserini_i3.modeling.model import I3Model

        I3Model.from_backbone(args.base, variant="de", query_max_length=64).save_pretrained(out)
    return out


def merge_timings(path: Path, timings: dict[str, float]) -> dict[str, float]:
    """Seconds per stage; a stage taken from the cache (0.0 now) keeps the seconds of the run that made it
    (null if that run predates this record)."""
    merged = json.loads(path.read_text()) if path.is_file() else {}
    for key, seconds in timings.items():
        if seconds > 0:
            merged[key] = round(seconds, 1)
        else:
            merged.setdefault(key, None)
    write_atomic(path, json.dumps(merged, indent=2) + "\n")
    return {key: merged[key] for key in timings}


# --------------------------------------------------------------------------- cells
def cell_stem(model_name: str, args) -> str:
    """A cell's file stem: the model (row, seed, training settings) and the evaluation length."""
    return f"{model_name}.e{args.eval_passage_length}"


def top100(run: Path) -> bytes:
    """The first 100 hits per query, gzipped (mtime 0: the same run gives the same bytes); enough for every
    metric reported (R@100 is the deepest)."""
    text = "".join(line for line in run.read_text().splitlines(keepends=True) if int(line.split()[3]) <= 100)
    return gzip.compress(text.encode(), mtime=0)


def load_cell(out: Path, stem: str) -> dict | None:
    """The committed record of a finished (row, seed) run, or None if there is none."""
    path = out / "cells" / f"{stem}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def save_cell(out: Path, stem: str, kind: str, seed: int, model: Path, run: Path, seconds: dict,
              qrels: Path) -> dict:
    """Write a finished run's cell (run, training log, configs, then the record last) and return the record."""
    cells = out / "cells"
    write_atomic(cells / f"{stem}.top100.trec.gz", top100(run))
    copy_atomic(model / "train_log.jsonl", cells / f"{stem}.train_log.jsonl")
    training_args = json.loads((model / "training_args.json").read_text())
    for key in ("train_file", "output_dir", "base"):  # paths as the record names them, not this machine's
        if key in training_args and os.path.isabs(str(training_args[key])):
            training_args[key] = display_path(training_args[key])
    write_atomic(out / "configs" / f"{model.name}.training_args.json", json.dumps(training_args, indent=2) + "\n")
    copy_atomic(model / "config.json", out / "configs" / f"{model.name}.config.json")
    record = {"row": kind, "seed": seed, "model": model.name, "scores": scores(qrels, run),
              "seconds": seconds, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "date": time.strftime("%Y-%m-%d"), "per_query_ndcg10": per_query(qrels, run)}
    if (model / "validation.json").is_file():  # a best-step row: which step was kept, and every evaluation
        record["validation"] = json.loads((model / "validation.json").read_text())
    write_atomic(cells / f"{stem}.json", json.dumps(record, indent=1) + "\n")
    return record


# --------------------------------------------------------------------------- report
def summarize(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def plot_curves(logs: dict[str, Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, path in sorted(logs.items()):
        with open(path) as f:
            records = [json.loads(line) for line in f]
        steps = [r["step"] for r in records]
        axes[0].plot(steps, [r["contrastive"] for r in records], label=name, alpha=0.8)
        if any(r["reconstruction"] for r in records):
            axes[1].plot(steps, [r["reconstruction"] for r in records], label=name, alpha=0.8)
    axes[0].set(title="contrastive loss", xlabel="step")
    axes[1].set(title="reconstruction loss (I^3)", xlabel="step")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def _timing_cells(entry: dict) -> str:
    t = entry.get("seconds") or {}
    cells = []
    for key in ("train", "encode"):
        values = [v for v in t.get(key, []) if v]
        cells.append(f"{statistics.fmean(values) / 60:.1f}" if values else "-")
    return " | ".join(cells)


def seed_spread(systems: dict) -> dict[str, dict]:
    """The sd of nDCG@10 over seeds of every system with several, and its ratio to DE's (empty without DE's)."""
    de = systems.get(ROWS["de"][0], {}).get("scores", {}).get("ndcg_cut_10")
    if not de or de["n"] < 2 or de["sd"] == 0:
        return {}
    return {name: {"sd": entry["scores"]["ndcg_cut_10"]["sd"], "ratio_to_de": entry["scores"]["ndcg_cut_10"]["sd"]
                   / de["sd"]} for name, entry in systems.items() if entry["scores"]["ndcg_cut_10"]["n"] > 1}


def write_report(results: dict, out: Path, name: str = "results") -> None:
    rows = ["| system | " + " | ".join(LABELS[m] for m in METRICS) + " | runs | train min | encode min |",
            "|---|---|---|---|---|---:|---:|"]
    for system, entry in results["systems"].items():
        cells = []
        for m in METRICS:
            s = entry["scores"][m]
            cells.append(f"{s['mean']:.4f} ± {s['sd']:.4f}" if s["n"] > 1 else f"{s['mean']:.4f}")
        seeds = entry.get("per_seed_ndcg10")
        label = f"{system} (seeds: {', '.join(f'{v:.4f}' for v in seeds)})" if seeds and len(seeds) > 1 else system
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {entry['runs']} | {_timing_cells(entry)} |")
    lines = [
        f"# SciFact test (300 queries, 5,183 passages){results.get('title', '')}", "",
        f"Produced by `{results['command']}` on {results['machine']}, {results['date']}.",
        "Mean ± sample standard deviation over seeds; metrics: trec_eval's (`-c`; MRR@10 on the top 10) by "
        "pytrec_eval; "
        "train / encode min: mean minutes per seed of `pyserini_i3 train` and `pyserini.encode` (cores shared "
        "with other jobs unless said otherwise).", "",
        *rows, "",
    ]
    spread = seed_spread(results["systems"])
    if spread:
        lines += ["Seed spread: the sample sd of nDCG@10 over seeds, and its ratio to DE's: " + "; ".join(
            f"{name} {s['sd']:.4f} ({s['ratio_to_de']:.2f}x)" for name, s in spread.items()) + ".", ""]
    tests = results.get("ttests", [])
    if tests:
        lines += ["Paired t-tests on per-query nDCG@10 (each system's per-query mean over seeds, "
                  f"{tests[0]['queries']} queries):", "",
                  "| system | against | mean difference | t | p |", "|---|---|---:|---:|---:|"]
        for t in tests:
            t_p = "- | identical" if t.get("identical") else f"{t['t']:.3f} | {t['p']:.3g}"
            lines.append(f"| {t['system']} | {t['against']} | {t['mean_diff']:+.4f} | {t_p} |")
        lines.append("")
    lines += ["## Sizing", "", "```json", json.dumps(results["sizing"], indent=2), "```", "",
              "Rows: `train` flags on top of the sizing: " + "; ".join(
                  f"`{row}` = `{' '.join(ROWS[row][1])}`" for row in results["sizing"].get("variants", [])) + ".", "",
              "Per-run configs: `configs/`; each trained run's scores, per-query nDCG@10, seconds, training log "
              "and TREC run (top 100 per query): `cells/`; TREC runs of the other systems: `*.top100.trec.gz`; "
              f"curves: `{curves_name(name)}`."]
    write_atomic(out / f"{name}.md", "\n".join(lines) + "\n")
    write_atomic(out / f"{name}.json", json.dumps(results, indent=2) + "\n")


def curves_name(report: str) -> str:
    """The training-curves figure of a report: training_curves.png for ``results``, else training_curves-REPORT.png."""
    return "training_curves.png" if report == "results" else f"training_curves-{report}.png"


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options; their defaults are the sizing other benchmarks train rows with."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=REPO / ".work" / "bench-scifact")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "scifact")
    parser.add_argument("--report", default="results", help="report name: OUT/REPORT.md and .json (default: results)")
    parser.add_argument("--base", default=DEFAULT_BACKBONE)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", "--rows", nargs="+", default=["de", "full"], choices=list(ROWS),
                        help="rows to train and compare (default: de full)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--train-passage-length", type=int, default=128)
    parser.add_argument("--eval-passage-length", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--rec-weight", type=float, default=0.1)
    parser.add_argument("--tied", action="store_true", help="tie query and passage encoders")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.3, 0.5, 1.0, 2.0],
                        help="hybrid weights tried on the train queries (never on test)")
    parser.add_argument("--no-hybrid", action="store_true", help="skip the hybrid BM25 + best I^3 seed row")
    parser.add_argument("--cells-only", action="store_true",
                        help="train nothing: report the (row, seed) runs already in OUT/cells/ (a grid run in parts)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    if not (args.shared / "scifact" / "corpus.jsonl").is_file():
        print(f"bench-scifact: skipped: {args.shared}/scifact not found (the shared data is not beside this checkout)")
        return 0
    work, out = args.work, args.out
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    col = write_collection(args.shared, work)
    timings: dict[str, float] = {}

    train_file = work / "scifact-train.jsonl"
    if not done(train_file):
        timings["prepare"] = sh([PY, "-m", "pyserini_i3", "prepare", "--beir-dir", args.shared / "scifact",
                                 "--split", "train", "--output", train_file, "--depth", "100", "--negatives", "15"],
                                log)

    runs: dict[str, list[Path]] = {}  # systems evaluated from their runs here: BM25, the base, hybrid
    bm25_run, timings["bm25_search"] = bm25(col, work, log, col["topics"], "bm25")
    runs["BM25 (Pyserini)"] = [bm25_run]

    base = zero_shot(work, args)
    base_index, timings["encode_base"] = dense_index(base, col, work, log, args)
    runs[BASE] = [dense_run(base, base_index, col["topics"], work, log, "base")]

    # trained rows: one cell per (row, seed), taken from OUT/cells/ when it is there
    cells: dict[str, list[dict]] = {}
    for kind in args.variants:
        for seed in args.seeds:
            name = model_name(kind, seed, args)
            stem = cell_stem(name, args)
            record = load_cell(out, stem)
            if record is None and args.cells_only:
                continue
            if record is None:
                model, train_s = train(kind, seed, train_file, work, log, args)
                index, encode_s = dense_index(model, col, work, log, args)
                run = dense_run(model, index, col["topics"], work, log, name)
                seconds = merge_timings(work / "timings.json", {f"train_{name}": train_s, f"encode_{name}": encode_s})
                record = save_cell(out, stem, kind, seed, model, run,
                                   {"train": seconds[f"train_{name}"], "encode": seconds[f"encode_{name}"]},
                                   col["qrels"])
            cells.setdefault(ROWS[kind][0], []).append(record)

    timings = merge_timings(work / "timings.json", timings)
    results: dict = {"systems": {},
                     "command": "python benchmarks/scifact.py " + " ".join(sys.argv[1:] if argv is None else argv),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch CPU",
                     "date": time.strftime("%Y-%m-%d"), "sizing": {k: v for k, v in vars(args).items()
                                                                   if k not in ("shared", "work", "out", "report")},
                     "timings_s": timings}
    results["sizing"]["base"] = str(args.base)
    per_system_queries: dict[str, dict[str, float]] = {}
    published: dict[str, Path] = {}  # runs of the systems not in cells, written as OUT/NAME.top100.trec.gz
    for name, system_runs in runs.items():
        run_scores = [scores(col["qrels"], r) for r in system_runs]
        results["systems"][name] = {"runs": len(system_runs),
                                    "scores": {m: summarize([s[m] for s in run_scores]) for m in METRICS},
                                    "per_seed_ndcg10": [s["ndcg_cut_10"] for s in run_scores]}
        published[name] = system_runs[0]
        per_system_queries[name] = per_query(col["qrels"], system_runs[0])
    for name, records in cells.items():
        results["systems"][name] = {
            "runs": len(records), "scores": {m: summarize([r["scores"][m] for r in records]) for m in METRICS},
            "per_seed_ndcg10": [r["scores"]["ndcg_cut_10"] for r in records],
            "models": [r["model"] for r in records],
            "seconds": {stage: [r["seconds"][stage] for r in records] for stage in ("train", "encode")}}
        per_system_queries[name] = {q: statistics.fmean(r["per_query_ndcg10"][q] for r in records)
                                    for q in records[0]["per_query_ndcg10"]}

    tests = []
    de, layer = ROWS["de"][0], ROWS["de-layer"][0]
    for kind in args.variants:
        name = ROWS[kind][0]
        if name not in cells:
            continue
        against = [de] if kind != "de" else []
        if kind in ("full", "full-gate", "full-lgate", "full-lgate-fast", "full-gate-fast") and layer in cells:
            against.append(layer)
        if kind in LEVER_OF:  # a lever against the same row without it, and against where it started
            against += [ROWS[LEVER_OF[kind]][0], BASE]
        for other in dict.fromkeys(against):  # in order, once each
            if other in cells or other == BASE:
                tests.append({"system": name, "against": other,
                              **trec.paired_t(per_system_queries[name], per_system_queries[other])})
    results["ttests"] = tests

    i3_name = next((ROWS[k][0] for k in args.variants if k in I3_ROWS and ROWS[k][0] in cells), None)
    if i3_name and not args.no_hybrid:  # hybrid BM25 + the best I^3 seed; alpha chosen on the train queries
        record = max(cells[i3_name], key=lambda r: r["scores"]["ndcg_cut_10"])
        # the model itself: from --work, or trained again (training is seeded: the same model)
        model, _ = train(record["row"], record["seed"], train_file, work, log, args)
        index, _ = dense_index(model, col, work, log, args)
        bm25_train, _ = bm25(col, work, log, col["train_topics"], "bm25-train")
        tuning = {}
        for alpha in args.alphas:
            run = hybrid_run(model, index, col["train_topics"], work, log, alpha,
                             f"hybrid-{model.name}-train-a{alpha}")  # the model in the name: cached runs never mix
            tuning[alpha] = scores(col["train_qrels"], run)["ndcg_cut_10"]
        alpha = max(tuning, key=tuning.get)
        results["hybrid_alpha_on_train"] = {"tried": tuning, "chosen": alpha}
        hybrid = hybrid_run(model, index, col["topics"], work, log, alpha, f"hybrid-{model.name}")
        name = f"hybrid BM25 + {i3_name} (best seed, alpha {alpha})"
        s = scores(col["qrels"], hybrid)
        results["systems"][name] = {"runs": 1, "scores": {m: summarize([s[m]]) for m in METRICS}}
        published[name] = hybrid

    out.mkdir(parents=True, exist_ok=True)
    for run in published.values():
        write_atomic(out / f"{run.stem}.top100.trec.gz", top100(run))
    logs = {r["model"]: out / "cells" / f"{cell_stem(r['model'], args)}.train_log.jsonl"
            for records in cells.values() for r in records}
    if logs:
        plot_curves(logs, out / curves_name(args.report))
    write_report(results, out, args.report)
    print((out / f"{args.report}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
