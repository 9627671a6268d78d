"""The pseudo-query benchmark's measures and report (the benchmark itself: ``python benchmarks/pseudo_query.py``)."""

import pytest

from helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("pseudo_query")


def test_recall_of_the_claim_s_terms_and_of_those_its_passage_lacks(bench):
    claims = {"q1": ["vitamin", "scurvy", "cause"], "q2": ["the"]}
    passages = {"d1": ["scurvy", "sailors"], "d2": ["vitamin", "scurvy", "cause"]}
    ranked = {"d1": ["vitamin", "sailors", "scurvy", "lime"], "d2": ["lime"]}
    out = bench.pair_recalls([("q1", "d1"), ("q1", "d2")], claims, passages, ranked.get)
    assert out["q1 d1"]["r@10"] == pytest.approx(2 / 3)  # vitamin and scurvy among its terms
    assert out["q1 d1"]["new@10"] == pytest.approx(1 / 2)  # vitamin, cause are new to d1: vitamin named
    assert out["q1 d2"]["r@10"] == 0.0 and out["q1 d2"]["new@10"] is None  # nothing new to name in d2
    assert bench.recall({"a", "b"}, ["b", "a"], 1) == 0.5 and bench.recall(set(), ["a"], 1) is None
    summary = bench.summary(out)
    assert summary["r@10"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["new@10"] == 0.5  # the pair with no new term does not count


def test_terms_are_the_tokenizer_s_content_words(bench, tiny_backbone):
    from transformers import AutoTokenizer

    terms = bench.Terms(AutoTokenizer.from_pretrained(str(tiny_backbone)))
    assert terms("The capital of France, Paris.") == ["capital", "france", "paris"]


def test_the_report_says_every_table(bench, tmp_path):
    test = {"against": "BM25", "mean_diff": 0.01, "p": 0.2}
    row = {f"{m}@{k}": 0.1 for m in ("r", "new") for k in bench.KS}
    scores = {"ndcg_cut_10": 0.7, "recall_100": 0.9, "recip_rank": 0.6}
    results = {"command": "python benchmarks/pseudo_query.py", "machine": "x", "date": "d", "pairs": 2,
               "pairs_with_new": 1, "terms": 20, "recall": {"TF-IDF of the passage": row, "m": row},
               "recall_tests": [{"system": "m", "against": "TF-IDF of the passage", "mean_diff": 0.0, "p": None}],
               "bm25": {"BM25": {"scores": scores}, "BM25, expanded": {"scores": scores, "test": test}},
               "fit": {"m": {"own": {"slots": 7.5, "bag": 7.25}, "another": {"slots": 7.75, "bag": 7.5}}},
               "passage_dependence": {"m": 0.25}, "probe_dense": {"m": {**scores, "test": test}},
               "examples": {"m": [{"docid": "d1", "title": "T", "claim": "c", "pseudo_query": "pq", "terms": ["a"]}]}}
    bench.write_report(results, tmp_path)
    text = (tmp_path / "results.md").read_text()
    assert "| m | 0.1000 |" in text and "m vs TF-IDF of the passage: +0.0000 (p identical)" in text
    assert "| BM25, expanded | 0.7000 | 0.9000 | 0.6000 | BM25 | +0.0100 | 0.2 |" in text
    assert 'Claim: "c". Decoded slots: "pq". Top terms: a.' in text
    assert "| m | 7.500 | 7.750 | 7.250 | 7.500 | 0.25 |" in text
    assert "| m | 0.7000 | 0.9000 | 0.6000 | BM25 | +0.0100 | 0.2 |" in text


def test_passage_dependence_is_zero_when_every_passage_gets_the_same_terms(bench):
    same = {"d1": ["a", "b"], "d2": ["a", "b"], "d3": ["b", "a"]}
    assert bench.passage_dependence(same, k=2) == 0.0
    apart = {"d1": ["a", "b"], "d2": ["c", "d"], "d3": ["a", "e"]}  # the common two: a, then one of b..e
    assert 0 < bench.passage_dependence(apart, k=2) < 1


def test_another_passage_is_another_pair_s(bench):
    pairs = [("q1", "d1"), ("q2", "d2"), ("q3", "d3"), ("q4", "d4")]
    assert bench.another_passage(pairs) == [("q1", "d3"), ("q2", "d4"), ("q3", "d1"), ("q4", "d2")]


def test_the_head_probe_trains_the_heads_alone(bench, tiny_backbone):
    import torch

    from helpers import BAG_PASSAGES, BAG_QUERY
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.training.examples import Passage, TrainingExample

    torch.manual_seed(0)
    model = I3Model.from_backbone(str(tiny_backbone), variant="full").eval()
    examples = [TrainingExample("q1", BAG_QUERY, [Passage("d0", "", BAG_PASSAGES[0])])]
    docs = {"d0": type("Doc", (), {"text": BAG_PASSAGES[0], "title": ""})()}
    before = bench.claim_nll(model, docs, [("q1", "d0")], {"q1": BAG_QUERY}, 64)
    probe = bench.head_probe(model, examples, "bag", steps=60, batch_size=4, lr=3e-3)
    after = bench.claim_nll(probe, docs, [("q1", "d0")], {"q1": BAG_QUERY}, 64)
    assert after["bag"] < before["bag"] - 0.5
    changed = {n for n, p in probe.named_parameters() if not torch.equal(p, model.state_dict()[n])}
    assert changed and all(n.startswith(("reconstructor.", "vocab_head.")) for n in changed)
