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
