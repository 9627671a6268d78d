"""The evaluation module (``pyserini_i3.utils.trec``): runs, metrics as trec_eval computes them, paired tests."""

from __future__ import annotations

import gzip
import math
import os

import numpy as np
import pytest
from scipy import stats

from pyserini_i3.utils import formats, trec
from pyserini_i3.utils.pyserini_commands import METRICS

RUN = {"q2": {"a": 0.5, "b": 1.25, "c": -3.0}, "q1": {"x": 2.0, "y": 2.0}}


# --------------------------------------------------------------------------- runs
@pytest.mark.parametrize("name", ["run.trec", "run.trec.gz"])
def test_a_written_run_reads_back_in_trec_eval_s_order(tmp_path, name):
    path = trec.write_run(RUN, tmp_path / name, tag="t")
    assert trec.read_run(path) == RUN
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if name.endswith(".gz") else raw.decode()
    # queries in the run's order; hits by score, ties by docid descending; ranks from 1
    assert text.splitlines() == ["q2 Q0 b 1 1.250000 t", "q2 Q0 a 2 0.500000 t", "q2 Q0 c 3 -3.000000 t",
                                 "q1 Q0 y 1 2.000000 t", "q1 Q0 x 2 2.000000 t"]
    assert list(trec.read_run(path)["q2"]) == ["b", "a", "c"]  # the file's order
    assert trec.write_run(RUN, tmp_path / ("again-" + name), tag="t").read_bytes() == raw  # gzip without a time
    assert trec.read_run(trec.write_run(RUN, tmp_path / ("top-" + name), depth=1)) == {"q2": {"b": 1.25},
                                                                                      "q1": {"y": 2.0}}


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    old = trec.write_run({"q": {"d": 1.0}}, tmp_path / "old.trec")
    before = old.read_bytes()
    monkeypatch.setattr(os, "fsync", disk_full)
    for path in (tmp_path / "new.trec", tmp_path / "new.trec.gz", old):
        with pytest.raises(OSError, match="No space left"):
            trec.write_run(RUN, path)
    assert sorted(os.listdir(tmp_path)) == ["old.trec"]  # no new file, no temporary one
    assert old.read_bytes() == before


@pytest.mark.parametrize("lines, message", [
    ("1 Q0 d1 1 0.5 t\n1 Q0 d2 2 0.4\n", ":2: expected 'qid Q0 docid rank score tag', got '1 Q0 d2 2 0.4'"),
    ("1 Q0 d1 1 0.5 t\n\n1 Q0 d2 2 high t\n", ":3: score 'high' is not a number"),
    ("1 Q0 d1 1 0.5 t\n1 Q0 d2 2 nan t\n", ":2: score 'nan' is not a number"),
    ("1 Q0 d1 1 0.5 t\n2 Q0 d1 1 0.5 t\n1 Q0 d1 2 0.4 t\n", ":3: document d1 is ranked twice for query 1"),
])
def test_a_bad_run_line_is_named_by_file_and_line(tmp_path, lines, message):
    path = tmp_path / "bad.trec"
    path.write_text(lines)
    with pytest.raises(trec.RunFormatError) as error:
        trec.read_run(path)
    assert str(error.value) == f"{path}{message}" and "\n" not in str(error.value)
    compressed = tmp_path / "bad.trec.gz"
    compressed.write_bytes(gzip.compress(lines.encode()))
    with pytest.raises(trec.RunFormatError) as error:
        trec.read_run(compressed)
    assert str(error.value) == f"{compressed}{message}"


def test_qrels_are_the_formats_reader():
    assert trec.read_qrels is formats.read_qrels


