"""``python -m pyserini_i3 teacher-scores``: a teacher's logits on every pair, ready for --kd-weight."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import base_args, log, run, teacher_scores, write_training_file


def test_scores_are_the_teachers_logits_and_train_distils_from_them(tiny_backbone, tmp_path):
    from pyserini_i3.modeling.model import I3Model

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


def test_hybrid_teacher_needs_dense_scores():
    from pyserini_i3.training.examples import Passage, TrainingExample
    from pyserini_i3.training.teacher import fuse_bm25

    example = TrainingExample("q7", "q", [Passage("a", "", "t", None)], [])
    with pytest.raises(ValueError, match="query q7: a passage has no dense teacher score"):
        fuse_bm25([example], lambda query, docids: [1.0] * len(docids), alpha=0.5)


def test_denoising_drops_negatives_scored_above_every_positive():
    from pyserini_i3.training.examples import Passage, TrainingExample
    from pyserini_i3.training.teacher import drop_false_negatives

    example = TrainingExample("q1", "q", [Passage("p1", "", "t", 2.0), Passage("p2", "", "t", 5.0)],
                              [Passage(d, "", "t", s) for d, s in [("n1", 6.0), ("n2", 5.0), ("n3", 3.0)]])
    assert drop_false_negatives([example]) == 1  # n1 only: n2 ties the best positive, n3 is above only p1
    assert [p.docid for p in example.negative_passages] == ["n2", "n3"]
    with pytest.raises(ValueError, match="query q2: a passage has no teacher score to denoise by"):
        drop_false_negatives([TrainingExample("q2", "q", [Passage("a", "", "t", None)], [])])


def test_denoise_option_reports_what_it_dropped(tiny_backbone, tmp_path):
    data = write_training_file(tmp_path / "train.jsonl")
    out = tmp_path / "train.kd.jsonl"
    proc = teacher_scores("--train-file", data, "--teacher", tiny_backbone, "--output", out, "--denoise",
                          "--passage-max-length", "32", "--query-max-length", "16")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    kept = sum(len(r["negative_passages"]) for r in rows)
    assert f"{16 * 5 - kept} negatives scored above every positive dropped" in proc.stderr
    for r in rows:
        best = max(p["score"] for p in r["positive_passages"])
        assert all(n["score"] <= best for n in r["negative_passages"])
