"""Build a Tevatron-shaped training file with mined hard negatives (``python -m pyserini_i3 prepare``).

Reads a collection, queries and qrels (BEIR layout or MS MARCO TSVs), keeps every
judged-positive passage found in the collection, mines hard negatives with BM25
through Pyserini (or from a FAISS index of a dense model), attaches optional
teacher scores and pseudo-queries, and writes one JSON object per query.

Skipped input (malformed lines, ids the other files do not know, queries left
without a positive) is counted and reported in one summary line on stderr.  The
output file appears only when everything succeeded.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyserini_i3.training.examples import Passage, TrainingExample
from pyserini_i3.training.mining import BM25Miner, DenseMiner, Miner, build_bm25_index, query_rng, select_negatives
from pyserini_i3.utils.files import atomic_file
from pyserini_i3.utils.formats import (
    DUPLICATE,
    FORMATS,
    MALFORMED,
    Doc,
    Problems,
    natural_key,
    positives,
    read_collection,
    read_pseudo_queries,
    read_qrels,
    read_queries,
    read_teacher_scores,
)

# problem kinds counted by prepare, besides the readers' MALFORMED and DUPLICATE
NOT_IN_QUERIES = "not in queries file"
UNKNOWN_DOCIDS = "unknown docids in qrels"
NO_POSITIVE = "without positives"
SHORT = "short of negatives"
OUTSIDE = "hits outside the collection"
NO_TEACHER = "passages without teacher score"


@dataclass
class PrepareConfig:
    collection: Path
    queries: Path
    qrels: Path
    output: Path
    format: str = "auto"
    bm25_index: Path | None = None
    keep_bm25_index: Path | None = None
    dense_index: Path | None = None
    dense_encoder: str | None = None
    dense_encoder_type: str = "i3"
    depth: int = 100
    negatives: int = 15
    teacher_scores: Path | None = None
    pseudo_queries: Path | None = None
    seed: int = 42
    threads: int = 2
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    batch_size: int = 1000  # queries per search call

    def check(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
        if self.depth < 1 or self.negatives < 0 or self.threads < 1 or self.batch_size < 1:
            raise ValueError("--depth and --threads must be >= 1 and --negatives >= 0")
        if self.negatives > self.depth:
            raise ValueError(f"--negatives {self.negatives} cannot be drawn from --depth {self.depth}")
        if self.dense_index and self.bm25_index:
            raise ValueError("give --bm25-index or --dense-index, not both")
        if self.keep_bm25_index and (self.bm25_index or self.dense_index):
            raise ValueError("--keep-bm25-index keeps the BM25 index that prepare builds: not with --bm25-index "
                             "or --dense-index")
        if self.keep_bm25_index and self.keep_bm25_index.exists() and any(self.keep_bm25_index.iterdir()):
            raise ValueError(f"--keep-bm25-index {self.keep_bm25_index}: not empty (its collection files would be "
                             f"indexed again); reuse its index with --bm25-index {self.keep_bm25_index / 'index'}")
        if bool(self.dense_index) != bool(self.dense_encoder):
            raise ValueError("--dense-index and --dense-encoder go together")


@dataclass
class Inputs:
    docs: dict[str, Doc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    teacher: dict[str, dict[str, float]] | None = None
    pseudo: dict[str, str] | None = None


@dataclass
class PrepareResult:
    output: Path
    negatives_wanted: int
    problems: Problems = field(default_factory=Problems)
    written: int = 0
    positives: int = 0
    negatives: int = 0
    with_pseudo: int = 0
    seconds: float = 0.0
    extras: tuple[str, ...] = ()

    def summary_line(self) -> str:
        p = self.problems
        parts = [
            f"prepare: {self.written} queries written ({self.positives} positives, {self.negatives} negatives)",
            p.describe(NO_POSITIVE),
            p.describe(NOT_IN_QUERIES),
            p.describe(UNKNOWN_DOCIDS),
            p.describe(MALFORMED),
            p.describe(DUPLICATE),
        ]
        parts += ([p.describe(SHORT, f"with fewer than {self.negatives_wanted} negatives")]
                  if self.negatives_wanted else [])
        parts += [p.describe(OUTSIDE)] if p.count(OUTSIDE) else []
        parts += [p.describe(NO_TEACHER)] if "teacher" in self.extras else []
        parts += [f"{self.with_pseudo} passages with a pseudo-query"] if "pseudo" in self.extras else []
        return ", ".join(parts) + f"; {self.output.name} in {self.seconds:.1f}s"


# --------------------------------------------------------------------------- steps


def load_inputs(cfg: PrepareConfig, problems: Problems) -> Inputs:
    docs = read_collection(cfg.collection, cfg.format, problems, desc="collection")
    queries = read_queries(cfg.queries, cfg.format, problems)
    qrels = read_qrels(cfg.qrels, problems)
    return Inputs(docs, queries, qrels)


def select_queries(inputs: Inputs, problems: Problems) -> list[tuple[str, list[str]]]:
    """``(qid, positives in the collection)`` for each usable query of the qrels, sorted by qid."""
    selected = []
    for qid in sorted(inputs.qrels, key=natural_key):
        if qid not in inputs.queries:
            problems.add(NOT_IN_QUERIES, f"qid {qid}")
            continue
        found = []
        for docid in positives(inputs.qrels[qid]):
            if docid in inputs.docs:
                found.append(docid)
            else:
                problems.add(UNKNOWN_DOCIDS, f"qid {qid} docid {docid}")
        if found:
            selected.append((qid, found))
        else:
            problems.add(NO_POSITIVE, f"qid {qid}")
    return selected


def load_extras(cfg: PrepareConfig, inputs: Inputs, qids: set[str], problems: Problems) -> None:
    if cfg.teacher_scores:
        inputs.teacher = read_teacher_scores(cfg.teacher_scores, problems, qids)
    if cfg.pseudo_queries:
        inputs.pseudo = read_pseudo_queries(cfg.pseudo_queries, problems)


def open_miner(cfg: PrepareConfig, docs: dict[str, Doc], stack: contextlib.ExitStack,
               query_encoder=None) -> Miner | None:
    """The miner the options ask for; a BM25 index built here lives in a temporary directory,
    or in ``keep_bm25_index`` (index in its ``index/``) when that is given.  A dense miner
    uses ``query_encoder`` (a Pyserini query encoder), else the name ``cfg.dense_encoder``
    for FaissSearcher to resolve."""
    if cfg.negatives == 0:
        return None
    if cfg.dense_index:
        return DenseMiner(cfg.dense_index, query_encoder or cfg.dense_encoder, cfg.threads)
    index = cfg.bm25_index
    if index is None and cfg.keep_bm25_index:
        index = build_bm25_index(docs, cfg.keep_bm25_index, cfg.threads)
    elif index is None:
        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pyserini-i3-bm25-")))
        index = build_bm25_index(docs, work_dir, cfg.threads)
    return BM25Miner(index, cfg.threads, cfg.bm25_k1, cfg.bm25_b)


def make_passage(qid: str, docid: str, inputs: Inputs, result: PrepareResult) -> Passage:
    doc = inputs.docs[docid]
    score = pseudo = None
    if inputs.teacher is not None:
        score = inputs.teacher.get(qid, {}).get(docid)
        if score is None:
            result.problems.add(NO_TEACHER, f"qid {qid} docid {docid}")
    if inputs.pseudo is not None:
        pseudo = inputs.pseudo.get(docid)
        result.with_pseudo += pseudo is not None
    return Passage(docid, doc.title, doc.text, score, pseudo)


def make_example(cfg: PrepareConfig, qid: str, pos: list[str], ranked: list[str], inputs: Inputs,
                 result: PrepareResult) -> TrainingExample:
    exclude = {d for d, rel in inputs.qrels[qid].items() if rel > 0}
    negs, outside = select_negatives(ranked[: cfg.depth], exclude, cfg.negatives, query_rng(cfg.seed, qid), inputs.docs)
    if outside:
        result.problems.add(OUTSIDE, f"qid {qid}", outside)
    if len(negs) < cfg.negatives:
        result.problems.add(SHORT, f"qid {qid}")
    result.positives += len(pos)
    result.negatives += len(negs)
    return TrainingExample(
        qid,
        inputs.queries[qid],
        [make_passage(qid, d, inputs, result) for d in pos],
        [make_passage(qid, d, inputs, result) for d in negs],
    )


def write_examples(cfg: PrepareConfig, selected, inputs: Inputs, miner: Miner | None, result: PrepareResult) -> None:
    """Search in batches and write each example as it is made (memory stays flat)."""
    from tqdm import tqdm

    with (atomic_file(cfg.output) as out,
          tqdm(total=len(selected), desc="negatives", unit="q", disable=None, leave=False) as bar):
        for start in range(0, len(selected), cfg.batch_size):
            batch = selected[start : start + cfg.batch_size]
            ranked = miner.search([(q, inputs.queries[q]) for q, _ in batch], cfg.depth) if miner else {}
            for qid, pos in batch:
                out.write(make_example(cfg, qid, pos, ranked.get(qid, []), inputs, result).to_line())
                result.written += 1
            bar.update(len(batch))


def prepare(cfg: PrepareConfig, miner: Miner | None = None, query_encoder=None) -> PrepareResult:
    """Run the whole preparation; ``miner`` overrides the one the options would open
    (``query_encoder``: the dense miner's, see :func:`open_miner`).

    Raises OSError, ValueError or RuntimeError on failure, leaving no output file.
    """
    cfg.check()
    start = time.perf_counter()
    extras = ("teacher",) * bool(cfg.teacher_scores) + ("pseudo",) * bool(cfg.pseudo_queries)
    result = PrepareResult(Path(cfg.output), cfg.negatives, extras=extras)
    inputs = load_inputs(cfg, result.problems)
    selected = select_queries(inputs, result.problems)
    if not selected:
        raise ValueError("no training examples: " + result.summary_line())
    load_extras(cfg, inputs, {q for q, _ in selected}, result.problems)
    with contextlib.ExitStack() as stack:
        if miner is None:
            miner = open_miner(cfg, inputs.docs, stack, query_encoder)
        write_examples(cfg, selected, inputs, miner if cfg.negatives else None, result)
    result.seconds = time.perf_counter() - start
    return result
