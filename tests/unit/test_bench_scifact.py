"""The SciFact benchmark's bookkeeping (the benchmark itself runs with ``make bench-scifact``)."""

import gzip
import json
from pathlib import Path

import pytest

from helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("scifact")


def test_cached_stages_keep_the_seconds_of_the_run_that_made_them(bench, tmp_path):
    record = tmp_path / "timings.json"
    first = bench.merge_timings(record, {"train_de-seed1-aaaa": 612.34, "encode_base": 0.0})
    assert first == {"train_de-seed1-aaaa": 612.3, "encode_base": None}  # None: cached before any record

    # a resumed invocation: seed 1 comes from the cache (0.0 now), seed 2 runs; another sizing's record stays
    record.write_text(json.dumps({**json.loads(record.read_text()), "train_de-seed1-bbbb": 99.0}))
    second = bench.merge_timings(record, {"train_de-seed1-aaaa": 0.0, "train_de-seed2-aaaa": 300.0})
    assert second == {"train_de-seed1-aaaa": 612.3, "train_de-seed2-aaaa": 300.0}
    assert json.loads(record.read_text())["train_de-seed1-bbbb"] == 99.0


def test_a_report_names_its_own_curves_and_tests(bench, tmp_path):
    score = {"mean": 0.7, "sd": 0.0, "n": 1}
    results = {"command": "python benchmarks/scifact.py --report ablation", "machine": "m", "date": "d",
               "systems": {"DE fine-tuned": {"runs": 1, "scores": dict.fromkeys(bench.METRICS, score)}},
               "ttests": [{"system": "a", "against": "b", "mean_diff": 0.01, "t": 2.0, "p": 0.04, "queries": 300}],
               "sizing": {"variants": ["de"]}}
    bench.write_report(results, tmp_path, "ablation")
    text = (tmp_path / "ablation.md").read_text()
    assert "curves: `training_curves-ablation.png`" in text and "| a | b | +0.0100 | 2.000 | 0.04 |" in text
    assert json.loads((tmp_path / "ablation.json").read_text())["ttests"][0]["p"] == 0.04
    bench.write_report(results, tmp_path)
    assert "curves: `training_curves.png`" in (tmp_path / "results.md").read_text()


def _run_file(path, qids=("1", "2"), depth=120):
    lines = [f"{q} Q0 d{r} {r} {1000 - r} x\n" for q in qids for r in range(1, depth + 1)]
    path.write_text("".join(lines))
    return path


def _model_dir(path, train_file="/elsewhere/train.jsonl"):
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"variant": "de"}\n')
    (path / "training_args.json").write_text(json.dumps({"train_file": str(train_file), "seed": 1}))
    (path / "train_log.jsonl").write_text('{"step": 1, "contrastive": 1.0, "reconstruction": 0.0}\n')
    return path


