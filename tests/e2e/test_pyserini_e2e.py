"""End to end: Pyserini's own commands with ``--encoder i3`` (JVM, FAISS, trec_eval).

Every command runs as a user would type it (``python -m pyserini...``) in a minimal
environment: ``PATH=/usr/bin:/bin``, JAVA_HOME unset, Java's user.home and
Pyserini's cache redirected into tmp.  Collections (see ``pyserini_i3.eval.collections``):

* SciFact subset: every passage judged for the first 50 test queries + 1,000 others
  (1,051 passages), topics/qrels as files; ``--encoder i3`` (the shipped default;
  an untrained, seeded I^3 on MiniLM while none ships).
* DL19 pool subset: the pool passages judged for the first 2 topics + 300 others,
  the official ``dl19-passage`` topics and qrels *by name* (installed offline with
  ``python -m pyserini_i3 topics install``); ``--encoder DIR`` (an I^3 saved with
  ``save_pretrained``).

The checks are about plumbing (equal vectors, identical runs, equal scores across
tools), not effectiveness.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import run_python
from pyserini_i3.eval.collections import dl19_pool, scifact_subset
from pyserini_i3.utils import trec
from pyserini_i3.utils.trec import read_qrels, read_run

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]

SCIFACT_BATCH = 75      # 1,051 // 2 = 525 = 7 x 75: shard boundaries fall on batch boundaries
SCIFACT_MAX_LENGTH = 64  # test speed; the default (the model's 256) is exercised on DL19
SCIFACT_CHUNKS = (0, 6, 7, 13, 14)  # checked in-process: first, either side of the shard cut, last two
DL19_BATCH = 64
METRICS = list(trec.MEASURES)  # Pyserini's usual metrics: ndcg_cut_10, recall_100, recip_rank (-M 10)


class Workspace:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.env = env
        self.seconds: dict[str, float] = {}

    def py(self, label: str, *args, check=True):
        result = run_python(args, self.env, cwd=self.root, check=check)
        self.seconds[label] = self.seconds.get(label, 0.0) + result.seconds
        return result

    def report(self) -> str:
        return ", ".join(f"{k} {v:.0f}s" for k, v in self.seconds.items())

    def path(self, *parts) -> Path:
        return self.root.joinpath(*parts)


def trec_eval(ws: Workspace, keys: list[str], qrels: str, run: Path) -> dict[str, float]:
    """Pyserini's trec_eval, started once for ``keys`` (which must share their -M depth)."""
    ((args, _),) = trec.trec_eval_groups(keys)
    out = ws.py("trec_eval", "-m", "pyserini.eval.trec_eval", *args, qrels, run).stdout
    values = {}
    for key in keys:
        lines = [line.split() for line in out.splitlines() if line.startswith(key + " ")]
        assert len(lines) == 1 and lines[0][1] == "all", out
        values[key] = float(lines[0][2])
    return values


def pytrec_means(qrels: dict, run: dict, keys: list[str]) -> dict[str, float]:
    """trec_eval -c by pytrec_eval (utils.trec): means over the qrels' queries, 0 for queries missing from the run,
    MRR@10 on each query's top 10 in trec_eval's order."""
    return trec.means(trec.evaluate(qrels, run, keys))


def faiss_vectors(index_dir: Path) -> tuple[list[str], np.ndarray]:
    import faiss

    index = faiss.read_index(str(index_dir / "index"))
    docids = index_dir.joinpath("docid").read_text().split("\n")[:-1]
    return docids, index.reconstruct_n(0, index.ntotal)


def pyserini_fields(row: dict, with_title: bool) -> tuple[str, str | None]:
    """(text, title) as ``pyserini.encode``'s JsonlCollectionIterator reads them."""
    if with_title:  # the fields are keys of the row: stripped, empty -> None
        return (row["text"].strip() or ""), (row["title"].strip() or None)
    return row["contents"].strip(" "), None  # one field parsed out of "contents"


def chunked_passage_vectors(model, rows: list[dict], batch: int, with_title: bool, max_length,
                            chunks=None) -> np.ndarray:
    """``encode_passages`` over Pyserini's batches of the corpus (same padding as Pyserini's)."""
    out = []
    starts = range(0, len(rows), batch)
    for start in (starts if chunks is None else [starts[c] for c in chunks]):
        fields = [pyserini_fields(r, with_title) for r in rows[start:start + batch]]
        texts = [text for text, _ in fields]
        titles = [title for _, title in fields] if with_title else None
        out.append(model.encode_passages(texts, titles=titles, batch_size=len(texts), max_length=max_length))
    return np.vstack(out)


