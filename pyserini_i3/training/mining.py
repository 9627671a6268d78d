"""Hard-negative mining through Pyserini: BM25 over a Lucene index, or a FAISS index of a dense model.

A *miner* is any object with ``search(queries, k) -> {qid: [docid, ...]}`` (best
first), where ``queries`` is a sequence of ``(qid, text)``.  :class:`BM25Miner`
wraps ``pyserini.search.lucene.LuceneSearcher``, :class:`DenseMiner` wraps
``pyserini.search.faiss.FaissSearcher``; both use ``batch_search``.

The BM25 index is built the Pyserini way: the collection is written as a
``JsonCollection`` (``{"id", "contents"}``, contents = ``title\\ntext`` exactly as
Anserini's ``BeirFlatCollection`` joins them for the BEIR "flat" indexes) and
``python -m pyserini.index.lucene`` indexes it in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Protocol

from pyserini_i3.utils.formats import Doc
from pyserini_i3.utils.pyserini_commands import lucene_index

DOCS_PER_FILE = 500_000  # Anserini indexes one file per thread


class Miner(Protocol):
    def search(self, queries: Sequence[tuple[str, str]], k: int) -> dict[str, list[str]]: ...


# --------------------------------------------------------------------------- BM25 index


def write_json_collection(docs: dict[str, Doc], directory: Path, docs_per_file: int = DOCS_PER_FILE) -> list[Path]:
    """Write ``docs`` as Pyserini JsonCollection files (``docs00.jsonl``, ...) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with contextlib.ExitStack() as files:
        for i, (docid, doc) in enumerate(docs.items()):
            if i % docs_per_file == 0:
                files.close()  # the previous file, if any
                paths.append(directory / f"docs{len(paths):02d}.jsonl")
                out = files.enter_context(open(paths[-1], "w", encoding="utf-8"))
            out.write(json.dumps({"id": docid, "contents": doc.contents()}, ensure_ascii=False) + "\n")
    return paths


def build_bm25_index(docs: dict[str, Doc], work_dir: Path, threads: int = 2) -> Path:
    """Index ``docs`` with Pyserini under ``work_dir``; returns the index directory.

    Raises RuntimeError with the end of the indexer's log when it fails.
    """
    input_dir, index_dir, log = work_dir / "collection", work_dir / "index", work_dir / "index.log"
    write_json_collection(docs, input_dir)
    print(f"prepare: building a BM25 index of {len(docs):,} passages with pyserini.index.lucene", file=sys.stderr)
    with open(log, "w") as log_file:
        status = subprocess.run([sys.executable, *lucene_index(input_dir, index_dir, threads)], stdout=log_file,
                                stderr=subprocess.STDOUT)
    if status.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise RuntimeError(f"pyserini.index.lucene failed (exit {status.returncode}):\n{tail}")
    return index_dir


# --------------------------------------------------------------------------- miners


def _require_dir(path, what: str) -> str:
    if not Path(path).is_dir():
        raise FileNotFoundError(f"{what} not found: {path}")
    return str(path)


class BM25Miner:
    """BM25 top-k from a Lucene index (Anserini's defaults k1=0.9, b=0.4)."""

    def __init__(self, index_dir, threads: int = 2, k1: float = 0.9, b: float = 0.4):
        index_dir = _require_dir(index_dir, "BM25 index")
        from pyserini.search.lucene import LuceneSearcher

        self.searcher = LuceneSearcher(index_dir)
        self.searcher.set_bm25(k1, b)
        self.threads = threads

    def search(self, queries: Sequence[tuple[str, str]], k: int) -> dict[str, list[str]]:
        qids, texts = [q for q, _ in queries], [t for _, t in queries]
        hits = self.searcher.batch_search(texts, qids, k=k, threads=self.threads)
        return {qid: [hit.docid for hit in hits.get(qid, [])] for qid in qids}


class DenseMiner:
    """Top-k from a Pyserini FAISS index (``index`` + ``docid`` files) with a query encoder.

    ``encoder`` is a Pyserini ``QueryEncoder``-like object (``encode(text) -> np.ndarray``;
    the command line passes our ``I3QueryEncoder``) or a string that FaissSearcher
    resolves itself (a DPR/TCT/ANCE/auto model name or path).
    """

    def __init__(self, index_dir, encoder, threads: int = 2):
        index_dir = _require_dir(index_dir, "dense index")
        from pyserini.search.faiss import FaissSearcher

        self.searcher = FaissSearcher(index_dir, encoder)
        self.threads = threads

    def search(self, queries: Sequence[tuple[str, str]], k: int) -> dict[str, list[str]]:
        qids, texts = [q for q, _ in queries], [t for _, t in queries]
        hits = self.searcher.batch_search(texts, qids, k=k, threads=self.threads)
        return {qid: [hit.docid for hit in hits.get(qid, [])] for qid in qids}


# --------------------------------------------------------------------------- selection


def query_rng(seed: int, qid: str) -> random.Random:
    """A generator that depends on (seed, qid) only, so a query's negatives do not depend on the others."""
    return random.Random(f"{seed}:{qid}")


def select_negatives(ranked: Sequence[str], exclude: Container[str], n: int, rng: random.Random,
                     known: Container[str]) -> tuple[list[str], int]:
    """Pick ``n`` negatives from ``ranked`` (already cut to the mining depth).

    Docids in ``exclude`` (the judged positives) and repeats are dropped; docids not
    in ``known`` (the collection) are dropped and counted.  When more than ``n``
    candidates remain, ``n`` are drawn with ``rng`` (as Tevatron's build scripts
    do) and kept in rank order.  Returns ``(negatives, outside_collection)``.
    """
    seen: set[str] = set()
    candidates: list[str] = []
    outside = 0
    for docid in ranked:
        if docid in seen or docid in exclude:
            continue
        seen.add(docid)
        if docid in known:
            candidates.append(docid)
        else:
            outside += 1
    if len(candidates) > n:
        candidates = [candidates[i] for i in sorted(rng.sample(range(len(candidates)), n))]
    return candidates, outside