def test_dense_run_keeps_each_query_s_best_and_breaks_ties_at_the_cut_by_passage_order():
    scores = np.array([[0.5, 0.9, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    run = trec.dense_run(["q1", "q2"], ["a", "m", "z", "b"], scores, 2)
    # q1: m, then the first of the tied a, z, b (trec_eval's order would have taken z)
    assert run == {"q1": {"m": pytest.approx(0.9), "a": 0.5}, "q2": {"b": pytest.approx(0.4), "z": pytest.approx(0.3)}}
    assert list(run["q1"]) == ["m", "a"] and all(type(v) is float for v in run["q1"].values())
    assert list(trec.dense_run(["q"], ["a", "b"], np.array([[1.0, 2.0]]), 10)["q"]) == ["b", "a"]


# --------------------------------------------------------------------------- metrics
def _q2_run() -> dict[str, float]:
    """Ten unjudged hits, then x (relevant) at rank 11, 89 more, then y (relevant) at rank 101."""
    hits = {f"n{i:03d}": 1.0 - i / 1000 for i in range(1, 11)}
    hits["x"] = 0.5
    hits.update({f"m{i:03d}": 0.4 - i / 1000 for i in range(1, 90)})
    hits["y"] = 0.0
    return hits


def test_evaluate_equals_hand_computed_trec_eval_values():
    qrels = {"q1": {"a": 2, "b": 1, "c": 0}, "q2": {"x": 1, "y": 1}, "q3": {"m": 1}}
    run = {"q1": {"c": 0.9, "a": 0.8, "d": 0.7, "b": 0.6},  # an unjudged-relevant c first, then a (rel 2)
           "q2": _q2_run(),
           "q4": {"m": 1.0}}  # not judged: ignored; q3 judged, not in the run: 0 (trec_eval -c)
    assert list(trec.rank(run["q2"])).index(("y", 0.0)) == 100
    scores = trec.evaluate(qrels, run)
    assert list(scores) == ["ndcg_cut_10", "recall_100", "recip_rank"]
    assert all(list(values) == ["q1", "q2", "q3"] for values in scores.values())
    # trec_eval's nDCG: gain = relevance, discount log2(rank + 1)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert scores["ndcg_cut_10"] == pytest.approx({"q1": dcg / ideal, "q2": 0.0, "q3": 0.0})
    assert scores["recall_100"] == pytest.approx({"q1": 1.0, "q2": 0.5, "q3": 0.0})  # y at rank 101
    # MRR@10: q1's first relevant at rank 2; q2's at rank 11, past the cut (1/11 without it)
    assert scores["recip_rank"] == pytest.approx({"q1": 0.5, "q2": 0.0, "q3": 0.0})
    # other measures by the name trec_eval reports them under, at full depth
    assert trec.evaluate(qrels, run, ["P_5"])["P_5"] == pytest.approx({"q1": 2 / 5, "q2": 0.0, "q3": 0.0})
    assert trec.means(scores)["recip_rank"] == pytest.approx(0.5 / 3)
    assert trec.means(scores, digits=4)["recip_rank"] == 0.1667
    assert trec.evaluate(qrels, run, ["recip_rank"]) == {"recip_rank": scores["recip_rank"]}
    with pytest.raises(ValueError, match="unknown measure 'ndcg_cut.10'"):
        trec.evaluate(qrels, run, ["ndcg_cut.10"])


def test_ties_are_ordered_as_trec_eval_orders_them():
    import pytrec_eval

    tied = {f"d{i:02d}": 1.0 for i in range(11)}  # d10 ranks first, d00 last (11th)
    assert [d for d, _ in trec.rank(tied)][:3] == ["d10", "d09", "d08"]
    assert trec.rank({"a": 1.0, "b": 2.0, "c": 1.0}) == [("b", 2.0), ("c", 1.0), ("a", 1.0)]
    for relevant, at_10, uncut in (("d00", 0.0, 1 / 11), ("d01", 1 / 10, 1 / 10), ("d10", 1.0, 1.0)):
        qrels = {"q": {relevant: 1}}
        assert trec.evaluate(qrels, {"q": tied}, ["recip_rank"])["recip_rank"]["q"] == pytest.approx(at_10)
        # the order trec.rank cuts in is pytrec_eval's own (trec_eval's C code)
        full = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate({"q": tied})["q"]["recip_rank"]
        assert full == pytest.approx(uncut)


def test_trec_eval_is_started_once_per_depth():
    groups = trec.trec_eval_groups()
    assert [options for options, _ in groups] == [["-c", "-m", "ndcg_cut.10", "-m", "recall.100"],
                                                  ["-c", "-M", "10", "-m", "recip_rank"]]
    assert [[m.label for m in measures] for _, measures in groups] == [["nDCG@10", "R@100"], ["MRR@10"]]
    assert METRICS == [("nDCG@10", ["-c", "-m", "ndcg_cut.10"], "ndcg_cut_10"),
                       ("R@100", ["-c", "-m", "recall.100"], "recall_100"),
                       ("MRR@10", ["-c", "-M", "10", "-m", "recip_rank"], "recip_rank")]


# --------------------------------------------------------------------------- paired tests
def test_paired_t_is_scipy_s_ttest_rel():
    a = {"q1": 0.3, "q2": 0.9, "q3": 0.4, "q4": 0.8}
    b = {"q1": 0.2, "q2": 0.5, "q3": 0.5, "q4": 0.4}
    x, y = [0.3, 0.9, 0.4, 0.8], [0.2, 0.5, 0.5, 0.4]
    two = trec.paired_t(a, b)
    expected = stats.ttest_rel(x, y)
    assert (two["t"], two["p"]) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert two["queries"] == 4 and two["mean_diff"] == pytest.approx(0.2) and "identical" not in two
    greater = trec.paired_t(a, b, alternative="greater")
    assert greater["p"] == pytest.approx(stats.ttest_rel(x, y, alternative="greater").pvalue)
    assert greater["p"] == pytest.approx(two["p"] / 2)  # t > 0
    assert trec.paired_t(b, a, alternative="greater")["p"] == pytest.approx(1 - two["p"] / 2)
    # a query missing from a scores 0 there
    missing = trec.paired_t({k: v for k, v in a.items() if k != "q4"}, b)
    assert missing["t"] == pytest.approx(stats.ttest_rel([0.3, 0.9, 0.4, 0.0], y).statistic)
    with pytest.raises(ValueError, match="alternative must be"):
        trec.paired_t(a, b, alternative="higher")


def test_identical_scores_are_not_tested():
    a = {"q1": 0.3, "q2": 0.9}
    assert trec.paired_t(a, dict(a)) == {"queries": 2, "mean_diff": 0.0, "t": None, "p": None, "identical": True}
    assert trec.paired_t(a, dict(a), alternative="greater")["p"] == 1.0


def test_bonferroni_splits_the_level_over_the_looks():
    assert trec.bonferroni(0.05, 4) == pytest.approx(0.0125)
    assert trec.bonferroni(0.05, 1) == trec.bonferroni(0.05, 0) == 0.05


def test_normalise_is_pyserini_s_hybrid_normalisation():
    """Centred on the mid-range and divided by the range; all equal gives zeros (Pyserini divides by zero)."""
    assert trec.normalise([2.0, 4.0, 3.0]) == [-0.5, 0.5, 0.0]
    assert trec.normalise([7.0, 7.0]) == [0.0, 0.0]