# ------------------------------------------------------------------------------ SciFact
@pytest.fixture(scope="session")
def offline_topics(shared_data, minimal_env):
    """Official topics/qrels (+ the MS MARCO eval stand-in) in the redirected caches."""
    return run_python(["-m", "pyserini_i3", "topics", "install", shared_data / "topics-and-qrels"], minimal_env)


@pytest.fixture(scope="module")
def scifact(tmp_path_factory, shared_data, minimal_env, offline_topics):
    root = tmp_path_factory.mktemp("scifact")
    coll = scifact_subset(shared_data, root)
    ws = Workspace(root, minimal_env)
    ws.coll = coll
    encode = ["-m", "pyserini.encode", "input", "--corpus", "corpus", "--fields", "title", "text"]
    encoder = ["encoder", "--encoder", "i3", "--fields", "title", "text", "--add-sep", "--device", "cpu",
               "--batch-size", str(SCIFACT_BATCH), "--max-length", str(SCIFACT_MAX_LENGTH)]
    ws.py("encode", *encode, "output", "--embeddings", "enc/faiss", "--to-faiss", *encoder)  # no --dimension
    ws.py("encode", *encode, "--shard-id", "0", "--shard-num", "2", "output", "--embeddings", "enc/jsonl0", *encoder)
    for shard in (0, 1):
        ws.py("encode", *encode, "--shard-id", str(shard), "--shard-num", "2",
              "output", "--embeddings", f"enc/shard{shard}", "--to-faiss", *encoder, "--dimension", "384")
    ws.py("merge", "-m", "pyserini.index.merge_faiss_indexes", "--prefix", "enc/shard", "--shard-num", "2")
    ws.py("lucene", "-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus",
          "--index", "lucene", "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1", "--storeRaw")

    dense = ["-m", "pyserini.search.faiss", "--topics", "topics.tsv", "--encoder", "i3", "--hits", "100"]
    batched = ["--batch-size", "8", "--threads", "2"]
    ws.py("search", "-m", "pyserini.search.lucene", "--index", "lucene", "--topics", "topics.tsv", "--bm25",
          "--hits", "100", "--output", "runs/bm25.txt")
    ws.py("search", *dense, "--index", "enc/faiss", "--output", "runs/dense.txt")
    ws.py("search", *dense, "--index", "enc/faiss", *batched, "--output", "runs/dense.batched.txt")
    ws.py("search", *dense, "--index", "enc/shardfull", *batched, "--output", "runs/dense.merged.txt")
    ws.py("search", *dense, "--index", "enc/faiss", *batched, "--output-format", "msmarco",
          "--output", "runs/dense.msmarco.txt")
    hybrid = ["-m", "pyserini.search.hybrid", "dense", "--index", "enc/faiss", "--encoder", "i3",
              "sparse", "--index", "lucene", "fusion", "--alpha", "0.5"]
    ws.py("search", *hybrid, "run", "--topics", "topics.tsv", "--hits", "100", "--output", "runs/hybrid.txt")
    ws.py("search", *hybrid, "--normalization", "run", "--topics", "topics.tsv", "--hits", "100",
          "--output", "runs/hybrid.norm.txt")
    ws.py("search", "-m", "pyserini.fusion", "--runs", "runs/bm25.txt", "runs/dense.txt", "--method", "rrf",
          "--output", "runs/rrf.txt")
    # approximate indexes from the flat one (no --dim: the plugin takes the embeddings'), searched unchanged
    ann = ["-m", "pyserini.index.faiss", "--input", "enc/faiss", "--threads", "2"]
    ws.py("index.faiss", *ann, "--output", "enc/hnsw", "--hnsw", "--M", "32", "--efC", "200")
    ws.py("index.faiss", *ann, "--output", "enc/pq", "--pq", "--pq-m", "96")
    ws.py("search", *dense, "--index", "enc/hnsw", "--ef-search", "256", "--output", "runs/dense.hnsw.txt")
    ws.py("search", *dense, "--index", "enc/pq", "--output", "runs/dense.pq.txt")
    hnsw_hybrid = [a if a != "enc/faiss" else "enc/hnsw" for a in hybrid]
    ws.py("search", *hnsw_hybrid, "--normalization", "run", "--topics", "topics.tsv", "--hits", "100",
          "--output", "runs/hybrid.norm.hnsw.txt")
    # Anserini's Lucene dense indexes (python -m pyserini_i3 index-dense), searched by pyserini.search.lucene
    index_dense = ["-m", "pyserini_i3", "index-dense", "--threads", "2", "--quiet"]
    ws.py("index-dense", *index_dense, "--input", "enc/faiss", "--output", "lucene-flat", "--flat")
    ws.py("index-dense", *index_dense, "--input", "enc/faiss", "--output", "lucene-flat-int8", "--flat", "--int8")
    ws.py("index-dense", *index_dense, "--input", "enc/faiss", "--output", "lucene-hnsw-int8", "--hnsw", "--int8")
    ws.py("index-dense", *index_dense, "--input", "enc/jsonl0", "--output", "lucene-hnsw0", "--hnsw")
    lucene_dense = ["-m", "pyserini.search.lucene", "--dense", "--topics", "topics.tsv", "--encoder", "i3",
                    "--hits", "100"]
    ws.py("search", *lucene_dense, "--flat", "--index", "lucene-flat", "--output", "runs/lucene.flat.txt")
    ws.py("search", *lucene_dense, "--hnsw", "--index", "lucene-hnsw-int8", "--ef-search", "1000", *batched,
          "--output", "runs/lucene.hnsw-int8.txt")
    print(f"\nSciFact subset commands: {ws.report()}")
    return ws


