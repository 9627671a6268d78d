"""Pyserini-ready copies of the shared test collections (for tests and ``runs/``).

Both builders write, under ``out``:

* ``corpus/corpus.jsonl``: ``{"id", "contents"}`` (+ ``"title"``, ``"text"`` for
  SciFact), readable by ``pyserini.index.lucene -collection JsonCollection`` and by
  ``pyserini.encode input --corpus ... --fields title text``;
* ``topics.tsv`` (``qid<TAB>query``) and ``qrels.txt`` (TREC), restricted to the
  queries kept.

Nothing is copied into the repository: ``out`` is a scratch directory.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from pyserini_i3.utils.files import atomic_dir, atomic_file, write_atomic
from pyserini_i3.utils.formats import Problems, read_qrels, read_queries

SEED = 13


@dataclass(frozen=True)
class Collection:
    root: Path
    corpus: Path          # the directory Pyserini reads
    topics: Path
    qrels: Path
    num_docs: int
    num_queries: int


def shared_root(repo_root: str | Path) -> Path:
    return (Path(repo_root) / ".." / "shared").resolve()


def _write_jsonl(path: Path, rows) -> int:
    n = 0
    with atomic_file(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _qrels(path: Path) -> list[tuple[str, str, int]]:
    """(qid, docid, relevance) rows of a BEIR or TREC qrels file, in file order; any bad line is an error."""
    problems = Problems()
    qrels = read_qrels(path, problems)
    if problems.counts:
        kind = next(iter(problems.counts))
        raise ValueError(f"{path}: {problems.describe(kind)}")
    return [(q, d, r) for q, judged in qrels.items() for d, r in judged.items()]


def _write_topics_and_qrels(out: Path, queries_file: Path, qids: list[str], qrels, topics: str = "topics.tsv",
                            qrels_name: str = "qrels.txt") -> None:
    """``topics.tsv`` for ``qids`` (texts from a BEIR queries.jsonl) and TREC ``qrels.txt``."""
    queries = read_queries(queries_file, "beir")
    missing = [q for q in qids if q not in queries]
    if missing:
        raise ValueError(f"qrels name query {missing[0]}, which is not in {queries_file}")
    write_atomic(out / topics, "".join(f"{q}\t{queries[q]}\n" for q in qids))
    write_atomic(out / qrels_name, "".join(f"{q} 0 {d} {s}\n" for q, d, s in qrels))


def scifact_subset(data: Path, out: Path, num_queries: int = 50, num_other: int = 1000,
                   seed: int = SEED) -> Collection:
    """The first ``num_queries`` SciFact test queries (by id), every passage judged for
    them, and ``num_other`` other passages drawn with a fixed seed."""
    data, out = Path(data), Path(out)
    qrels = _qrels(data / "scifact" / "qrels" / "test.tsv")
    qids = sorted({q for q, _, _ in qrels}, key=int)[:num_queries]
    keep_q = set(qids)
    qrels = [r for r in qrels if r[0] in keep_q]
    judged = {d for _, d, _ in qrels}
    with open(data / "scifact" / "corpus.jsonl") as f:
        docs = [json.loads(line) for line in f]
    others = sorted(d["_id"] for d in docs if d["_id"] not in judged)
    keep_d = judged | set(random.Random(seed).sample(others, num_other))
    n_docs = _write_jsonl(out / "corpus" / "corpus.jsonl", (
        {"id": d["_id"], "title": d["title"], "text": d["text"], "contents": f"{d['title']} {d['text']}".strip()}
        for d in docs if d["_id"] in keep_d
    ))
    _write_topics_and_qrels(out, data / "scifact" / "queries.jsonl", qids, qrels)
    return Collection(out, out / "corpus", out / "topics.tsv", out / "qrels.txt", n_docs, len(qids))


MSMARCO_POOLS = ("dl19", "dl20", "dev600")


def dl19_pool(data: Path, out: Path, num_queries: int | None = None, num_other: int = 0,
              seed: int = SEED) -> Collection:
    """The DL19 passage pool (:func:`msmarco_pool`)."""
    return msmarco_pool(data, out, "dl19", num_queries, num_other, seed)


def msmarco_pool(data: Path, out: Path, name: str, num_queries: int | None = None, num_other: int = 0,
                 seed: int = SEED) -> Collection:
    """An MS MARCO passage pool of ``../shared/data/msmarco-pools`` (``dl19``, ``dl20``, ``dev600``); with
    ``num_queries``, only the pool passages judged for the first ``num_queries`` topics plus ``num_other``
    others (a fast test subset).  The topics and qrels written are always the pool's own (DL19's and DL20's
    are the official ones, also reachable by the names ``dl19-passage`` / ``dl20`` and ``dl20-passage``
    once ``pyserini_i3 topics install`` has run)."""
    if name not in MSMARCO_POOLS:
        raise ValueError(f"no MS MARCO pool {name!r}: one of {', '.join(MSMARCO_POOLS)}")
    data, out = Path(data), Path(out)
    pool = data / "msmarco-pools" / name
    rows = []
    with open(pool / "collection.tsv", encoding="utf-8") as f:
        for line in f:
            pid, _, text = line.rstrip("\n").partition("\t")
            rows.append((pid, text))
    if num_queries is not None:
        judged = _qrels(pool / ("qrels.with_text.txt" if name != "dev600" else "qrels.txt"))
        order = []
        for q, _, _ in judged:
            if q not in order:
                order.append(q)
        keep_q = set(order[:num_queries])
        keep = {d for q, d, _ in judged if q in keep_q}
        others = sorted(pid for pid, _ in rows if pid not in keep)
        keep |= set(random.Random(seed).sample(others, min(num_other, len(others))))
        rows = [r for r in rows if r[0] in keep]
    n_docs = _write_jsonl(out / "corpus" / "corpus.jsonl", ({"id": pid, "contents": text} for pid, text in rows))
    write_atomic(out / "topics.tsv", (pool / "queries.tsv").read_bytes())
    write_atomic(out / "qrels.txt", (pool / "qrels.txt").read_bytes())
    with open(out / "topics.tsv") as f:
        n_queries = sum(1 for line in f if line.strip())
    return Collection(out, out / "corpus", out / "topics.tsv", out / "qrels.txt", n_docs, n_queries)


# --------------------------------------------------------------------------- the demo's collection
SCIFACT_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"
URL_ENV = "PYSERINI_I3_SCIFACT_URL"  # another mirror (or a file:// URL in tests)
SAMPLE_DIR = Path(__file__).resolve().parent / "sample_collection"


def beir_split(beir_dir: Path, out: Path, split: str) -> tuple[Path, Path]:
    """``{split}-topics.tsv`` and ``{split}-qrels.txt`` of a BEIR dataset's split, in ``out``."""
    beir_dir, out = Path(beir_dir), Path(out)
    qrels = _qrels(beir_dir / "qrels" / f"{split}.tsv")
    qids = sorted({q for q, _, _ in qrels}, key=lambda q: (len(q), q))
    topics, qrels_file = out / f"{split}-topics.tsv", out / f"{split}-qrels.txt"
    _write_topics_and_qrels(out, beir_dir / "queries.jsonl", qids, qrels, topics.name, qrels_file.name)
    return topics, qrels_file


