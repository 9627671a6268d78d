"""The hybrid BM25 teacher of ``teacher-scores`` against Pyserini's own hybrid fusion and BM25 (JVM)."""

from __future__ import annotations

import json

import pytest

from helpers import teacher_scores, write_training_file

pytestmark = pytest.mark.pyserini


@pytest.mark.slow  # imports Pyserini's hybrid searcher: the JVM
def test_hybrid_teacher_fuses_as_pyserini_search_hybrid():
    """The fused teacher scores, divided by the dense range, are Pyserini's normalised hybrid scores."""
    from types import SimpleNamespace

    from pyserini.search.hybrid import HybridSearcher

    from pyserini_i3.training.examples import Passage, TrainingExample
    from pyserini_i3.training.teacher import fuse_bm25

    dense = [12.0, 9.5, 14.0, 3.0]
    sparse = {"a": 7.0, "b": 11.0, "c": 2.5, "d": 4.0}
    passages = [Passage(d, "", "text", s) for d, s in zip("abcd", dense)]
    example = TrainingExample("q1", "a query", passages[:1], passages[1:])
    assert fuse_bm25([example], lambda query, docids: [sparse[d] for d in docids], alpha=1.0) == 1
    ours = {p.docid: p.score / (max(dense) - min(dense)) for p in passages}
    hits = HybridSearcher._hybrid_results(
        [SimpleNamespace(docid=d, score=s) for d, s in zip("abcd", dense)],
        [SimpleNamespace(docid=d, score=s) for d, s in sparse.items()], alpha=1.0, k=4, normalization=True)
    assert {h.docid: round(h.score, 4) for h in hits} == {d: round(s, 4) for d, s in ours.items()}
    assert [h.docid for h in hits] == sorted(ours, key=ours.get, reverse=True)
    assert ours["b"] > ours["a"]  # BM25 promotes b over the dense teacher's a




@pytest.mark.slow
def test_teacher_scores_with_bm25_index(tiny_backbone, tmp_path):
    """--bm25-index: the BM25 part is Anserini's score of the pair (as pyserini.search.lucene ranks)."""
    from pyserini.search.lucene import LuceneSearcher

    from pyserini_i3.training.mining import build_bm25_index
    from pyserini_i3.training.teacher import LuceneBM25
    from pyserini_i3.utils.formats import Doc

    data = write_training_file(tmp_path / "train.jsonl")
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    docs = {p["docid"]: Doc(p["title"], p["text"]) for r in rows
            for p in r["positive_passages"] + r["negative_passages"]}
    index = build_bm25_index(docs, tmp_path / "bm25")
    out = tmp_path / "train.hybrid.jsonl"
    proc = teacher_scores("--train-file", data, "--teacher", tiny_backbone, "--output", out,
                          "--passage-max-length", "32", "--query-max-length", "16",
                          "--bm25-index", index, "--bm25-alpha", "1.0")
    assert proc.returncode == 0, proc.stderr
    assert "BM25 (alpha 1.0)" in proc.stderr
    searcher, bm25 = LuceneSearcher(str(index)), LuceneBM25(index)
    hits = {h.docid: h.score for h in searcher.search(rows[0]["query"], k=len(docs))}
    docids = [p["docid"] for p in rows[0]["positive_passages"] + rows[0]["negative_passages"]]
    assert bm25(rows[0]["query"], docids) == pytest.approx([hits.get(d, 0.0) for d in docids], abs=1e-4)
    fused = [json.loads(line) for line in out.read_text().splitlines()]
    assert fused[0]["positive_passages"][0]["score"] != rows[0]["positive_passages"][0].get("score")

    bad = teacher_scores("--train-file", data, "--teacher", tiny_backbone, "--output", tmp_path / "x.jsonl",
                         "--bm25-index", tmp_path)
    assert bad.returncode == 1 and bad.stderr.strip().endswith("not a Lucene index (no segments file)")
    assert not (tmp_path / "x.jsonl").exists()
