"""``python -m pyserini_i3 teacher-scores``: a teacher's logits on every pair, ready for --kd-weight."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from model_fixtures import tiny_backbone  # noqa: F401  (fixture)
from test_trainer import base_args, log, run, write_training_file

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def teacher_scores(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyserini_i3", "teacher-scores", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=300)


def test_scores_are_the_teachers_logits_and_train_distils_from_them(tiny_backbone, tmp_path):
    from pyserini_i3.model import I3Model

    data = write_training_file(tmp_path / "train.jsonl")
    out = tmp_path / "train.kd.jsonl"
    proc = teacher_scores("--train-file", data, "--teacher", tiny_backbone, "--output", out,
                          "--passage-max-length", "32", "--query-max-length", "16")
    assert proc.returncode == 0, proc.stderr
    assert "16 queries, 96 pairs scored" in proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    teacher = I3Model.from_backbone(str(tiny_backbone), variant="de")
    first = rows[0]
    passages = first["positive_passages"] + first["negative_passages"]
    q = teacher.encode_queries([first["query"]], max_length=16)[0]
    p = teacher.encode_passages([teacher.join_title(x["text"], x["title"]) for x in passages], max_length=32)
    expected = p @ q / teacher.config.score_temperature
    assert np.abs(np.array([x["score"] for x in passages]) - expected).max() < 1e-3
    # the rest of the file is unchanged
    original = [json.loads(line) for line in data.read_text().splitlines()]
    for a, b in zip(original, rows, strict=True):
        assert a["query"] == b["query"] and [x["docid"] for x in a["negative_passages"]] == \
            [x["docid"] for x in b["negative_passages"]]
    model = tmp_path / "student"
    run(base_args(tiny_backbone, out, model, "--max-steps", "1"))
    assert log(model)[0]["distillation"] > 0


def test_missing_training_file_is_one_line_and_writes_nothing(tmp_path):
    proc = teacher_scores("--train-file", tmp_path / "nope.jsonl", "--output", tmp_path / "out.jsonl")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"teacher-scores: --train-file {tmp_path / 'nope.jsonl'}: no such file"
    assert not (tmp_path / "out.jsonl").exists()


def test_hybrid_teacher_fuses_as_pyserini_search_hybrid():
    """The fused teacher scores, divided by the dense range, are Pyserini's normalised hybrid scores."""
    from types import SimpleNamespace

    from pyserini.search.hybrid import HybridSearcher

    from pyserini_i3.data import Passage, TrainingExample
    from pyserini_i3.teacher import fuse_bm25

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


def test_hybrid_teacher_needs_dense_scores():
    from pyserini_i3.data import Passage, TrainingExample
    from pyserini_i3.teacher import fuse_bm25

    example = TrainingExample("q7", "q", [Passage("a", "", "t", None)], [])
    with pytest.raises(ValueError, match="query q7: a passage has no dense teacher score"):
        fuse_bm25([example], lambda query, docids: [1.0] * len(docids), alpha=0.5)


def test_teacher_scores_with_bm25_index(tiny_backbone, tmp_path):  # noqa: F811
    """--bm25-index: the BM25 part is Anserini's score of the pair (as pyserini.search.lucene ranks)."""
    from pyserini.search.lucene import LuceneSearcher

    from pyserini_i3.data import Doc
    from pyserini_i3.mining import build_bm25_index
    from pyserini_i3.teacher import LuceneBM25

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