def beir_test_collection(beir_dir: Path, out: Path, split: str = "test") -> Collection:
    """Every passage of a BEIR dataset and the queries/qrels of ``split``, Pyserini-ready."""
    beir_dir, out = Path(beir_dir), Path(out)
    qrels = _qrels(beir_dir / "qrels" / f"{split}.tsv")
    qids = sorted({q for q, _, _ in qrels}, key=lambda q: (len(q), q))

    def docs():
        with open(beir_dir / "corpus.jsonl", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                try:
                    d = json.loads(line)
                    yield {"id": d["_id"], "title": d.get("title", ""), "text": d["text"],
                           "contents": f"{d.get('title', '')}\n{d['text']}".strip()}
                except (json.JSONDecodeError, KeyError) as exc:
                    raise ValueError(f"{beir_dir / 'corpus.jsonl'}:{line_no}: not a BEIR passage ({exc})") from None

    n_docs = _write_jsonl(out / "corpus" / "corpus.jsonl", docs())
    _write_topics_and_qrels(out, beir_dir / "queries.jsonl", qids, qrels)
    return Collection(out, out / "corpus", out / "topics.tsv", out / "qrels.txt", n_docs, len(qids))


def download_scifact(cache: Path, timeout: float = 30.0) -> Path:
    """BEIR's public SciFact (corpus, queries, qrels), downloaded once into ``cache``; OSError offline."""
    import os
    import shutil
    import tempfile
    import urllib.request
    import zipfile

    target = Path(cache) / "scifact"
    if (target / "corpus.jsonl").is_file() and (target / "qrels" / "test.tsv").is_file():
        return target
    url = os.environ.get(URL_ENV, SCIFACT_URL)
    Path(cache).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".scifact-") as tmp, atomic_dir(target) as staged:
        archive = Path(tmp) / "scifact.zip"
        with urllib.request.urlopen(url, timeout=timeout) as response, open(archive, "wb") as f:
            shutil.copyfileobj(response, f)
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        extracted = Path(tmp) / "scifact"
        if not (extracted / "corpus.jsonl").is_file():
            raise OSError(f"{url}: the archive holds no scifact/corpus.jsonl")
        for item in extracted.iterdir():
            os.replace(item, staged / item.name)
    return target