@pytest.fixture(scope="module")
def scifact_rows(scifact):
    return [json.loads(line) for line in open(scifact.path("corpus", "corpus.jsonl"))]


@pytest.fixture(scope="module")
def default_model():
    from pyserini_i3.plugin.resolve import load_model

    return load_model("i3")


def test_faiss_index_vectors_equal_encode_passages(scifact, scifact_rows, default_model):
    docids, vectors = faiss_vectors(scifact.path("enc", "faiss"))
    assert docids == [r["id"] for r in scifact_rows]
    assert vectors.shape == (1051, 384)  # --dimension was not given: the encoder's, not Pyserini's 768
    rows = np.concatenate([np.arange(len(scifact_rows))[c * SCIFACT_BATCH:(c + 1) * SCIFACT_BATCH]
                           for c in SCIFACT_CHUNKS])
    expected = chunked_passage_vectors(default_model, scifact_rows, SCIFACT_BATCH, True, SCIFACT_MAX_LENGTH,
                                       chunks=SCIFACT_CHUNKS)
    # same batches and padding; float noise only (the shipped encoder's `exact` path reduces in an order
    # that depends on the thread count, and the query-side tests set 1 thread in this process)
    np.testing.assert_allclose(vectors[rows], expected, atol=1e-6, rtol=0)
    # and the same as one encode_passages call over them, up to padding-order float noise
    picked = [scifact_rows[i] for i in rows]
    once = default_model.encode_passages([r["text"] for r in picked], [r["title"] for r in picked],
                                         max_length=SCIFACT_MAX_LENGTH)
    np.testing.assert_allclose(vectors[rows], once, atol=1e-5)


