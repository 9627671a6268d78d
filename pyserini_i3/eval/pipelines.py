"""The end-to-end pipelines: the main job (``demo``) and the collection runs (``pyserini-runs``).

Every stage is one of Pyserini's own commands (:mod:`pyserini_i3.utils.pyserini_commands`),
run by a :class:`~pyserini_i3.eval.commands.Runner` in a scratch directory.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyserini_i3.eval.collections import SAMPLE_DIR, beir_test_collection, download_scifact
from pyserini_i3.eval.commands import Runner, display_path
from pyserini_i3.utils import pyserini_commands as cmd
from pyserini_i3.utils.files import copy_atomic


# --------------------------------------------------------------------------- pyserini-runs
def collection_runs(run: Runner, encoder: str, topics: str, qrels: str, fields: list[str],
                    hits: int) -> dict[str, dict[str, float]]:
    """BM25, dense (``--encoder``), hybrid and RRF runs of the collection in ``run.work``, scored."""
    run(*cmd.lucene_index("corpus", "indexes/lucene"))
    # no --dimension: the plugin gives Pyserini the encoder's own (384 for MiniLM, 768 for i3-msmarco)
    run(*cmd.encode_faiss("corpus", "indexes/faiss-i3", encoder, fields=fields, device="cpu"))
    run(*cmd.search_lucene("indexes/lucene", topics, "runs/run.bm25.txt", hits=hits))
    run(*cmd.search_faiss("indexes/faiss-i3", topics, encoder, "runs/run.i3.txt", hits=hits))
    run(*cmd.search_hybrid("indexes/faiss-i3", encoder, "indexes/lucene", topics, "runs/run.hybrid.txt",
                           alpha=0.5, hits=hits))
    run(*cmd.fusion_rrf(["runs/run.bm25.txt", "runs/run.i3.txt"], "runs/run.rrf.txt"))
    return {
        "BM25": run.trec_eval(qrels, "runs/run.bm25.txt"),
        f"I^3 ({encoder})": run.trec_eval(qrels, "runs/run.i3.txt"),
        "hybrid (alpha 0.5, normalized)": run.trec_eval(qrels, "runs/run.hybrid.txt"),
        "RRF (BM25 + I^3)": run.trec_eval(qrels, "runs/run.rrf.txt"),
    }


# --------------------------------------------------------------------------- demo
HITS = 100  # every reported metric looks at most 100 deep (R@100)
DEMO_FILES = ("run.i3.trec", "run.bm25.trec", "run.hybrid.trec", "run.i3.msmarco.tsv")


def find_collection(choice: str, data: Path, cache: Path, log) -> tuple[str, Path, str]:
    """(name, BEIR directory, description) of the collection the demo runs on."""
    shared = data / "scifact"
    if choice in ("auto", "scifact") and (shared / "corpus.jsonl").is_file():
        return "scifact", shared, f"BEIR SciFact test (from {display_path(shared)})"
    if choice in ("auto", "scifact"):
        try:
            path = download_scifact(cache)
            return "scifact", path, "BEIR SciFact test (public BEIR download, cached in ~/.cache/pyserini_i3)"
        except OSError as exc:
            if choice == "scifact":
                raise SystemExit(f"demo: --collection scifact: not in {data} and the download failed ({exc})") from None
            log(f"SciFact is not in {data} and the BEIR download failed ({exc}): using the sample collection")
    return "sample", SAMPLE_DIR, ("SAMPLE collection: the 60 handwritten passages and 12 claims in "
                                  "pyserini_i3/eval/sample_collection (not SciFact; its scores say nothing about "
                                  "quality)")


@dataclass
class DemoResult:
    name: str
    description: str
    scores: dict[str, dict[str, float]]
    stages: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def demo(beir_dir: Path, name: str, description: str, work: Path, out: Path, encoder: str, alpha: float,
         device: str, env: dict, log) -> tuple[DemoResult, Runner]:
    """The main job on a BEIR collection's test split; TREC runs and the MS MARCO submission go to ``out``."""
    start = time.time()
    if work.exists():
        shutil.rmtree(work)
    coll = beir_test_collection(beir_dir, work)
    description += f": {coll.num_docs:,} passages, {coll.num_queries} queries"
    log(description)
    run = Runner(work, env, log, name="demo")
    stages: dict[str, float] = {}
    (work / "runs").mkdir()

    def stage(label: str, args: list[str]) -> None:
        run(*args, stream=True)
        stages[label] = run.last_seconds

    stage("I^3 FAISS index (pyserini.encode)",
          cmd.encode_faiss("corpus", "indexes/faiss-i3", encoder, fields=("title", "text"), device=device))
    stage("BM25 Lucene index (pyserini.index.lucene)", cmd.lucene_index("corpus", "indexes/lucene"))
    dense = dict(index="indexes/faiss-i3", topics="topics.tsv", encoder=encoder, hits=HITS, device=device)
    stage("I^3 search (pyserini.search.faiss)", cmd.search_faiss(output="runs/run.i3.trec", **dense))
    stage("BM25 search (pyserini.search.lucene)",
          cmd.search_lucene("indexes/lucene", "topics.tsv", "runs/run.bm25.trec", hits=HITS, threads=2, batch_size=32))
    stage("hybrid search (pyserini.search.hybrid)",
          cmd.search_hybrid("indexes/faiss-i3", encoder, "indexes/lucene", "topics.tsv", "runs/run.hybrid.trec",
                            alpha=alpha, hits=HITS, device=device))
    stage("MS MARCO submission (pyserini.search.faiss --output-format msmarco)",
          cmd.search_faiss(output="runs/run.i3.msmarco.tsv", output_format="msmarco", **dense))
    t0 = time.time()
    systems = {"BM25": "run.bm25.trec", f"I^3 ({encoder})": "run.i3.trec",
               f"hybrid (BM25 alpha {alpha}, normalized)": "run.hybrid.trec"}
    scores = {system: run.trec_eval("qrels.txt", f"runs/{file}") for system, file in systems.items()}
    stages["trec_eval (3 runs x 3 metrics)"] = time.time() - t0
    for file in DEMO_FILES:
        copy_atomic(work / "runs" / file, out / file)
    return DemoResult(name, description, scores, stages, time.time() - start), run


def demo_record_extra(result: DemoResult) -> list[str]:
    """The stage table and file list of the demo's scores.md."""
    rows = ["| stage | seconds |", "|---|---:|", *(f"| {k} | {v:.0f} |" for k, v in result.stages.items()),
            f"| whole demo (with collection set-up) | {result.seconds:.0f} |"]
    files = ", ".join(f"[{f}]({f})" for f in DEMO_FILES)
    return ["## Time per stage", "", *rows, "",
            f"Files: {files} (TREC runs, top 100 per query; MS MARCO-format submission of the I^3 run).", ""]
