"""Queries with many judged positives: ``--other-positives`` (passages of a batch judged relevant to a query
besides its own positive) and ``--positive-sampling each`` (an epoch over every (query, positive) pair)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from helpers import base_args, command, log, run, write_training_file
from pyserini_i3.modeling.losses import info_nce, judged, passage_id
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.training.batching import Collator, Group, StepDataset, TrainGroups
from pyserini_i3.training.examples import Passage, TrainingExample, read_training_file

SCORES = torch.tensor([[4.0, 1.0, 3.0, 0.5], [0.2, 2.0, 1.5, 5.0]])
TARGET = torch.tensor([0, 2])
RELEVANT = torch.tensor([[True, False, True, False], [False, False, True, False]])  # query 0: passage 2 too


def test_keep_is_plain_cross_entropy_and_mask_drops_the_other_positive():
    plain = F.cross_entropy(SCORES, TARGET)
    assert torch.equal(info_nce(SCORES, TARGET), plain)
    assert torch.equal(info_nce(SCORES, TARGET, RELEVANT, "keep"), plain)
    without = torch.stack([F.cross_entropy(SCORES[0, [0, 1, 3]][None], torch.tensor([0])),
                           F.cross_entropy(SCORES[1][None], TARGET[1:])]).mean()
    torch.testing.assert_close(info_nce(SCORES, TARGET, RELEVANT, "mask"), without)
    assert info_nce(SCORES, TARGET, RELEVANT, "mask") < plain  # the judged passage scored high: no longer a penalty
    nothing_else = torch.zeros_like(RELEVANT)
    assert torch.equal(info_nce(SCORES, TARGET, nothing_else, "mask"), plain)
    torch.testing.assert_close(info_nce(SCORES, TARGET, nothing_else, "positive"), plain)  # round-off only


def test_positive_is_minus_log_the_softmax_mass_on_every_judged_passage():
    p = SCORES.softmax(-1)
    expected = -torch.log(torch.stack([p[0, 0] + p[0, 2], p[1, 2]])).mean()
    torch.testing.assert_close(info_nce(SCORES, TARGET, RELEVANT, "positive"), expected)
    with pytest.raises(ValueError, match="other_positives must be one of keep, mask, positive, not 'drop'"):
        info_nce(SCORES, TARGET, RELEVANT, "drop")


def test_ids_mark_the_judged_passages_of_the_batch():
    ids = torch.tensor([passage_id(d) for d in ("a", "b", "c", "a")])
    positives = torch.tensor([[passage_id("a"), passage_id("c")], [passage_id("b"), -1]])
    assert judged(positives, ids).tolist() == [[True, False, True, True], [False, True, False, False]]
    assert passage_id("a") == passage_id("a") != passage_id("b") and 0 <= passage_id("a") < 2 ** 63


def test_the_collator_sends_ids_only_when_asked_and_the_forward_uses_them(tiny_backbone):
    torch.manual_seed(0)
    model = I3Model.from_backbone(str(tiny_backbone), variant="de")
    shared = Passage("d1", "", "paris is the capital of france")
    groups = [Group("capital of france", [shared, Passage("d2", "", "berlin")], [None, None], None, ("d1", "d3")),
              Group("french capital", [Passage("d3", "", "paris city"), shared], [None, None], None, ("d3",))]
    assert "passage_ids" not in Collator(model, 16, 32)(groups)
    batch = Collator(model, 16, 32, judged=True)(groups)
    assert batch["positive_ids"].shape == (2, 2) and batch["positive_ids"][1, 1] == -1
    model.eval()
    with torch.no_grad():
        keep = model(**batch)
        mask = model(**batch, other_positives="mask")
    # query 0: d3 (query 1's positive) is judged relevant to it, and so is d1's second copy (query 1's hard
    # negative); query 1: d1 is not judged relevant to it, nothing is masked
    expected = torch.stack([F.cross_entropy(keep.scores[0, [0, 1]][None], torch.tensor([0])),
                            F.cross_entropy(keep.scores[1][None], torch.tensor([2]))]).mean()
    torch.testing.assert_close(mask.contrastive_loss, expected)
    assert torch.equal(mask.scores, keep.scores)  # the scores themselves are reported unmasked


def test_a_bad_value_is_one_line(tiny_backbone, tmp_path):
    data = write_training_file(tmp_path / "train.jsonl")
    proc = command("train", *base_args(tiny_backbone, data, tmp_path / "out", "--other-positives", "drop"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith("--other-positives must be one of keep, mask, positive, "
                                                         "not 'drop'")


def shared_positives(path):
    """Each query also judges the next query's positive relevant: other positives in every batch."""
    rows = [json.loads(line) for line in write_training_file(path).read_text().splitlines()]
    for i, row in enumerate(rows):
        row["positive_passages"].append(rows[(i + 1) % len(rows)]["positive_passages"][0])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.slow