def test_jsonl_output_holds_the_same_vectors(scifact):
    with open(scifact.path("enc", "jsonl0", "embeddings.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    docids, vectors = faiss_vectors(scifact.path("enc", "faiss"))
    assert len(rows) == 525 and [r["id"] for r in rows] == docids[:525]
    assert rows[0]["vector"] and len(rows[0]["vector"]) == 384
    np.testing.assert_array_equal(np.asarray([r["vector"] for r in rows], dtype=np.float32), vectors[:525])


def test_sharded_encoding_merged_equals_unsharded(scifact):
    full_ids, full = faiss_vectors(scifact.path("enc", "faiss"))
    merged_ids, merged = faiss_vectors(scifact.path("enc", "shardfull"))
    assert merged_ids == full_ids
    np.testing.assert_array_equal(merged, full)
    assert scifact.path("runs", "dense.merged.txt").read_text() == scifact.path("runs", "dense.txt").read_text()


def test_hnsw_and_pq_indexes_search_with_the_i3_encoder(scifact):
    """pyserini.index.faiss --hnsw / --pq over I^3's flat index; search.faiss and search.hybrid with --encoder i3."""
    from pyserini_i3.plugin.argparse_patch import faiss_index_dimension

    qrels = read_qrels(scifact.path("qrels.txt"))
    runs = {name: read_run(scifact.path("runs", f"{name}.txt"))
            for name in ("dense", "dense.hnsw", "dense.pq", "hybrid.norm", "hybrid.norm.hnsw")}
    scores = {name: trec.means(trec.evaluate(qrels, run, ["ndcg_cut_10"]))["ndcg_cut_10"]
              for name, run in runs.items()}
    assert all(faiss_index_dimension(scifact.path("enc", name)) == 384 for name in ("hnsw", "pq"))

    def overlap(a, b, k=10):
        return np.mean([len({d for d, _ in trec.rank(a[q], k)} & {d for d, _ in trec.rank(b[q], k)}) / k
                        for q in b])

    assert overlap(runs["dense.hnsw"], runs["dense"]) > 0.97  # efSearch 256 over 1,051 vectors: near exact
    assert abs(scores["dense.hnsw"] - scores["dense"]) < 0.005
    assert abs(scores["hybrid.norm.hnsw"] - scores["hybrid.norm"]) < 0.01  # hybrid's own efSearch (FAISS's 16)
    assert 0.3 < overlap(runs["dense.pq"], runs["dense"]) < 1  # 4 dims per 8-bit code: lossy, not random
    assert abs(scores["dense.pq"] - scores["dense"]) < 0.1
    flat, pq = (scifact.path("enc", name, "index").stat().st_size for name in ("faiss", "pq"))
    codebooks = 96 * 256 * 4 * 4  # 96 sub-quantizers x 256 centroids x 4 floats
    assert pq - codebooks < flat / 10  # 96 bytes a vector against 1,536


def test_lucene_dense_indexes_search_with_the_i3_encoder(scifact):
    """index-dense + ``pyserini.search.lucene --dense --flat|--hnsw --encoder i3``: the flat index gives the
    FAISS run's hits and scores; HNSW int8 (Anserini's regression settings) stays within 0.005 nDCG@10."""
    qrels = read_qrels(scifact.path("qrels.txt"))
    faiss_run, flat, hnsw = (read_run(scifact.path("runs", f"{name}.txt"))
                             for name in ("dense", "lucene.flat", "lucene.hnsw-int8"))
    assert flat.keys() == faiss_run.keys() and all(len(hits) == 100 for hits in flat.values())
    for qid, hits in faiss_run.items():  # q.d back from Lucene's (1 + q.d) / 2
        assert flat[qid].keys() == hits.keys(), qid
        assert max(abs(flat[qid][d] - s) for d, s in hits.items()) < 2e-6, qid
    ndcg = {name: trec.means(trec.evaluate(qrels, run, ["ndcg_cut_10"]))["ndcg_cut_10"]
            for name, run in (("faiss", faiss_run), ("hnsw", hnsw))}
    assert abs(ndcg["hnsw"] - ndcg["faiss"]) < 0.005, ndcg
    assert hnsw != faiss_run  # int8 scores: not the float ones


def test_lucene_dense_index_holds_every_vector_from_either_input(scifact):
    from pyserini_i3.plugin.lucene_dense import I3LuceneDenseSearcher, index_vector_info

    assert index_vector_info(scifact.path("lucene-hnsw-int8")) == (384, "DOT_PRODUCT")
    # the jsonl shard (525 of the 1,051 passages): every hit is one of its ids
    with open(scifact.path("enc", "jsonl0", "embeddings.jsonl")) as f:
        shard = {json.loads(line)["id"] for line in f}
    searcher = I3LuceneDenseSearcher(str(scifact.path("lucene-hnsw0")), "i3", ef_search=1000)
    hits = searcher.search("cancer cells", k=1000)
    assert {h.docid for h in hits} == shard
    # the flat int8 index: the FAISS run's top 10, near enough
    faiss_run = read_run(scifact.path("runs", "dense.txt"))
    topics = dict(line.split("\t") for line in scifact.path("topics.tsv").read_text().splitlines())
    int8 = I3LuceneDenseSearcher(str(scifact.path("lucene-flat-int8")), "i3")
    got = int8.batch_search([topics[q] for q in faiss_run], list(faiss_run), k=10)
    overlap = np.mean([len({h.docid for h in got[q]} & {d for d, _ in trec.rank(faiss_run[q], 10)}) / 10
                       for q in faiss_run])
    assert overlap > 0.9, overlap


def test_hybrid_searcher_fuses_pyserinis_lucene_dense_searcher(scifact):
    """Pyserini's own classes, given encoder="i3", search with I^3; HybridSearcher fuses them with BM25 as
    ``pyserini.search.hybrid`` fused the FAISS run (same alpha, normalisation and depth)."""
    from pyserini.search.hybrid import HybridSearcher
    from pyserini.search.lucene import LuceneFlatDenseSearcher, LuceneHnswDenseSearcher, LuceneSearcher

    from pyserini_i3.plugin.lucene_dense import I3LuceneDenseSearcher

    flat = LuceneFlatDenseSearcher(str(scifact.path("lucene-flat")), encoder="i3")
    assert isinstance(flat, I3LuceneDenseSearcher) and flat.ef_search is None
    assert LuceneHnswDenseSearcher(str(scifact.path("lucene-hnsw-int8")), 512, "i3").ef_search == 512
    expected = read_run(scifact.path("runs", "hybrid.norm.txt"))
    topics = dict(line.split("\t") for line in scifact.path("topics.tsv").read_text().splitlines())
    qids = list(expected)[:10]
    hybrid = HybridSearcher(flat, LuceneSearcher(str(scifact.path("lucene"))))
    got = hybrid.batch_search([topics[q] for q in qids], qids, k0=1000, k=10, alpha=0.5, normalization=True)
    for qid in qids:
        assert [h.docid for h in got[qid]] == [d for d, _ in trec.rank(expected[qid], 10)], qid


def test_lucene_dense_refusals(scifact, tmp_path):
    from types import SimpleNamespace

    from pyserini_i3.plugin.lucene_dense import check_encoder_for_index

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "contents": "", "vector": [0.6, 0.8]}\n{"id": "b", "contents": "", "vector": [1, 1]}\n')
    result = scifact.py("index-dense", "-m", "pyserini_i3", "index-dense", "--input", bad, "--output",
                        tmp_path / "idx", "--flat", check=False)
    assert result.returncode == 2 and not (tmp_path / "idx").exists() and list(tmp_path.iterdir()) == [bad]
    assert result.stderr.strip().splitlines()[-1].startswith(f"index-dense: {bad}:2: the vector of b has length 1.414")
    # a model whose vectors are not unit length (the released layout) is refused on a DOT_PRODUCT index
    unnormalised = SimpleNamespace(model=SimpleNamespace(dim=384, config=SimpleNamespace(normalize=False)))
    with pytest.raises(ValueError, match="not unit length"):
        check_encoder_for_index(scifact.path("lucene-flat"), unnormalised)
    search = ["-m", "pyserini.search.lucene", "--dense", "--flat", "--topics", "topics.tsv",
              "--output", tmp_path / "never.txt"]
    result = scifact.py("search", *search, "--index", "lucene", "--encoder", "i3", check=False)
    assert result.returncode == 2 and not (tmp_path / "never.txt").exists()
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith("lucene: not a Lucene dense index (no 'vector' vector field)"), last
    other = tmp_path / "i3-768"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "i3", "backbone_config": {"hidden_size": 768}}))
    (other / "model.safetensors").write_bytes(b"")
    result = scifact.py("search", *search, "--index", "lucene-flat", "--encoder", other, check=False)
    assert result.returncode == 2 and not (tmp_path / "never.txt").exists()
    assert "holds 384-d vectors but the I^3 encoder" in result.stderr.strip().splitlines()[-1]


