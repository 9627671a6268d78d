"""benchmarks/scale.py end to end on a tiny model (``--tiny``: 2 layers, 64-d; seconds, not the benchmark)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


def test_the_scale_benchmark_runs_and_reports(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--tiny", "--work", str(tmp_path), "--encode-repeats", "1", "--train-repeats", "1", "--no-gpu"]
    assert bench.main(argv) == 0
    out = tmp_path / "results-tiny"
    record = json.loads((out / "results.json").read_text())
    assert record["command"] == "python benchmarks/scale.py " + " ".join(argv)
    assert set(record["encode"]["configs"]) == {"DE", "I3 exact", "I3 off"}
    assert set(record["train"]["configs"]) == {"I3", "DE"}
    assert record["params"]["i3_total"] > record["params"]["de_total"] > 0
    assert record["gpu"] == {"measured": False, "reason": "--no-gpu"}
    hours = record["encode"]["configs"]["DE"]["msmarco"]["hours"]
    assert abs(hours - 8_841_823 / record["encode"]["configs"]["DE"]["per_s"] / 3600) < 1e-9
    text = (out / "results.md").read_text()
    assert "TINY test model" in text and "| I3 exact |" in text and "Not measured: --no-gpu" in text


def test_the_architecture_is_the_released_layout():
    """The random state dict has the keys convert_official maps (every weight of the model, strictly)."""
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from pyserini_i3.modeling.convert import map_official_state_dict

    state = bench.official_state_dict(bench.TINY)
    mapped, c_layers, d_layers = map_official_state_dict(state)
    assert (c_layers, d_layers) == (1, 1)
    assert bench.BERT_BASE["hidden_size"] == 768 and bench.BERT_BASE["num_hidden_layers"] == 12
    assert bench.BERT_BASE["intermediate_size"] == 3072 and bench.BERT_BASE["vocab_size"] == 30522