def test_two_processes_mark_the_judged_passages_of_the_whole_batch(tiny_backbone, tmp_path):
    """Under torchrun the ids are gathered with the vectors: two processes train as one (positive mode)."""
    data = shared_positives(tmp_path / "train.jsonl")
    common = ["--max-steps", "3", "--optimizer", "sgd", "--learning-rate", "0.1", "--head-learning-rate", "0.1",
              "--weight-decay", "0", "--other-positives", "positive"]
    run(base_args(tiny_backbone, data, tmp_path / "keep", *common[:-2]))
    run(base_args(tiny_backbone, data, tmp_path / "one", *common))
    run(base_args(tiny_backbone, data, tmp_path / "two", *common), torchrun=2)
    one, two = log(tmp_path / "one"), log(tmp_path / "two")
    assert abs(one[0]["contrastive"] - log(tmp_path / "keep")[0]["contrastive"]) > 1e-3  # it did change the loss
    for a, b in zip(one, two, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-5


def test_each_positive_gets_its_own_item_and_one_keeps_today_s_draws(tmp_path):
    examples = [TrainingExample("q1", "one", [Passage("a", "", "a"), Passage("b", "", "b"), Passage("c", "", "c")],
                                [Passage(f"n{i}", "", "n") for i in range(4)]),
                TrainingExample("q2", "two", [Passage("d", "", "d")], [Passage(f"m{i}", "", "m") for i in range(4)])]
    each = TrainGroups(examples, 3, seed=7, positives="each")
    assert len(each) == 4
    assert [each.group(k, 0).passages[0].docid for k in range(4)] == ["a", "b", "c", "d"]
    assert each.group(1, 0).relevant == ("a", "b", "c")  # every judged positive stays judged
    one = TrainGroups(examples, 3, seed=7)
    assert len(one) == 2 and one.group(0, 0).passages[0].docid in {"a", "b", "c"}
    with pytest.raises(ValueError, match="positives must be one of one, each, not 'all'"):
        TrainGroups(examples, 3, positives="all")
    data = shared_positives(tmp_path / "train.jsonl")  # 16 queries, 2 positives each
    assert len(StepDataset(TrainGroups(read_training_file(data), 3, 42, positives="each"), 4, 8, 42)) == 32
    assert StepDataset(TrainGroups(read_training_file(data), 3, 42, positives="each"), 4, 8, 42).steps_per_epoch == 8


def test_an_epoch_over_pairs_has_as_many_steps_as_pairs_per_batch(tiny_backbone, tmp_path):
    data = shared_positives(tmp_path / "train.jsonl")
    run(base_args(tiny_backbone, data, tmp_path / "pairs", "--positive-sampling", "each"))
    assert len(log(tmp_path / "pairs")) == 32 // 4  # 16 queries x 2 positives, batch 4
    proc = command("train", *base_args(tiny_backbone, data, tmp_path / "bad", "--positive-sampling", "all"))
    assert proc.returncode != 0 and proc.stderr.strip().splitlines()[-1].endswith(
        "--positive-sampling must be one of one, each, not 'all'")
