"""Validation during training: the held-out split, the scores, the best step kept and what it leaves in the output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import base_args, max_diff, run, write_training_file
from pyserini_i3.training.examples import Passage, TrainingExample, read_training_file
from pyserini_i3.training.validation import BestStep, Validator, hold_out, validation_query_count


def example(qid: str, positives: list[str], negatives: list[str]) -> TrainingExample:
    return TrainingExample(qid, f"query {qid}", [Passage(d, "", f"text {d}") for d in positives],
                           [Passage(d, "", f"text {d}") for d in negatives])


class FixedVectors:
    """A stand-in model: fixed 2-d vectors by text, and a train/eval mode to check it is restored."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors, self.training, self.modes = vectors, True, []

    def eval(self):
        self.training = False
        self.modes.append("eval")

    def train(self, mode: bool = True):
        self.training = mode

    def encode_queries(self, queries, batch_size, max_length):
        return np.array([self.vectors[q] for q in queries], dtype=np.float32)

    def encode_passages(self, texts, titles, batch_size, max_length):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_scores_rank_each_query_over_the_pooled_passages_of_all():
    # q1: its positive a is second (b above it): RR 1/2; q2: its positive c is first: RR 1.
    # b is q1's negative; d, q2's negative, scores high for q1 too, but ranks below its own relevance.
    examples = [example("q1", ["a"], ["b"]), example("q2", ["c"], ["d"])]
    model = FixedVectors({"query q1": [1, 0], "query q2": [0, 1], "text a": [0.5, 0], "text b": [0.9, 0],
                          "text c": [0, 0.9], "text d": [0.1, 0.2]})
    scores = Validator(examples, 32, 128).evaluate(model)
    assert scores["mrr@10"] == pytest.approx(0.75)
    assert scores["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1) / 2)
    assert model.modes == ["eval"] and model.training  # evaluated in eval mode, handed back in train mode


def test_the_pool_holds_every_example_s_passages_once():
    v = Validator([example("q1", ["a", "b"], ["c"]), example("q2", ["c"], ["a"])], 32, 128)
    assert sorted(v.docids) == ["a", "b", "c"] and len(v) == 2
    assert v.qrels == {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}


def test_hold_out_draws_whole_queries_with_the_seed():
    examples = [example(str(i % 10), ["a"], []) for i in range(20)]  # two examples per query id
    train, held = hold_out(examples, 3, seed=1)
    held_ids = {ex.query_id for ex in held}
    assert len(held_ids) == 3 and len(held) == 6
    assert not held_ids & {ex.query_id for ex in train} and len(train) == 14
    assert {ex.query_id for ex in hold_out(examples, 3, seed=1)[1]} == held_ids
    assert any({ex.query_id for ex in hold_out(examples, 3, seed=s)[1]} != held_ids for s in range(2, 6))
    with pytest.raises(ValueError, match="--validation-queries 10 leaves no training query"):
        hold_out(examples, 10, seed=1)


def test_auto_holds_out_a_tenth_of_large_files_only():
    assert [validation_query_count("auto", n) for n in (16, 399, 400, 809, 1349, 9000)] == [0, 0, 80, 80, 134, 500]
    assert validation_query_count("7", 809) == 7 and validation_query_count("0", 809) == 0


class Saved:
    def save_pretrained(self, directory):
        (directory / "model.safetensors").write_text("weights")


def test_the_kept_step_is_the_first_with_the_highest_score_and_survives_a_resume(tmp_path):
    best = BestStep(tmp_path, "ndcg@10", queries=5)
    kept = [best.record(step, {"ndcg@10": s, "mrr@10": 0.0}, Saved())
            for step, s in [(0, 0.5), (2, 0.7), (4, 0.7), (6, 0.6)]]
    assert kept == [True, True, False, False]
    assert best.kept["step"] == 2 and (best.dir / "model.safetensors").is_file()
    record = json.loads((tmp_path / "validation.json").read_text())
    assert (record["best_step"], record["queries"], [e["step"] for e in record["evaluations"]]) == (2, 5, [0, 2, 4, 6])
    resumed = BestStep(tmp_path, "ndcg@10", queries=5, resume_step=4)
    assert [e["step"] for e in resumed.evaluations] == [0, 2, 4] and resumed.kept["step"] == 2
    BestStep(tmp_path, "ndcg@10", queries=5)  # a fresh run forgets the old best model
    assert not best.dir.exists()


def _scores(values: list[float]) -> dict[str, dict[str, float]]:
    per_query = {f"q{i}": v for i, v in enumerate(values)}
    return {"ndcg@10": per_query, "mrr@10": per_query}


def test_with_a_significance_level_a_step_must_beat_the_start_by_a_paired_test(tmp_path):
    best = BestStep(tmp_path, "ndcg@10", queries=8, significance=0.05)
    start = [0.5, 0.2, 0.9, 0.4, 0.6, 0.3, 0.7, 0.5]
    lucky = [0.9, 0.0, 0.9, 0.4, 0.9, 0.1, 0.7, 0.5]  # higher mean (+0.05), by chance on a few queries
    better = [v + 0.1 + 0.01 * (i % 3) for i, v in enumerate(start)]  # every query a little higher
    kept = []
    for step, values in [(0, start), (10, lucky), (20, better), (30, [v + 0.05 for v in better])]:
        per_query = _scores(values)
        kept.append(best.record(step, {"ndcg@10": float(np.mean(values)), "mrr@10": 0.0}, Saved(), per_query))
    assert kept == [True, False, True, True]
    record = json.loads((tmp_path / "validation.json").read_text())
    p_lucky = [e for e in record["evaluations"] if e["step"] == 10][0]["p_vs_start"]
    assert p_lucky > 0.05 and "p_vs_start" not in record["evaluations"][0]
    assert record["significance"] == 0.05 and record["start_per_query"]["q2"] == 0.9
    resumed = BestStep(tmp_path, "ndcg@10", queries=8, resume_step=20, significance=0.05)
    assert resumed.start == record["start_per_query"] and resumed.kept["step"] == 30

    plain = BestStep(tmp_path / "plain", "ndcg@10", queries=8)  # level 0: any higher mean replaces the start
    assert [plain.record(step, {"ndcg@10": float(np.mean(v)), "mrr@10": 0.0}, Saved(), _scores(v))
            for step, v in [(0, start), (10, lucky)]] == [True, True]
    with pytest.raises(ValueError, match="--validation-significance must be in"):
        BestStep(tmp_path, "ndcg@10", queries=8, significance=1.0)


def _null_runs(tmp_path, looks: int, evaluations: int = 4, runs: int = 2000, queries: int = 50) -> float:
    """The share of simulated runs whose guard (at 0.05, corrected for ``looks``) keeps a trained step when no step
    is better than the start: each of ``evaluations`` trained steps scores the start's per-query scores plus
    zero-mean noise, part of it shared between the steps of a run (successive steps are alike)."""
    rng = np.random.default_rng(0)
    kept = 0
    for _ in range(runs):
        best = BestStep(tmp_path / "sim", "ndcg@10", queries=queries, significance=0.05, looks=looks)
        start = rng.uniform(0, 1, queries)
        best.record(0, {"ndcg@10": float(start.mean()), "mrr@10": 0.0}, Saved(), _scores(list(start)))
        drift = rng.normal(0, 0.1, queries)
        for step in range(1, evaluations + 1):
            values = start + 0.5 * drift + rng.normal(0, 0.1, queries)
            best.record(step, {"ndcg@10": float(values.mean()), "mrr@10": 0.0}, Saved(), _scores(list(values)))
        kept += best.kept["step"] != 0
    return kept / runs


def test_the_guard_s_correction_keeps_a_step_no_better_than_the_start_at_most_alpha_of_the_time(tmp_path,
                                                                                                 monkeypatch):
    """Four looks, each tested at alpha, keep a no-better step more often than alpha; Bonferroni over the four holds
    it at alpha (up to two binomial standard errors of 2000 simulated runs: 0.0097).  The files the guard writes
    are tested above; here they would only cost time."""
    import contextlib

    from pyserini_i3.training import validation

    monkeypatch.setattr(validation, "write_atomic", lambda *args: None)
    monkeypatch.setattr(validation, "atomic_dir", lambda path: contextlib.nullcontext(tmp_path))
    bound = 0.05 + 2 * (0.05 * 0.95 / 2000) ** 0.5
    assert _null_runs(tmp_path, looks=4) <= bound
    assert _null_runs(tmp_path, looks=1, runs=500) > bound + 0.05  # what the correction is for (about 0.18)


@pytest.fixture
def files(tmp_path):
    return (write_training_file(tmp_path / "train.jsonl"),
            write_training_file(tmp_path / "valid.jsonl", n=6, negatives=4, seed=1))


def test_validating_does_not_change_training_and_the_output_is_the_best_step(tiny_backbone, files, tmp_path):
    from pyserini_i3.modeling.model import I3Model

    train, valid = files
    common = ["--max-steps", "6", "--learning-rate", "1e-3", "--validation-significance", "0"]  # any higher mean
    run(base_args(tiny_backbone, train, tmp_path / "plain", *common))
    run(base_args(tiny_backbone, train, tmp_path / "last", *common, "--validation-file", str(valid),
                  "--eval-steps", "2", "--keep-best", "false"))
    assert max_diff(tmp_path / "plain", tmp_path / "last") == 0.0  # evaluating draws nothing, moves nothing
    record = json.loads((tmp_path / "last" / "validation.json").read_text())
    assert [e["step"] for e in record["evaluations"]] == [0, 2, 4, 6] and record["selected_step"] == 6

    out = tmp_path / "best"
    run(base_args(tiny_backbone, train, out, *common, "--validation-file", str(valid), "--eval-steps", "2"))
    record = json.loads((out / "validation.json").read_text())
    assert record["evaluations"] == json.loads((tmp_path / "last" / "validation.json").read_text())["evaluations"]
    scores = {e["step"]: e[record["metric"]] for e in record["evaluations"]}
    selected = record["selected_step"]
    assert selected == record["best_step"] == min(s for s in scores if scores[s] == max(scores.values()))
    again = Validator(read_training_file(valid), 32, 192).evaluate(I3Model.from_pretrained(out))
    chosen = next(e for e in record["evaluations"] if e["step"] == selected)
    assert again == pytest.approx({k: chosen[k] for k in again}, abs=1e-6)  # the output is that step's model
    assert (max_diff(out, tmp_path / "last") == 0.0) == (selected == 6)


def test_a_model_whose_start_is_not_its_base_must_beat_the_base_or_the_output_is_the_base(tiny_backbone, files,
                                                                                          tmp_path):
    """I^3 full starts with random heads: with a significance level every step, step 0 included, is tested
    against the base itself, and when none beats it the output is the base (as a DE)."""
    from pyserini_i3.modeling.model import I3Model

    train, valid = files
    guard = ["--max-steps", "4", "--validation-file", str(valid), "--eval-steps", "2",
             "--validation-significance", "0.05"]
    # trained (the tiny random base is easy to beat): the best step that beats it significantly, as I^3
    run(base_args(tiny_backbone, train, tmp_path / "trained", *guard, "--learning-rate", "1e-3"))
    record = json.loads((tmp_path / "trained" / "validation.json").read_text())
    assert record["reference"] == "base" and record["evaluations"][0]["step"] == "base"
    # looks: step 0 (random heads) and steps 2 and 4, each tested against the base at 0.05 / 3 (Bonferroni)
    assert (record["correction"], record["looks"]) == ("bonferroni", 3)
    assert record["level_per_look"] == pytest.approx(0.05 / 3)
    passed = [e for e in record["evaluations"][1:] if e["p_vs_start"] < 0.05 / 3]
    assert passed and record["selected_step"] == max(passed, key=lambda e: e["ndcg@10"])["step"]
    assert I3Model.from_pretrained(tmp_path / "trained").config.variant == "full"

    # not trained (learning rates 0): the random-head start never beats the base significantly
    run(base_args(tiny_backbone, train, tmp_path / "full", *guard, "--learning-rate", "0", "--head-learning-rate",
                  "0"))
    record = json.loads((tmp_path / "full" / "validation.json").read_text())
    assert record["reference"] == "base" and record["selected_step"] == "base" and record["best_step"] is None
    assert [e["step"] for e in record["evaluations"]] == ["base", 0, 2, 4]
    assert all(e["p_vs_start"] >= 0.05 for e in record["evaluations"][1:])
    out = I3Model.from_pretrained(tmp_path / "full")
    base = I3Model.from_backbone(str(tiny_backbone), variant="de")
    texts = ["alpha beta", "gamma"]
    assert out.config.variant == "de" and not out.config.interaction
    assert np.abs(out.encode_passages(texts) - base.encode_passages(texts)).max() < 1e-6
    assert np.abs(out.encode_queries(texts) - base.encode_queries(texts)).max() < 1e-6

    run(base_args(tiny_backbone, train, tmp_path / "gated", *guard, "--interactor-gate", "linear",
                  "--learning-rate", "0", "--head-learning-rate", "0"))
    record = json.loads((tmp_path / "gated" / "validation.json").read_text())
    assert record["reference"] == "start" and record["selected_step"] == 0  # the start is the base: kept as I^3
    gated = I3Model.from_pretrained(tmp_path / "gated")
    assert gated.config.interactor_gate == "linear"
    assert np.abs(gated.encode_passages(texts) - base.encode_passages(texts)).max() < 1e-6


def test_held_out_queries_are_not_trained_on(tiny_backbone, files, tmp_path):
    train, _ = files
    out = tmp_path / "held"
    run(base_args(tiny_backbone, train, out, "--max-steps", "2", "--validation-queries", "4"))
    record = json.loads((out / "validation.json").read_text())
    assert record["queries"] == 4 and [e["step"] for e in record["evaluations"]] == ["base", 0, 1, 2]
    assert record["significance"] == 0.05 and record["reference"] == "base"  # the default: the guard


def test_by_default_a_file_of_400_queries_holds_out_80_and_is_guarded(tiny_backbone, tmp_path):
    train = write_training_file(tmp_path / "train.jsonl", n=400, negatives=2)
    out = tmp_path / "default"
    run(base_args(tiny_backbone, train, out, "--max-steps", "1"))
    record = json.loads((out / "validation.json").read_text())
    assert (record["queries"], record["significance"], record["reference"]) == (80, 0.05, "base")
    small = tmp_path / "small"
    run(base_args(tiny_backbone, write_training_file(tmp_path / "small.jsonl", n=399, negatives=2), small,
                  "--max-steps", "1"))
    assert not (small / "validation.json").exists()  # fewer than 400 queries: all are trained on


@pytest.mark.parametrize("extra, message", [
    (["--validation-metric", "map"], "--validation-metric must be one of ndcg@10, mrr@10"),
    (["--validation-queries", "16"], "--validation-queries 16 leaves no training query (the file has 16)"),
    (["--validation-queries", "2", "--validation-file", "v.jsonl"], "not both"),
    (["--validation-file", "nope.jsonl"], "--validation-file nope.jsonl: no such file"),
    (["--validation-queries", "ten"], "--validation-queries must be auto or a count (0: none), not 'ten'"),
])
def test_bad_validation_options_fail_with_one_line(tiny_backbone, files, tmp_path, extra, message):
    proc = run(base_args(tiny_backbone, files[0], tmp_path / "x", *extra), check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("train: ") and message in last
    assert not (tmp_path / "x" / "model.safetensors").exists()
