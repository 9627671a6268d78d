"""The SciFact benchmark's bookkeeping (the benchmark itself runs with ``make bench-scifact``)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scifact.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scifact", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
