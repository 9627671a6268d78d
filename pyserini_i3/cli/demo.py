"""``python -m pyserini_i3 demo``: the whole system on one collection, with Pyserini's commands.

Indexes the collection with ``--encoder i3`` into FAISS and with Lucene (BM25), runs
dense, BM25 and hybrid retrieval, scores the three runs with trec_eval, prints one
table (scores and the seconds each stage took), and writes under ``--out``:

  run.i3.trec, run.bm25.trec, run.hybrid.trec   TREC runs (top 100 per query)
  run.i3.msmarco.tsv                            the dense run as an MS MARCO submission
                                                (qid<TAB>docid<TAB>rank, --output-format msmarco)
  scores.md, scores.json, commands.sh           the table and every command with its seconds

Collection (``--collection auto``): SciFact test (5,183 passages, 300 queries) from
``../shared/data/scifact`` when present; otherwise BEIR's public SciFact download when
online (cached in ``~/.cache/pyserini_i3``); otherwise the small handwritten sample in
``pyserini_i3/sample_collection`` (60 passages, 12 claims), labelled as a sample.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from pyserini_i3.cli.pyserini_runs import METRICS, ROOT, Runner, load_note, write_results

HITS = 100  # every reported metric looks at most 100 deep (R@100)


def find_collection(choice: str, data: Path, cache: Path, log) -> tuple[str, Path, str]:
    """(name, BEIR directory, description) of the collection the demo runs on."""
    from pyserini_i3.pyserini_data import SAMPLE_DIR, download_scifact

    shared = data / "scifact"
    if choice in ("auto", "scifact") and (shared / "corpus.jsonl").is_file():
        return "scifact", shared, f"BEIR SciFact test (from {shared})"
    if choice in ("auto", "scifact"):
        try:
            path = download_scifact(cache)
            return "scifact", path, f"BEIR SciFact test (public BEIR download, cached in {path})"
        except OSError as exc:
            if choice == "scifact":
                raise SystemExit(f"demo: --collection scifact: not in {data} and the download failed ({exc})")
            log(f"SciFact is not in {data} and the BEIR download failed ({exc}): using the sample collection")
    return "sample", SAMPLE_DIR, ("SAMPLE collection: the 60 handwritten passages and 12 claims in "
                                  "pyserini_i3/sample_collection (not SciFact; its scores say nothing about quality)")


def main(argv: list[str]) -> int:
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
    parser.add_argument("--out", type=Path, default=Path("runs") / "demo", help="runs, submission and scores")
    args = parser.parse_args(argv)

    import torch

    from pyserini_i3.defaults import resolve
    from pyserini_i3.pyserini_data import beir_test_collection

    log = lambda msg: print(f"[demo] {msg}", flush=True)  # noqa: E731
    start = time.time()
    name, beir_dir, description = find_collection(args.collection, args.data, args.cache, log)
    work = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    coll = beir_test_collection(beir_dir, work)
    description += f": {coll.num_docs:,} passages, {coll.num_queries} queries"
    log(description)
    encoder_path = resolve(args.encoder)
    encoder_note = (f"Encoder: `--encoder {args.encoder}` = `{encoder_path}`." if encoder_path is not None else
                    "Encoder: `--encoder i3` = an UNTRAINED I^3 (no trained encoder installed).")
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    run = Runner(work, env, log, name="demo")
    stages: dict[str, float] = {}
    (work / "runs").mkdir()

    run("-m", "pyserini.encode", "input", "--corpus", "corpus", "--fields", "title", "text",
        "output", "--embeddings", "indexes/faiss-i3", "--to-faiss",
        "encoder", "--encoder", args.encoder, "--fields", "title", "text", "--add-sep", "--batch-size", "32",
        "--device", device, stream=True)
    stages["I^3 FAISS index (pyserini.encode)"] = run.last_seconds
    run("-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus", "--index",
        "indexes/lucene", "--generator", "DefaultLuceneDocumentGenerator", "--threads", "2", "--storeRaw")
    stages["BM25 Lucene index (pyserini.index.lucene)"] = run.last_seconds
    dense_search = ("-m", "pyserini.search.faiss", "--index", "indexes/faiss-i3", "--topics", "topics.tsv",
                    "--encoder", args.encoder, "--device", device, "--hits", str(HITS), "--batch-size", "32",
                    "--threads", "2")
    run(*dense_search, "--output", "runs/run.i3.trec", stream=True)
    stages["I^3 search (pyserini.search.faiss)"] = run.last_seconds
    run("-m", "pyserini.search.lucene", "--index", "indexes/lucene", "--topics", "topics.tsv", "--bm25",
        "--hits", str(HITS), "--threads", "2", "--batch-size", "32", "--output", "runs/run.bm25.trec", stream=True)
    stages["BM25 search (pyserini.search.lucene)"] = run.last_seconds
    run("-m", "pyserini.search.hybrid", "dense", "--index", "indexes/faiss-i3", "--encoder", args.encoder,
        "--device", device, "sparse", "--index", "indexes/lucene",
        "fusion", "--alpha", str(args.alpha), "--normalization",
        "run", "--topics", "topics.tsv", "--hits", str(HITS), "--batch-size", "32", "--threads", "2",
        "--output", "runs/run.hybrid.trec", stream=True)
    stages["hybrid search (pyserini.search.hybrid)"] = run.last_seconds
    run(*dense_search, "--output-format", "msmarco", "--output", "runs/run.i3.msmarco.tsv", stream=True)
    stages["MS MARCO submission (pyserini.search.faiss --output-format msmarco)"] = run.last_seconds
    t0 = time.time()
    systems = {"BM25": "run.bm25.trec", f"I^3 ({args.encoder})": "run.i3.trec",
               f"hybrid (BM25 alpha {args.alpha}, normalized)": "run.hybrid.trec"}
    scores = {system: run.trec_eval("qrels.txt", f"runs/{file}") for system, file in systems.items()}
    stages["trec_eval (3 runs x 3 metrics)"] = time.time() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    for file in ("run.i3.trec", "run.bm25.trec", "run.hybrid.trec", "run.i3.msmarco.tsv"):
        shutil.copy(work / "runs" / file, args.out / file)
    seconds = time.time() - start
    stage_rows = ["| stage | seconds |", "|---|---:|", *(f"| {k} | {v:.0f} |" for k, v in stages.items()),
                  f"| whole demo (with collection set-up) | {seconds:.0f} |"]
    write_results(args.out, f"demo: {name}", description, encoder_note, run, scores, seconds,
                  extra=["## Time per stage", "", *stage_rows, "",
                         f"Files: {', '.join(f'[{f}]({f})' for f in ('run.i3.trec', 'run.bm25.trec', 'run.hybrid.trec', 'run.i3.msmarco.tsv'))} "
                         "(TREC runs, top 100 per query; MS MARCO-format submission of the I^3 run).", ""])
    data = json.loads((args.out / "scores.json").read_text())
    data["stages_s"] = {k: round(v, 1) for k, v in stages.items()}
    (args.out / "scores.json").write_text(json.dumps(data, indent=2) + "\n")

    width = max(len(s) for s in systems)
    print()
    print(f"{description}")
    print(f"{'run':<{width}}  " + "  ".join(f"{label:>8}" for label, _, _ in METRICS))
    for system, values in scores.items():
        print(f"{system:<{width}}  " + "  ".join(f"{values[label]:>8.4f}" for label, _, _ in METRICS))
    print()
    for stage, secs in stages.items():
        print(f"  {secs:7.1f} s  {stage}")
    print(f"  {seconds:7.1f} s  whole demo ({load_note()})")
    print(f"\nwrote {args.out}/: run.i3.trec, run.bm25.trec, run.hybrid.trec, run.i3.msmarco.tsv, scores.md")
    return 0