def test_index_faiss_takes_the_embeddings_dimension(scifact, tmp_path):
    from pyserini_i3.plugin.argparse_patch import embeddings_dimension

    assert embeddings_dimension(scifact.path("enc", "jsonl0")) == 384
    assert embeddings_dimension(scifact.path("enc", "faiss")) == 384
    result = scifact.py("index.faiss", "-m", "pyserini.index.faiss", "--input", "enc/faiss",
                        "--output", tmp_path / "x", "--hnsw", "--dim", "768", check=False)
    assert result.returncode == 2 and not (tmp_path / "x").exists()
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--dim 768 does not match the embeddings in --input enc/faiss (384-d vectors): use --dim 384")


def test_single_and_batched_search_give_identical_runs(scifact):
    single = scifact.path("runs", "dense.txt").read_text()
    assert single == scifact.path("runs", "dense.batched.txt").read_text()
    run = read_run(scifact.path("runs", "dense.txt"))
    assert len(run) == 50 and all(len(h) == 100 for h in run.values())


def test_bm25_index_and_run(scifact):
    run = read_run(scifact.path("runs", "bm25.txt"))
    assert len(run) == 50
    assert scifact.path("lucene").is_dir()


@pytest.mark.parametrize("name", ["hybrid.txt", "hybrid.norm.txt", "rrf.txt"])
def test_fused_runs_cover_the_topics(scifact, name):
    run = read_run(scifact.path("runs", name))
    assert len(run) == 50
    assert all(len(h) >= 10 for h in run.values())


