"""End-to-end `python -m pyserini_i3 prepare` runs: real Pyserini indexing and search.

SciFact (BEIR layout) and the MS MARCO dev600 pool come from ``../shared/data``
relative to the repository root; the tests that need them skip when it is absent.
The SciFact test uses a fixed subset (50 train queries, their positives and 2,000
other passages) to stay well under a minute; the files are written to tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyserini_i3.training.examples import read_training_file
from pyserini_i3.utils.formats import Problems, natural_key, positives, read_collection, read_qrels

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def shared(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test data not found: {path} (expected ../shared/data next to the repository)")
    return path


def run_prepare(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "pyserini_i3", "prepare", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def summary(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("prepare: ") and "queries written" in line]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def check_examples(examples, qrels, docs, negatives):
    for e in examples:
        judged_pos = {d for d, rel in qrels[e.query_id].items() if rel > 0}
        pos = [p.docid for p in e.positive_passages]
        negs = [p.docid for p in e.negative_passages]
        assert set(pos) == judged_pos & docs.keys()
        assert not judged_pos & set(negs), f"a positive among the negatives of {e.query_id}"
        assert len(negs) == len(set(negs)) == negatives
        for p in e.positive_passages + e.negative_passages:
            assert (p.title, p.text) == (docs[p.docid].title, docs[p.docid].text)


# --------------------------------------------------------------------------- SciFact subset


@pytest.fixture(scope="module")
def scifact_subset(tmp_path_factory):
    src = shared("scifact")
    qrels = read_qrels(src / "qrels" / "train.tsv")
    qids = sorted(qrels, key=natural_key)[:50]
    wanted = {d for q in qids for d in qrels[q]}
    lines = (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if json.loads(line)["_id"] in wanted]
    keep += [line for line in lines if json.loads(line)["_id"] not in wanted][:2000]
    root = tmp_path_factory.mktemp("scifact")
    (root / "qrels").mkdir()
    (root / "corpus.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_bytes((src / "queries.jsonl").read_bytes())
    header = "query-id\tcorpus-id\tscore\n"
    (root / "qrels" / "train.tsv").write_text(header + "".join(f"{q}\t{d}\t{r}\n"
                                                               for q in qids for d, r in qrels[q].items()))
    return root


MINED = ["--depth", "100", "--negatives", "15", "--seed", "42", "--threads", "2"]


@pytest.fixture(scope="module")
def mined(scifact_subset, tmp_path_factory):
    """One real ``prepare`` process on the subset (BM25 negatives, the index it builds kept): its result, its
    training file and the kept index, shared by the tests below (one index build, not three)."""
    work = tmp_path_factory.mktemp("mined")
    out = work / "train.jsonl"
    proc = run_prepare("--beir-dir", str(scifact_subset), "--split", "train", "--output", str(out), *MINED,
                       "--keep-bm25-index", str(work / "bm25"))
    return proc, out, work / "bm25" / "index"


def test_scifact_bm25_negatives(scifact_subset, mined):
    proc, out, _ = mined
    line = summary(proc)
    assert line.startswith("prepare: 50 queries written (")
    counts = (", 0 without positives, 0 not in queries file, 0 unknown docids in qrels, 0 malformed lines, "
              "0 duplicate ids, 0 with fewer than 15 negatives;")
    assert counts in line
    assert "building a BM25 index of" in proc.stderr
    docs = read_collection(scifact_subset / "corpus.jsonl")
    qrels = read_qrels(scifact_subset / "qrels" / "train.tsv")
    problems = Problems()
    examples = read_training_file(out, problems)
    assert problems.counts == {} and len(examples) == 50
    assert [e.query_id for e in examples] == sorted(qrels, key=natural_key)
    assert sum(len(e.positive_passages) for e in examples) > 50  # some queries have several positives
    check_examples(examples, qrels, docs, 15)
    assert f"({sum(len(e.positive_passages) for e in examples)} positives, 750 negatives)" in line
    assert not list(out.parent.glob(".*tmp"))


def test_scifact_existing_index_gives_the_bm25_top_hits(scifact_subset, mined, tmp_path, capsys):
    """With --bm25-index and depth = negatives, the negatives are exactly Pyserini's BM25 top hits minus positives."""
    from pyserini_i3.cli.prepare import main

    index = mined[2]
    out = tmp_path / "top.jsonl"
    argv = ["--beir-dir", str(scifact_subset), "--output", str(out), "--bm25-index", str(index),
            "--depth", "10", "--negatives", "10"]
    assert main(argv) == 0  # in this process, so the JVM starts once for the command and the check below
    assert "building a BM25 index" not in capsys.readouterr().err
    examples = read_training_file(out)
    qrels = read_qrels(scifact_subset / "qrels" / "train.tsv")

    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index))
    first = examples[0].positive_passages[0]
    assert json.loads(searcher.doc(first.docid).raw())["contents"] == f"{first.title}\n{first.text}"
    for e in examples[:10]:
        hits = [h.docid for h in searcher.search(e.query, k=10)]
        assert [p.docid for p in e.negative_passages] == [d for d in hits if qrels[e.query_id].get(d, 0) <= 0]


# --------------------------------------------------------------------------- MS MARCO TSVs


