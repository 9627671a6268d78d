"""Command lines of Pyserini's own commands (``python -m pyserini....``), built in one place.

Each function returns the arguments after ``python``; callers run them with
``sys.executable`` (BM25 mining in ``training.mining``, the runs of ``eval``, the
benchmarks).  Nothing here imports Pyserini.
"""

from __future__ import annotations

import os

from pyserini_i3.utils.trec import MEASURES

PathLike = str | os.PathLike

# Pyserini's usual metrics (utils.trec.MEASURES): (label, trec_eval arguments, measure name in its output)
METRICS = [(m.label, m.trec_eval_args(), m.name) for m in MEASURES.values()]


def _opt(flag: str, value) -> list[str]:
    return [] if value is None else [flag, str(value)]


def lucene_index(input_dir: PathLike, index_dir: PathLike, threads: int = 2) -> list[str]:
    """BM25 index of a ``JsonCollection`` folder (``{"id", "contents"}`` lines), raw documents stored."""
    return ["-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", str(input_dir),
            "--index", str(index_dir), "--generator", "DefaultLuceneDocumentGenerator", "--threads", str(threads),
            "--storeRaw"]


def encode_faiss(corpus: PathLike, index: PathLike, encoder: PathLike, fields=("text",), add_sep: bool | None = None,
                 batch_size: int = 32, max_length: int | None = None, dimension: int | None = None,
                 device: str | None = None) -> list[str]:
    """``pyserini.encode`` of a corpus into a FAISS flat index.  ``fields`` other than the plain
    ``text`` are named on both sides; ``add_sep`` (default: when there is a title) joins
    ``title [SEP] text``, the format I^3 is trained on."""
    fields = list(fields)
    named = ["--fields", *fields] if fields != ["text"] else []
    if add_sep is None:
        add_sep = "title" in fields
    return ["-m", "pyserini.encode", "input", "--corpus", str(corpus), *named,
            "output", "--embeddings", str(index), "--to-faiss",
            "encoder", "--encoder", str(encoder), *named, *(["--add-sep"] if add_sep else []),
            "--batch-size", str(batch_size), *_opt("--max-length", max_length), *_opt("--dimension", dimension),
            *_opt("--device", device)]


def search_lucene(index: PathLike, topics: PathLike, output: PathLike, hits: int = 1000, threads: int | None = None,
                  batch_size: int | None = None, remove_query: bool = False) -> list[str]:
    """BM25 (Anserini's k1 0.9, b 0.4) run of a topics file or a named topic set."""
    return ["-m", "pyserini.search.lucene", "--index", str(index), "--topics", str(topics), "--bm25",
            "--hits", str(hits), *_opt("--threads", threads), *_opt("--batch-size", batch_size),
            *(["--remove-query"] if remove_query else []), "--output", str(output)]


def search_faiss(index: PathLike, topics: PathLike, encoder: PathLike, output: PathLike, hits: int = 1000,
                 batch_size: int = 32, threads: int = 2, device: str | None = None,
                 output_format: str | None = None) -> list[str]:
    """Dense run over a FAISS index; ``output_format="msmarco"`` writes an MS MARCO submission."""
    return ["-m", "pyserini.search.faiss", "--index", str(index), "--topics", str(topics), "--encoder", str(encoder),
            *_opt("--device", device), "--hits", str(hits), "--batch-size", str(batch_size), "--threads", str(threads),
            *_opt("--output-format", output_format), "--output", str(output)]


def search_hybrid(dense_index: PathLike, encoder: PathLike, sparse_index: PathLike, topics: PathLike,
                  output: PathLike, alpha: float = 0.5, normalization: bool = True, hits: int = 1000,
                  batch_size: int = 32, threads: int = 2, device: str | None = None) -> list[str]:
    """``pyserini.search.hybrid``: dense + BM25, ``alpha`` x BM25 + dense, scores normalised per query."""
    return ["-m", "pyserini.search.hybrid", "dense", "--index", str(dense_index), "--encoder", str(encoder),
            *_opt("--device", device), "sparse", "--index", str(sparse_index),
            "fusion", "--alpha", str(alpha), *(["--normalization"] if normalization else []),
            "run", "--topics", str(topics), "--hits", str(hits), "--batch-size", str(batch_size),
            "--threads", str(threads), "--output", str(output)]


def fusion_rrf(runs: list[PathLike], output: PathLike) -> list[str]:
    """Reciprocal rank fusion of TREC runs."""
    return ["-m", "pyserini.fusion", "--runs", *map(str, runs), "--method", "rrf", "--output", str(output)]


def trec_eval(options: list[str], qrels: PathLike, run: PathLike) -> list[str]:
    """``pyserini.eval.trec_eval OPTIONS QRELS RUN`` (qrels: a file or a name such as ``dl19-passage``)."""
    return ["-m", "pyserini.eval.trec_eval", *options, str(qrels), str(run)]


def parse_trec_eval(output: str, measure: str) -> float:
    """The ``all`` value of ``measure`` in trec_eval's output."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == measure and parts[1] == "all":
            return float(parts[2])
    raise ValueError(f"trec_eval printed no 'all' line for {measure}")
