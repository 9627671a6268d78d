"""The main job (``python -m pyserini_i3 demo``): real Pyserini commands, JVM, FAISS, trec_eval.

The full SciFact demo takes minutes, so the test runs the same code on the handwritten
sample collection; how the collection is chosen (shared data, BEIR download, sample)
is tested on its own with a local archive standing in for the download.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from helpers import run_python
from pyserini_i3.utils import trec

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "pyserini_i3" / "eval" / "sample_collection"


def read_trec(path: Path) -> dict[str, list[str]]:
    """qid -> docids in rank order: the run read (six columns, numeric scores, no docid twice) by ``trec.read_run``;
    each line's Q0 and its rank (Pyserini writes a query's hits from rank 1 on) checked here."""
    run = {q: list(hits) for q, hits in trec.read_run(path).items()}
    for line in path.read_text().splitlines():
        q, q0, d, rank, _, _ = line.split()
        assert q0 == "Q0" and run[q].index(d) + 1 == int(rank), line
    return run


@pytest.fixture(scope="module")
def demo(tmp_path_factory, minimal_env):
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "runs"
    result = run_python(["-m", "pyserini_i3", "demo", "--collection", "sample", "--work", tmp / "work",
                         "--out", out], env=minimal_env, timeout=900)
    return result, out


def test_demo_prints_one_table_with_stage_times(demo):
    result, _ = demo
    text = result.stdout
    assert "SAMPLE collection" in text
    for row in ("BM25", "I^3 (i3)", "hybrid (BM25 alpha 0.5, normalized)"):
        assert any(line.startswith(row) and len(line.split()) >= 4 for line in text.splitlines()), row
    for stage in ("pyserini.encode", "pyserini.index.lucene", "pyserini.search.faiss", "pyserini.search.lucene",
                  "pyserini.search.hybrid", "trec_eval"):
        assert stage in text


def test_demo_writes_runs_submission_and_scores(demo):
    _, out = demo
    queries = {json.loads(line)["_id"] for line in (SAMPLE / "queries.jsonl").read_text().splitlines()}
    docs = {json.loads(line)["_id"] for line in (SAMPLE / "corpus.jsonl").read_text().splitlines()}
    for name in ("run.i3.trec", "run.bm25.trec", "run.hybrid.trec"):
        run = read_trec(out / name)
        assert set(run) == queries, name
        assert all(set(ranked) <= docs for ranked in run.values())
        if name != "run.bm25.trec":  # dense (and so hybrid) rank every passage: 60 < 100 hits
            assert all(len(ranked) == len(docs) for ranked in run.values()), name
    dense = read_trec(out / "run.i3.trec")
    submission: dict[str, list[str]] = {}
    for line in (out / "run.i3.msmarco.tsv").read_text().splitlines():
        q, d, rank = line.split("\t")
        submission.setdefault(q, []).append(d)
        assert int(rank) == len(submission[q])
    assert submission == dense  # the same ranking, in MS MARCO's qid<TAB>docid<TAB>rank
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["scores"]) == {"BM25", "I^3 (i3)", "hybrid (BM25 alpha 0.5, normalized)"}
    for system, values in scores["scores"].items():
        assert set(values) == {"nDCG@10", "R@100", "MRR@10"} and all(0 <= v <= 1 for v in values.values())
        if system != "BM25":
            assert values["R@100"] == 1.0  # every passage is retrieved
    assert set(scores["stages_s"]) and all(v >= 0 for v in scores["stages_s"].values())
    assert "| stage | seconds |" in (out / "scores.md").read_text()
    # trec_eval starts twice per run (nDCG@10 and R@100 together; MRR@10 with its -M 10 cut), not per metric
    evals = [line for line in (out / "commands.sh").read_text().splitlines() if "pyserini.eval.trec_eval" in line]
    assert len(evals) == 2 * 3 and sum("-m ndcg_cut.10 -m recall.100" in line for line in evals) == 3
    # the demo opts its commands into the allocator tuning, and the record says so
    assert "export PYSERINI_I3_KEEP_FREED_MEMORY=1" in (out / "commands.sh").read_text().splitlines()


def test_trained_default_ranks_the_sample_claims(demo):
    """The shipped encoder finds the handwritten evidence (an untrained one does far worse)."""
    _, out = demo
    scores = json.loads((out / "scores.json").read_text())["scores"]
    assert scores["I^3 (i3)"]["nDCG@10"] > 0.7, scores


def _beir_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for file in SAMPLE.rglob("*"):
            if file.is_file():
                z.write(file, Path("scifact") / file.relative_to(SAMPLE))
    return path


def test_collection_choice_shared_then_download_then_sample(tmp_path, monkeypatch):
    from pyserini_i3.eval.collections import URL_ENV, beir_test_collection
    from pyserini_i3.eval.pipelines import find_collection

    messages = []
    shared = tmp_path / "shared"
    (shared / "scifact").mkdir(parents=True)
    (shared / "scifact" / "corpus.jsonl").write_text("")
    assert find_collection("auto", shared, tmp_path / "cache", messages.append)[0:2] == ("scifact", shared / "scifact")

    monkeypatch.setenv(URL_ENV, _beir_zip(tmp_path / "scifact.zip").as_uri())
    name, path, description = find_collection("auto", tmp_path / "none", tmp_path / "cache", messages.append)
    assert (name, path) == ("scifact", tmp_path / "cache" / "scifact") and "download" in description
    coll = beir_test_collection(path, tmp_path / "built")
    assert (coll.num_docs, coll.num_queries) == (60, 12)

    monkeypatch.setenv(URL_ENV, (tmp_path / "missing.zip").as_uri())
    name, path, description = find_collection("auto", tmp_path / "none", tmp_path / "cache2", messages.append)
    assert name == "sample" and path == SAMPLE and "SAMPLE" in description
    assert "download failed" in messages[-1]
    with pytest.raises(SystemExit, match="--collection scifact"):
        find_collection("scifact", tmp_path / "none", tmp_path / "cache3", messages.append)


def test_malformed_corpus_line_is_named(tmp_path):
    from pyserini_i3.eval.collections import beir_test_collection

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "ok"}\n{"_id": "d2", "title": \n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(ValueError, match=r"corpus.jsonl:2: not a BEIR passage"):
        beir_test_collection(beir, tmp_path / "out")
    assert not list((tmp_path / "out" / "corpus").glob("*"))