def test_a_cell_keeps_what_the_report_needs_without_the_model(bench, tmp_path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n2 0 d3 1\n")
    model = _model_dir(tmp_path / "models" / "de-seed1-aaaa", bench.REPO / ".work" / "b" / "train.jsonl")
    out = tmp_path / "out"
    record = bench.save_cell(out, "de-seed1-aaaa.e256", "de", 1, model, _run_file(tmp_path / "run.trec"),
                             {"train": 60.0, "encode": None}, qrels)
    assert bench.load_cell(out, "de-seed1-aaaa.e256") == record
    assert record["per_query_ndcg10"] == {"1": 1.0, "2": 0.5}  # d1 at rank 1; d3 at rank 3: 1/log2(4)
    # trec_eval -c's means, to the 4 decimals it prints: MRR@10 (1 + 1/3) / 2
    assert record["scores"] == {"ndcg_cut_10": 0.75, "recall_100": 1.0, "recip_rank": 0.6667}
    assert record["seconds"] == {"train": 60.0, "encode": None}
    run = gzip.decompress((out / "cells" / "de-seed1-aaaa.e256.top100.trec.gz").read_bytes()).decode()
    assert len(run.splitlines()) == 200 and max(int(line.split()[3]) for line in run.splitlines()) == 100
    args = json.loads((out / "configs" / "de-seed1-aaaa.training_args.json").read_text())
    assert args["train_file"] == ".work/b/train.jsonl"  # as a run record names it
    assert (out / "cells" / "de-seed1-aaaa.e256.train_log.jsonl").is_file()
    assert bench.load_cell(out, "de-seed2-aaaa.e256") is None


def test_a_committed_cell_is_not_trained_again(bench, tmp_path, monkeypatch):
    """A grid resumes from OUT/cells/ alone (a machine without the --work cache): nothing is trained."""
    shared, work, out = tmp_path / "shared", tmp_path / "work", tmp_path / "out"
    (shared / "scifact").mkdir(parents=True)
    (shared / "scifact" / "corpus.jsonl").write_text("{}\n")
    work.mkdir()
    (work / "scifact-train.jsonl").write_text("{}\n")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n2 0 d3 1\n")
    col = {"corpus": tmp_path / "c.jsonl", "topics": tmp_path / "t.tsv", "qrels": qrels}
    monkeypatch.setattr(bench, "write_collection", lambda shared, work: col)
    monkeypatch.setattr(bench, "bm25", lambda *a: (_run_file(tmp_path / "bm25.trec"), 0.0))
    monkeypatch.setattr(bench, "zero_shot", lambda work, args: tmp_path / "base")
    monkeypatch.setattr(bench, "dense_index", lambda *a: (tmp_path / "index", 0.0))
    monkeypatch.setattr(bench, "dense_run", lambda model, index, topics, work, log, name:
                        _run_file(tmp_path / f"{name}.trec"))

    def no_training(*a):
        raise AssertionError("trained again")

    monkeypatch.setattr(bench, "train", no_training)
    argv = ["--shared", str(shared), "--work", str(work), "--out", str(out), "--rows", "de", "--seeds", "1", "2",
            "--no-hybrid", "--report", "grid"]
    tag = bench.train_tag(bench.argparse.Namespace(**{
        "base": bench.DEFAULT_BACKBONE, "steps": 100, "batch_size": 8, "group_size": 4, "train_passage_length": 128,
        "lr": 2e-5, "head_lr": 1e-3, "rec_weight": 0.1, "tied": False}))
    for seed in (1, 2):
        name = f"de-seed{seed}-{tag}"
        bench.save_cell(out, f"{name}.e256", "de", seed, _model_dir(tmp_path / "models" / name),
                        _run_file(tmp_path / f"cell{seed}.trec"), {"train": 60.0 * seed, "encode": 30.0}, qrels)
    assert bench.main(argv) == 0
    results = json.loads((out / "grid.json").read_text())
    de = results["systems"]["DE fine-tuned"]
    assert results["systems"]["BM25 (Pyserini)"]["scores"]["recip_rank"]["mean"] == 0.6667  # scored in process
    assert de["runs"] == 2 and de["seconds"] == {"train": [60.0, 120.0], "encode": [30.0, 30.0]}
    assert "| 1.5 | 0.5 |" in (out / "grid.md").read_text()  # mean train / encode minutes
    assert (out / "training_curves-grid.png").is_file()

    # a best-step row is tested against its row without the lever and against the zero-shot base it started from
    name = f"de-val-seed1-{tag}"
    model = _model_dir(tmp_path / "models" / name)
    (model / "validation.json").write_text(json.dumps({"metric": "ndcg@10", "selected_step": 25}))
    record = bench.save_cell(out, f"{name}.e256", "de-val", 1, model, _run_file(tmp_path / "val.trec", depth=2),
                             {"train": 70.0, "encode": 30.0}, qrels)
    assert record["validation"]["selected_step"] == 25
    assert bench.main([*argv, "--rows", "de", "de-val", "--seeds", "1", "--cells-only"]) == 0
    tests = {(t["system"], t["against"]) for t in json.loads((out / "grid.json").read_text())["ttests"]}
    assert tests == {("DE fine-tuned, best validation step", "DE fine-tuned"),
                     ("DE fine-tuned, best validation step", "zero-shot base (DE)")}

    # --cells-only reports what is there: seed 3 and the full row have no cell, and nothing is trained
    assert bench.main([*argv, "--rows", "de", "full", "--seeds", "1", "2", "3", "--cells-only"]) == 0
    results = json.loads((out / "grid.json").read_text())
    assert results["systems"]["DE fine-tuned"]["runs"] == 2 and "I^3 full fine-tuned" not in results["systems"]


def test_distilled_rows_train_on_the_base_s_scores_of_the_shared_file(bench, tmp_path, monkeypatch):
    calls = []

    def fake_sh(cmd, log, env=None):
        calls.append(list(map(str, cmd)))
        Path(cmd[cmd.index("--output") + 1]).write_text("{}\n")
        return 1.0

    monkeypatch.setattr(bench, "sh", fake_sh)
    shared = tmp_path / "scifact-train.jsonl"
    args = bench.argparse.Namespace(base="some/base", train_passage_length=128)
    assert bench.row_train_file("full-lgate", shared, tmp_path, tmp_path / "log", args) == shared and not calls
    scored = bench.row_train_file("full-lgate-kd", shared, tmp_path, tmp_path / "log", args)
    assert scored == tmp_path / "scifact-train.kd-base.jsonl"
    assert calls[0][2:4] == ["pyserini_i3", "teacher-scores"]
    assert calls[0][calls[0].index("--teacher") + 1] == "some/base"
    bench.row_train_file("full-lgate-kd-val", shared, tmp_path, tmp_path / "log", args)
    assert len(calls) == 1  # made once, shared by the distilled rows


def test_the_report_gives_each_row_s_seed_spread_against_de_s(bench, tmp_path):
    def system(sd, n=3):
        return {"runs": n, "scores": dict.fromkeys(bench.METRICS, {"mean": 0.7, "sd": sd, "n": n})}

    systems = {"DE fine-tuned": system(0.006), "I^3 full fine-tuned": system(0.02),
               "I^3 full, identity start (linear gate)": system(0.003), "BM25 (Pyserini)": system(0.0, n=1)}
    spread = bench.seed_spread(systems)
    assert set(spread) == {"DE fine-tuned", "I^3 full fine-tuned", "I^3 full, identity start (linear gate)"}
    assert spread["I^3 full fine-tuned"]["ratio_to_de"] == pytest.approx(0.02 / 0.006)
    results = {"command": "c", "machine": "m", "date": "d", "systems": systems, "sizing": {"variants": ["de"]}}
    bench.write_report(results, tmp_path, "ablation")
    assert "I^3 full fine-tuned 0.0200 (3.33x); I^3 full, identity start (linear gate) 0.0030 (0.50x)" in (
        tmp_path / "ablation.md").read_text()
    assert bench.seed_spread({"DE fine-tuned": system(0.006, n=1)}) == {}  # one DE seed: no ratio
