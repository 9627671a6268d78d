"""The DL-recipes benchmark's bookkeeping and the judged re-ranking it scores with (the benchmark itself
runs with ``python benchmarks/dl_recipes.py``)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    yield _load("dl_recipes")
    for name in ("rerank_judged", "scifact"):  # imported by dl_recipes as siblings
        sys.modules.pop(name, None)


def _pool_dir(root, name, candidates_run=False):
    pool = root / "msmarco-pools" / name
    pool.mkdir(parents=True)
    (pool / "queries.tsv").write_text("1\tcats\n2\tdogs\n")
    (pool / "collection.tsv").write_text("a\tcats purr\nb\tdogs bark\nc\tfish swim\n")
    (pool / "qrels.txt").write_text("1 0 a 2\n2 0 b 1\n2 0 c 0\n9 0 a 1\n")  # query 9: not in queries.tsv
    listed = "1 Q0 a 1 -1 x\n1 Q0 c 2 -2 x\n2 Q0 c 1 -1 x\n" if candidates_run else "1 0 a 2\n2 0 b 1\n2 0 c 0\n"
    (pool / ("candidates.run" if candidates_run else "qrels.with_text.txt")).write_text(listed)
    return pool


class _Model:
    """Scores a passage 1 when it names the query's animal, else 0 ('fish' gets 0.5)."""

    def encode_passages(self, texts, max_length=None, show_progress=False):
        return np.array([[t.startswith("cats"), t.startswith("dogs"), 0.5 * t.startswith("fish")] for t in texts],
                        dtype=np.float32)

    def encode_queries(self, queries):
        return np.array([[q == "cats", q == "dogs", 1.0] for q in queries], dtype=np.float32)


def test_judged_pools_rank_the_judged_passages_and_dev600_its_candidates(bench, tmp_path):
    rr = bench.rerank_judged
    _pool_dir(tmp_path, "dl19")
    pool = rr.load_pool(tmp_path, "dl19")
    assert pool.candidates == {"1": ["a"], "2": ["b", "c"]}
    scores = rr.rerank(_Model(), pool, 128)
    assert scores["ndcg@10"] == {"1": 1.0, "2": 1.0} and scores["mrr@10"] == {"1": 1.0, "2": 1.0}

    _pool_dir(tmp_path, "dev600", candidates_run=True)
    dev = rr.load_pool(tmp_path, "dev600")
    assert dev.candidates == {"1": ["a", "c"], "2": ["c"]}
    scores = rr.rerank(_Model(), dev, 128)
    assert scores["mrr@10"] == {"1": 1.0, "2": 0.0}  # query 2's relevant passage is not among its candidates
    with pytest.raises(FileNotFoundError, match="no such pool"):
        rr.load_pool(tmp_path, "dl21")


class _Constant:
    """Scores every passage alike: every candidate ties."""

    def encode_passages(self, texts, max_length=None, show_progress=False):
        return np.ones((len(texts), 1), dtype=np.float32)

    def encode_queries(self, queries):
        return np.ones((len(queries), 1), dtype=np.float32)


def test_ties_keep_the_first_ten_candidates_and_are_then_ranked_as_trec_eval_does(bench, tmp_path):
    pool = tmp_path / "msmarco-pools" / "dev600"
    pool.mkdir(parents=True)
    pids = [f"p{i:02d}" for i in range(1, 13)]
    (pool / "queries.tsv").write_text("1\tq\n2\tq\n")
    (pool / "collection.tsv").write_text("".join(f"{p}\ttext {p}\n" for p in pids))
    (pool / "candidates.run").write_text("".join(f"{q} Q0 {p} {i} 0 x\n" for q in "12" for i, p in enumerate(pids, 1)))
    (pool / "qrels.txt").write_text("1 0 p11 1\n2 0 p03 1\n")
    scores = bench.rerank_judged.rerank(_Constant(), bench.rerank_judged.load_pool(tmp_path, "dev600"), 128)
    # query 1: p11 is the 11th candidate, cut (by docid it would rank 2nd); query 2: p03 is kept, and among the ten
    # kept trec_eval orders ties by docid descending: p10 ... p03 is 8th
    assert scores["mrr@10"] == {"1": 0.0, "2": pytest.approx(1 / 8)}
    assert scores["ndcg@10"] == {"1": 0.0, "2": pytest.approx(1 / np.log2(9))}


