"""``pyserini.search.hybrid --normalization`` on a query whose BM25 hits all share one score.

Pyserini's ``HybridSearcher._hybrid_results`` divides by the range of each side's scores;
one BM25 hit (or ties only) makes it 0 and ends the run with ZeroDivisionError.  The
plugin's guard (``pyserini_i3.plugin.fusion``) changes that case only: checked here
against Pyserini's own function, then with the real command on a collection where it
happens.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from helpers import run_python

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]

CORPUS = [  # "zebra" is in one passage only: its BM25 list has a single hit
    ("d1", "The zebra is an African equine with black and white stripes."),
    ("d2", "Horses and donkeys are equines; they are domesticated animals."),
    ("d3", "Stripes on animals may deter biting flies, some studies suggest."),
    ("d4", "A horse can sleep standing up, locking its legs."),
]
TOPICS = [("q1", "zebra"), ("q2", "horse animals stripes")]


def hits(pairs):
    return [SimpleNamespace(docid=d, score=s) for d, s in pairs]


@pytest.fixture(scope="module")
def searcher():
    from pyserini.search.hybrid import HybridSearcher

    return HybridSearcher


def test_unguarded_pyserini_divides_by_zero(searcher):
    original = searcher._hybrid_results.__wrapped__  # Pyserini's own function, below the guard
    with pytest.raises(ZeroDivisionError):
        original(hits([("d1", 0.9), ("d2", 0.4)]), hits([("d1", 2.5)]), alpha=0.5, k=10, normalization=True)


@pytest.mark.parametrize("normalization", [True, False])
def test_the_guard_changes_nothing_when_no_side_ties(searcher, normalization):
    dense, sparse = hits([("d1", 0.9), ("d2", 0.4), ("d3", 0.7)]), hits([("d1", 2.5), ("d4", 1.0), ("d3", 3.0)])
    guarded = searcher._hybrid_results(dense, sparse, 0.5, 10, normalization)
    original = searcher._hybrid_results.__wrapped__(dense, sparse, 0.5, 10, normalization)
    assert [(h.docid, h.score) for h in guarded] == [(h.docid, h.score) for h in original]


def test_a_tied_side_contributes_nothing(searcher):
    dense = hits([("d1", 0.9), ("d2", 0.4), ("d3", 0.7)])
    for sparse in (hits([("d1", 2.5)]), hits([("d2", 1.0), ("d3", 1.0)])):
        fused = searcher._hybrid_results(dense, sparse, 0.5, 10, normalization=True)
        expected = {"d1": 0.5, "d2": -0.5, "d3": (0.7 - 0.65) / 0.5}  # the dense side, normalised
        assert {h.docid: round(h.score, 6) for h in fused} == {d: round(s, 6) for d, s in expected.items()}
    both = searcher._hybrid_results(hits([("d1", 0.5)]), hits([("d1", 2.0)]), 0.5, 10, normalization=True)
    assert [(h.docid, h.score) for h in both] == [("d1", 0.0)]


def test_hybrid_command_survives_a_single_bm25_hit(tmp_path, minimal_env):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "docs.jsonl").write_text("".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in CORPUS))
    (tmp_path / "topics.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in TOPICS))
    py = lambda *args: run_python(args, minimal_env, cwd=tmp_path)  # noqa: E731
    py("-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus", "--index", "lucene",
       "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1", "--storeRaw")
    py("-m", "pyserini.encode", "input", "--corpus", "corpus", "output", "--embeddings", "faiss", "--to-faiss",
       "encoder", "--encoder", "i3", "--batch-size", "4")
    py("-m", "pyserini.search.lucene", "--index", "lucene", "--topics", "topics.tsv", "--bm25", "--hits", "10",
       "--output", "bm25.txt")
    bm25 = [line.split() for line in (tmp_path / "bm25.txt").read_text().splitlines()]
    assert [row[2] for row in bm25 if row[0] == "q1"] == ["d1"]  # the case that crashed
    py("-m", "pyserini.search.hybrid", "dense", "--index", "faiss", "--encoder", "i3", "sparse", "--index", "lucene",
       "fusion", "--alpha", "0.5", "--normalization", "run", "--topics", "topics.tsv", "--hits", "4",
       "--output", "hybrid.txt")
    rows = [line.split() for line in (tmp_path / "hybrid.txt").read_text().splitlines()]
    for qid in ("q1", "q2"):
        mine = [r for r in rows if r[0] == qid]
        assert len(mine) == 4 and all(math.isfinite(float(r[4])) for r in mine), qid