def test_msmarco_tsv_with_teacher_run(tmp_path):
    pool = shared("msmarco-pools", "dev600")
    out = tmp_path / "dev600.jsonl"
    proc = run_prepare("--collection", str(pool / "collection.tsv"), "--queries", str(pool / "queries.tsv"),
                       "--qrels", str(pool / "qrels.txt"), "--format", "msmarco", "--output", str(out),
                       "--depth", "20", "--negatives", "8", "--teacher-scores", str(pool / "candidates.run"))
    docs = read_collection(pool / "collection.tsv", "msmarco")
    qrels = read_qrels(pool / "qrels.txt")
    usable = [q for q in qrels if any(d in docs for d in positives(qrels[q]))]
    unknown = sum(d not in docs for q in qrels for d in positives(qrels[q]))
    assert len(usable) == 540  # as the data README says
    line = summary(proc)
    assert line.startswith(f"prepare: {len(usable)} queries written (")
    assert f", {len(qrels) - len(usable)} without positives (qid " in line
    assert f", {unknown} unknown docids in qrels (qid " in line
    assert ", 0 malformed lines, 0 duplicate ids," in line
    examples = read_training_file(out)
    assert sorted(e.query_id for e in examples) == sorted(usable, key=str)
    assert all(p.title == "" for e in examples for p in e.positive_passages)
    check_examples(examples, qrels, docs, 8)
    teacher = {}
    for row in (pool / "candidates.run").read_text().splitlines():
        qid, _, docid, _, score, _ = row.split()
        teacher[(qid, docid)] = float(score)
    passages = [(e.query_id, p) for e in examples for p in e.positive_passages + e.negative_passages]
    assert all(p.score == teacher.get((q, p.docid)) for q, p in passages)
    missing = sum(p.score is None for _, p in passages)
    assert 0 < missing < len(passages) and f"{missing} passages without teacher score" in line


# --------------------------------------------------------------------------- dense mining


class StubQueryEncoder:
    """Pyserini's QueryEncoder interface: ``encode(text) -> np.ndarray``; the vector is chosen per query."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def encode(self, query: str, **kwargs) -> np.ndarray:
        return self.vectors[query]


def test_dense_negatives_from_a_faiss_index(tmp_path):
    import faiss

    from pyserini_i3.training.mining import DenseMiner
    from pyserini_i3.training.prepare import PrepareConfig, prepare

    rng = np.random.default_rng(0)
    n_docs, dim = 200, 16
    doc_vecs = rng.standard_normal((n_docs, dim)).astype("float32")
    doc_vecs /= np.linalg.norm(doc_vecs, axis=1, keepdims=True)
    docids = [f"p{i}" for i in range(n_docs)]
    index_dir = tmp_path / "faiss"
    index_dir.mkdir()
    index = faiss.IndexFlatIP(dim)
    index.add(doc_vecs)
    faiss.write_index(index, str(index_dir / "index"))
    (index_dir / "docid").write_text("\n".join(docids) + "\n")

    # 10 not in the collection
    (tmp_path / "collection.tsv").write_text("".join(f"{d}\ttext of {d}\n" for d in docids[:190]))
    queries = {f"q{i}": f"query {i}" for i in range(5)}
    (tmp_path / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries.items()))
    (tmp_path / "qrels.txt").write_text("".join(f"q{i} 0 p{i} 1\n" for i in range(5)))
    query_vecs = {t: doc_vecs[i] + 0.1 * rng.standard_normal(dim).astype("float32")
                  for i, t in enumerate(queries.values())}

    cfg = PrepareConfig(tmp_path / "collection.tsv", tmp_path / "queries.tsv", tmp_path / "qrels.txt",
                        tmp_path / "out.jsonl", depth=12, negatives=12, dense_index=index_dir, dense_encoder="stub")
    result = prepare(cfg, DenseMiner(index_dir, StubQueryEncoder(query_vecs), threads=1))
    examples = read_training_file(cfg.output)
    assert len(examples) == 5
    for i, e in enumerate(examples):
        ranking = [docids[j] for j in np.argsort(-(doc_vecs @ query_vecs[e.query]), kind="stable")[:12]]
        assert ranking[0] == f"p{i}"  # the stub's query sits next to its positive
        expected = [d for d in ranking if d != f"p{i}" and int(d[1:]) < 190]
        assert [p.docid for p in e.negative_passages] == expected
    assert result.problems.count("hits outside the collection") == sum(
        int(d[1:]) >= 190
        for e in examples for d in [docids[j] for j in np.argsort(-(doc_vecs @ query_vecs[e.query]))[:12]]
    )


def test_scifact_kept_index_is_the_one_mined(scifact_subset, mined, tmp_path, capsys):
    """--keep-bm25-index DIR keeps the index prepare built; mining it again with --bm25-index DIR/index
    gives the same file, and the two options together are refused in one line."""
    from pyserini_i3.cli.prepare import main

    _, first, index = mined
    again = tmp_path / "again.jsonl"
    base = ["--beir-dir", str(scifact_subset), "--split", "train", *MINED]
    assert index.is_dir()
    assert main(base + ["--output", str(again), "--bm25-index", str(index)]) == 0
    assert first.read_bytes() == again.read_bytes()
    capsys.readouterr()
    assert main(base + ["--output", str(tmp_path / "x.jsonl"), "--keep-bm25-index", str(tmp_path / "k"),
                        "--bm25-index", str(index)]) == 1
    assert capsys.readouterr().err.strip().startswith("prepare: error: --keep-bm25-index keeps the BM25 index")
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "k").exists()
    # an index kept earlier is not built over: its stale collection files would be indexed too
    assert main(base + ["--output", str(tmp_path / "x.jsonl"), "--keep-bm25-index", str(index.parent)]) == 1
    assert "--keep-bm25-index" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()