def _cell(kind, seed, dl19, dl20):
    return {"row": kind, "seed": seed, "model": f"{kind}-seed{seed}-x", "seconds": {"train": 120.0},
            "pools": {"dl19": {"ndcg@10": float(np.mean(dl19)), "per_query_ndcg10": dict(zip("abcd", dl19))},
                      "dl20": {"ndcg@10": float(np.mean(dl20)), "per_query_ndcg10": dict(zip("abcd", dl20))}}}


def test_the_report_compares_each_recipe_with_the_base_per_query(bench, tmp_path):
    base = {p: {"ndcg@10": 0.5, "per_query_ndcg10": dict(zip("abcd", [0.4, 0.5, 0.6, 0.5]))} for p in bench.POOLS}
    cells = {"de": [_cell("de", 1, [0.3, 0.4, 0.6, 0.4], [0.4, 0.5, 0.6, 0.5]),
                    _cell("de", 2, [0.3, 0.4, 0.4, 0.6], [0.4, 0.5, 0.6, 0.5])]}
    args = bench.argparse.Namespace(argv=["--rows", "de"], steps=100, batch_size=8, group_size=4,
                                    train_passage_length=128, lr=2e-5, head_lr=1e-3, rec_weight=0.1, tied=False,
                                    base="b")
    text = bench.report(cells, base, args, tmp_path)
    assert "| zero-shot base (DE) | - | 0.5000 | - | 0.5000 | - | - |" in text
    # DL19: per-query means over the seeds 0.3, 0.4, 0.5, 0.5 against the base's 0.4, 0.5, 0.6, 0.5
    t = stats.ttest_rel([0.3, 0.4, 0.5, 0.5], [0.4, 0.5, 0.6, 0.5])
    # DL20: every query equals the base's (as a guarded run that kept the base): said so, no t-test of zeros
    assert (f"| DE fine-tuned | 1, 2 | 0.4250 ± 0.0000 | -0.0750 ({t.pvalue:.2g}) | 0.5000 ± 0.0000 | "
            "the base itself |") in text
    assert text.splitlines()[-5].endswith("| 2.0 |")  # minutes of training
    summary = json.loads((tmp_path / "recipes.json").read_text())
    assert summary["rows"]["de"]["dl19"]["per_seed"] == pytest.approx([0.425, 0.425])
    assert summary["rows"]["de"]["dl19"]["vs_base"]["mean_diff"] == pytest.approx(-0.075)
    assert summary["rows"]["de"]["dl20"]["vs_base"] == {"queries": 4, "mean_diff": 0.0, "t": None, "p": None,
                                                      "identical": True}


def test_cells_only_reports_without_training_and_needs_the_base_cell(bench, tmp_path, monkeypatch):
    shared, out = tmp_path / "shared", tmp_path / "out"
    for name in bench.POOLS:
        _pool_dir(shared, name)
    (shared / "msmarco-pools" / "dev600").mkdir()
    (shared / "msmarco-pools" / "dev600" / "queries.tsv").write_text("1\tq\n")

    def no_training(*a, **k):
        raise AssertionError("trained")

    monkeypatch.setattr(bench.scifact, "train", no_training)
    argv = ["--shared", str(shared), "--work", str(tmp_path / "work"), "--out", str(out), "--rows", "de",
            "--cells-only"]
    with pytest.raises(SystemExit, match="no base cell"):
        bench.main(argv)
    base = {p: {"ndcg@10": 0.5, "per_query_ndcg10": dict(zip("abcd", [0.4, 0.5, 0.6, 0.5]))} for p in bench.POOLS}
    (out / "cells").mkdir(parents=True)
    bench.cell_path(out, "base").write_text(json.dumps({"pools": base}))
    args = bench.argparse.Namespace(steps=100, rows=["de"], seeds=[1])
    defaults = bench.scifact.build_parser().parse_args([])
    for key in bench.scifact.TRAIN_KEYS:
        setattr(args, key, getattr(defaults, key) if key != "steps" else 100)
    name = bench.scifact.model_name("de", 1, args)
    bench.cell_path(out, name).write_text(json.dumps(_cell("de", 1, [0.3, 0.4, 0.5, 0.5], [0.5] * 4)))
    assert bench.main(argv) == 0
    assert "| DE fine-tuned | 1 | 0.4250 |" in (out / "recipes.md").read_text()
