"""The index and server-load benchmarks' own arithmetic and reports (the benchmarks: ``make bench-indexes``,
``make bench-server``)."""

import json

import numpy as np
import pytest

from helpers import load_benchmark


@pytest.fixture(scope="module")
def indexes():
    return load_benchmark("indexes")


def test_extrapolation_is_linear_for_flat_and_logarithmic_for_hnsw(indexes):
    row = lambda n, ms: {"bytes": 1536 * n, "build_s": n / 1000, "p50_ms": ms,  # noqa: E731
                         "recall_vs_exact_100": 0.99}
    synthetic = {"100000": {"faiss-flat": row(100_000, 10.0), "faiss-hnsw": row(100_000, 1.0)},
                 "1000000": {"faiss-flat": row(1_000_000, 100.0), "faiss-hnsw": row(1_000_000, 2.0)}}
    out = indexes.extrapolate(synthetic)
    n = indexes.MSMARCO_PASSAGES
    assert out["faiss-flat"]["bytes"] == pytest.approx(1536 * n, rel=1e-9)
    assert out["faiss-flat"]["p50_ms"] == pytest.approx(n / 10_000, abs=0.01)  # 100 ms per 1M vectors
    # one more ms per tenfold: 8.84x past 1M adds log10(8.84) ms
    assert out["faiss-hnsw"]["p50_ms"] == pytest.approx(2.0 + np.log10(n / 1e6), abs=0.01)
    assert out["faiss-flat"]["from_sizes"] == [100_000, 1_000_000]
    assert indexes.extrapolate({"10": synthetic["100000"]}) == {}  # one size: nothing to fit


def test_lucene_sizes_split_what_a_search_reads(indexes, tmp_path):
    for name, size in {"_0.vec": 1000, "_0.veq": 250, "_0.vex": 50, "_0.fdt": 7, "build.json": 99}.items():
        (tmp_path / name).write_bytes(b"x" * size)
    assert indexes.sizes(tmp_path, "lucene") == {"bytes": 1307, "searched_bytes": 300, "float_vector_bytes": 1000}
    (tmp_path / "_0.veq").unlink()
    assert indexes.sizes(tmp_path, "lucene")["searched_bytes"] == 1050  # float vectors and graph
    assert indexes.sizes(tmp_path, "faiss") == {"bytes": 1057}
    (tmp_path / "_1.cfs").write_bytes(b"x" * 10)  # a compound segment: its parts are not told apart
    assert indexes.sizes(tmp_path, "lucene")["searched_bytes"] is None


def test_effectiveness_against_flat(indexes, tmp_path):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    flat = {"q1": {"d1": 0.9, "d3": 0.5}, "q2": {"d2": 0.8, "d4": 0.1}}
    worse = {"q1": {"d3": 0.9, "d1": 0.5}, "q2": {"d4": 0.8, "d5": 0.1}}
    same = indexes.effectiveness(flat, flat, qrels)
    assert same["ndcg_cut_10"] == 1.0 and same["recall_vs_flat_100"] == 1.0 and "ndcg_cut_10_vs_flat" not in same
    out = indexes.effectiveness(worse, flat, qrels)
    assert out["recall_vs_flat_100"] == 0.75 and out["recall_100"] == 0.5
    assert out["ndcg_cut_10_vs_flat"]["diff"] < 0


def test_server_load_report(tmp_path):
    server = load_benchmark("server_load")
    row = {"requests": 300, "failed": 2, "requests_per_s": 50.0, "p50_ms": 20.0, "p99_ms": 500.0,
           "errors": ["500 {\"error\": \"IncompatibleClassChangeError | x\"}"]}
    results = {"command": "python benchmarks/server_load.py", "date": "d", "minutes": 1, "pyserini": "2.4.0",
               "machine": {"model": "cpu", "cpus": 2}, "load_start": [1], "load_end": [2], "setup": "s",
               "grid": {"off": {"scifact-bm25": {"16": row}}}}
    server.write_report(results, tmp_path)
    text = (tmp_path / "results.md").read_text()
    assert "| off | scifact-bm25 | 16 | 300 | 2 | 50.0 | 20.0 | 500.0 |" in text
    assert "IncompatibleClassChangeError / x" in text  # a | in an error does not break the table
    assert json.loads((tmp_path / "results.json").read_text())["grid"] == results["grid"]