def test_hybrid_normalization_changes_the_fusion(scifact):
    assert scifact.path("runs", "hybrid.txt").read_text() != scifact.path("runs", "hybrid.norm.txt").read_text()


SCIFACT_EVAL = {"bm25": METRICS, "dense": METRICS, "rrf": METRICS,
                "hybrid": ["ndcg_cut_10"], "hybrid.norm": ["ndcg_cut_10"]}


@pytest.fixture(scope="module")
def scifact_scores(scifact):
    """Every run's scores by pytrec_eval (what trec_eval -c computes; Pyserini's trec_eval is checked once below)."""
    qrels = read_qrels(scifact.path("qrels.txt"))
    scores = {(run, key): value for run, keys in SCIFACT_EVAL.items()
              for key, value in pytrec_means(qrels, read_run(scifact.path("runs", f"{run}.txt")), keys).items()}
    print(f"\nSciFact subset scores: {scores}; commands: {scifact.report()}")
    return scores


def test_every_run_scores(scifact_scores):
    assert all(0.0 < value <= 1.0 for value in scifact_scores.values()), scifact_scores


def test_pyserini_trec_eval_reads_the_i3_run(scifact, scifact_scores):
    """pyserini.eval.trec_eval on the --encoder i3 run (one JVM for the metrics that share its depth)."""
    values = trec_eval(scifact, ["ndcg_cut_10", "recall_100"], "qrels.txt", scifact.path("runs", "dense.txt"))
    for key, value in values.items():
        assert value == pytest.approx(scifact_scores["dense", key], abs=1e-4), key


def test_msmarco_output_accepted_by_msmarco_passage_eval(scifact, scifact_scores):
    lines = scifact.path("runs", "dense.msmarco.txt").read_text().splitlines()
    assert len(lines[0].split("\t")) == 3
    out = scifact.py("eval", "-m", "pyserini.eval.msmarco_passage_eval", "qrels.txt", "runs/dense.msmarco.txt").stdout
    mrr = float(next(line for line in out.splitlines() if line.startswith("MRR @10:")).split(":")[1])
    assert "QueriesRanked: 50" in out
    assert mrr == pytest.approx(scifact_scores["dense", "recip_rank"], abs=1e-4)


def test_merge_with_a_wrong_dimension_names_the_right_one(scifact):
    result = scifact.py("merge", "-m", "pyserini.index.merge_faiss_indexes", "--prefix", "enc/shard",
                        "--shard-num", "2", "--dimension", "768", check=False)
    assert result.returncode == 2
    assert "use --dimension 384" in result.stderr.strip().splitlines()[-1]


# ------------------------------------------------------------------------------ DL19 pool
@pytest.fixture(scope="module")
def i3_dir(tmp_path_factory):
    from pyserini_i3.modeling.model import I3Model

    path = tmp_path_factory.mktemp("model") / "i3-minilm-untrained"
    I3Model.from_backbone("sentence-transformers/all-MiniLM-L6-v2").save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def dl19(tmp_path_factory, shared_data, minimal_env, i3_dir, offline_topics):
    root = tmp_path_factory.mktemp("dl19")
    coll = dl19_pool(shared_data, root, num_queries=2, num_other=300)
    ws = Workspace(root, minimal_env)
    ws.coll = coll
    ws.py("encode", "-m", "pyserini.encode", "input", "--corpus", "corpus", "output", "--embeddings", "enc/faiss",
          "--to-faiss", "encoder", "--encoder", i3_dir, "--batch-size", str(DL19_BATCH), "--dimension", "384",
          "--device", "cpu")
    ws.py("lucene", "-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus",
          "--index", "lucene", "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1", "--storeRaw")
    ws.py("search", "-m", "pyserini.search.lucene", "--index", "lucene", "--topics", "dl19-passage", "--bm25",
          "--hits", "100", "--output", "runs/bm25.txt")
    ws.py("search", "-m", "pyserini.search.faiss", "--index", "enc/faiss", "--topics", "dl19-passage",
          "--encoder", i3_dir, "--hits", "100", "--batch-size", "8", "--threads", "2", "--output", "runs/dense.txt")
    ws.py("search", "-m", "pyserini.search.hybrid", "dense", "--index", "enc/faiss", "--encoder", i3_dir,
          "sparse", "--index", "lucene", "fusion", "--alpha", "0.5", "--normalization",
          "run", "--topics", "dl19-passage", "--hits", "100", "--output", "runs/hybrid.txt")
    print(f"\nDL19 pool subset ({coll.num_docs} passages) commands: {ws.report()}")
    return ws


def test_dl19_named_topics_run_offline(dl19):
    for name in ("bm25", "dense", "hybrid"):
        run = read_run(dl19.path("runs", f"{name}.txt"))
        assert len(run) == 43, name  # the official dl19-passage topics, by name


def test_dl19_vectors_equal_encode_passages_at_the_models_length(dl19, i3_dir):
    from pyserini_i3.modeling.model import I3Model

    model = I3Model.from_pretrained(i3_dir)
    with open(dl19.path("corpus", "corpus.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    docids, vectors = faiss_vectors(dl19.path("enc", "faiss"))
    assert docids == [r["id"] for r in rows]
    # --max-length not given: the model's passage_max_length, not Pyserini's 256 default
    chunks = (0, 3, len(rows) // DL19_BATCH)  # first, middle, last batch
    picked = np.concatenate([np.arange(len(rows))[c * DL19_BATCH:(c + 1) * DL19_BATCH] for c in chunks])
    np.testing.assert_array_equal(vectors[picked],
                                  chunked_passage_vectors(model, rows, DL19_BATCH, False, None, chunks=chunks))


def test_dl19_named_qrels_trec_eval_equals_pytrec_eval(dl19, shared_data):
    """trec_eval with Anserini's named qrels (offline: installed where Anserini looks), one start."""
    qrels = read_qrels(shared_data / "topics-and-qrels" / "qrels.dl19-passage.txt")
    run = read_run(dl19.path("runs", "dense.txt"))
    values = trec_eval(dl19, ["ndcg_cut_10", "recall_100"], "dl19-passage", dl19.path("runs", "dense.txt"))
    expected = pytrec_means(qrels, run, list(values))
    for key, value in values.items():
        assert value == pytest.approx(expected[key], abs=1e-4), key


def test_programmatic_faiss_searcher_matches_the_cli_run(dl19, i3_dir):
    from pyserini.search.faiss import FaissSearcher

    from pyserini_i3.plugin.encoders import I3QueryEncoder

    run = read_run(dl19.path("runs", "dense.txt"))
    searcher = FaissSearcher(str(dl19.path("enc", "faiss")), I3QueryEncoder(str(i3_dir)))
    hits = searcher.search("do goldfish grow", k=10)
    expected = sorted(run["156493"].items(), key=lambda kv: -kv[1])[:10]
    assert [h.docid for h in hits] == [d for d, _ in expected]
    assert [round(float(h.score), 6) for h in hits] == [s for _, s in expected]
    # a string names the encoder too
    by_name = FaissSearcher(str(dl19.path("enc", "faiss")), str(i3_dir)).search("do goldfish grow", k=10)
    assert [h.docid for h in by_name] == [h.docid for h in hits]


def test_search_with_an_encoder_of_another_dimension_fails_clearly(dl19, tmp_path):
    other = tmp_path / "i3-768"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "i3", "backbone_config": {"hidden_size": 768}}))
    (other / "model.safetensors").write_bytes(b"")
    result = dl19.py("search", "-m", "pyserini.search.faiss", "--index", "enc/faiss", "--topics", "dl19-passage",
                     "--encoder", other, "--output", "runs/never.txt", check=False)
    assert result.returncode == 2
    assert "holds 384-d vectors" in result.stderr.strip().splitlines()[-1]
    assert not dl19.path("runs", "never.txt").exists()
