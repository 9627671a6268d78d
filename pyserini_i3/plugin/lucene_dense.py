"""I^3 vectors in Anserini's Lucene dense indexes: HNSW and flat, float32 or int8.

Building: :func:`build_index` turns ``pyserini.encode`` output (its jsonl files, or a flat FAISS
index with its ``docid`` file) into the ``{"docid", "vector"}`` lines Anserini's
``JsonDenseVectorCollection`` reads (``pyserini.encode`` writes ``"id"``, and Anserini indexes
such a file as "0 documents" and exits 0), then runs Anserini's own ``IndexHnswDenseVectors`` or
``IndexFlatDenseVectors`` in Pyserini's JVM; the index appears whole or not at all, and a count
that differs from the input's is an error.

Searching: :class:`I3LuceneDenseSearcher` encodes the query with the I^3 query encoder and runs
Lucene's ``KnnFloatVectorQuery`` on the index (what Anserini's ``HnswDenseSearcher`` and
``FlatDenseSearcher`` do, without their start-up call to GitHub for the prebuilt-index list,
which fails offline).  ``search`` / ``batch_search`` match Pyserini's dense searchers, so
``HybridSearcher`` takes it; Pyserini's ``LuceneHnswDenseSearcher`` / ``LuceneFlatDenseSearcher``
give one when their ``encoder`` is an I^3 encoder (:func:`patch_searcher_module`), which is how
``python -m pyserini.search.lucene --dense --hnsw|--flat --encoder i3`` reaches it.

Scores: Anserini indexes with Lucene's DOT_PRODUCT similarity, which assumes unit vectors and
scores ``(1 + q.d) / 2``.  The searcher returns ``q.d`` (the model's score, as FAISS gives it), so
a hybrid's alpha means the same on both indexes.  A model whose vectors are not unit length
(the released ``i3-msmarco`` layout) is refused in one line, at indexing and at search: a
FAISS index serves it exactly.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pyserini_i3.plugin.compat import one_line

UNIT_TOLERANCE = 1e-3
VECTOR_FIELD, ID_FIELD = "vector", "id"  # io.anserini.index.Constants.VECTOR / .ID
KINDS = {"hnsw": "io.anserini.index.IndexHnswDenseVectors", "flat": "io.anserini.index.IndexFlatDenseVectors"}
NOT_UNIT = ("Anserini's Lucene dense indexes score with DOT_PRODUCT, which assumes unit vectors; "
            "use a FAISS index, which scores this model's inner products exactly")


@dataclass(frozen=True)
class DenseResult:
    """One hit, as Pyserini's ``DenseSearchResult``: ``docid`` and ``score``."""

    docid: str
    score: float


# --------------------------------------------------------------------------- reading pyserini.encode output
def encoded_records(path: str | os.PathLike, chunk: int = 4096) -> Iterator[tuple[str, str, np.ndarray]]:
    """``(where, docid, vector)`` for each vector in ``pyserini.encode`` output: a directory of jsonl
    files (``{"id", "contents", "vector"}``; ``"docid"`` is read too), one such file, or a flat FAISS
    index directory (``index`` + ``docid``).  Malformed input raises ``ValueError`` naming file:line."""
    path = Path(path)
    if path.is_dir() and (path / "index").is_file():
        yield from _faiss_records(path, chunk)
        return
    files = [path] if path.is_file() else sorted(p for p in path.glob("*.json*") if p.is_file())
    if not files:
        raise ValueError(f"{path}: no pyserini.encode output (jsonl files, or a FAISS index with its docid file)")
    for file in files:
        with open(file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{file}:{lineno}"
                try:
                    row = json.loads(line)
                except ValueError:
                    raise ValueError(f"{where}: not a JSON object") from None
                docid = row.get("id", row.get("docid")) if isinstance(row, dict) else None
                vector = row.get("vector") if isinstance(row, dict) else None
                if docid is None or not isinstance(vector, list) or not vector:
                    raise ValueError(f"{where}: expected pyserini.encode's {{\"id\", \"vector\"}} line")
                try:
                    array = np.asarray(vector, dtype=np.float32)
                except (TypeError, ValueError):
                    raise ValueError(f"{where}: \"vector\" is not a list of numbers") from None
                yield where, str(docid), array


def _faiss_records(path: Path, chunk: int) -> Iterator[tuple[str, str, np.ndarray]]:
    import faiss

    index = faiss.read_index(str(path / "index"))
    with open(path / "docid", encoding="utf-8") as f:
        docids = [line.rstrip("\n") for line in f]
    if len(docids) != index.ntotal:
        raise ValueError(f"{path}: {index.ntotal} vectors in index but {len(docids)} lines in docid")
    try:
        for start in range(0, index.ntotal, chunk):
            block = index.reconstruct_n(start, min(chunk, index.ntotal - start))
            for i, vector in enumerate(block):
                yield f"{path}/docid:{start + i + 1}", docids[start + i], vector
    except RuntimeError as exc:  # an HNSW/PQ index cannot give its vectors back exactly
        raise ValueError(f"{path}: cannot read the vectors back ({str(exc).splitlines()[0]}); "
                         "give the flat index or the jsonl output of pyserini.encode") from None


def write_anserini_collection(records, out_dir: Path, progress: bool = True) -> tuple[int, int]:
    """Write ``records`` as Anserini ``JsonDenseVectorCollection`` lines; (count, dimension).
    Every vector must have the first one's dimension and unit length (see :data:`NOT_UNIT`)."""
    from tqdm.auto import tqdm

    count, dim = 0, None
    with open(out_dir / "vectors.jsonl", "w", encoding="utf-8") as out:
        for where, docid, vector in tqdm(records, unit="vector", desc="vectors", disable=not progress):
            if dim is None:
                dim = len(vector)
            elif len(vector) != dim:
                raise ValueError(f"{where}: a {len(vector)}-d vector after {dim}-d ones")
            norm = float(np.linalg.norm(vector))
            if abs(norm - 1.0) > UNIT_TOLERANCE:
                raise ValueError(f"{where}: the vector of {docid} has length {norm:.4g}, not 1: {NOT_UNIT}")
            out.write(json.dumps({"docid": docid, "vector": vector.tolist()}) + "\n")
            count += 1
    if not count:
        raise ValueError("no vectors in the input")
    return count, dim


# --------------------------------------------------------------------------- building
def _quantize_field(args_class) -> str:
    """Anserini's int8 switch: ``-quantize.sqv`` (field quantizeSQV, Anserini 2.x) or ``-quantize.int8``
    (quantizeInt8, 1.x), found on the class itself."""
    from pyserini.pyclass import autoclass

    names = {f.getName() for f in autoclass("java.lang.Class").forName(args_class).getFields()}
    for name in ("quantizeSQV", "quantizeInt8"):
        if name in names:
            return name
    from pyserini_i3.plugin.compat import missing

    raise missing(f"int8 option on {args_class} (its fields: {', '.join(sorted(names))})")


def build_index(input_path: str | os.PathLike, output: str | os.PathLike, kind: str = "hnsw", M: int = 16,
                ef_construction: int = 100, int8: bool = False, threads: int = 4, optimize: bool = False,
                progress: bool = True) -> dict:
    """A Lucene dense index at ``output`` from ``pyserini.encode`` output; returns what was built."""
    from pyserini.pyclass import autoclass

    from pyserini_i3.utils.files import atomic_dir

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    output = Path(output)
    records = encoded_records(input_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(output) as index, tempfile.TemporaryDirectory(dir=output.parent,
                                                                   prefix=f".{output.name}.vectors-") as collection:
        count, dim = write_anserini_collection(records, Path(collection), progress)
        args_class = KINDS[kind] + "$Args"
        args = autoclass(args_class)()
        args.input, args.index, args.collectionClass = collection, str(index), "JsonDenseVectorCollection"
        args.threads, args.optimize, args.quiet = threads, optimize, not progress
        if kind == "hnsw":
            args.M, args.efC = M, ef_construction
        if int8:
            setattr(args, _quantize_field(args_class), True)
        indexer = autoclass(KINDS[kind])(args)
        indexer.run()
        indexed = int(indexer.getCounters().indexed.get())
        if indexed != count:
            raise ValueError(f"Anserini indexed {indexed} of the {count} vectors in {input_path}")
    return {"vectors": count, "dimension": dim, "kind": kind, "int8": int8,
            **({"M": M, "efC": ef_construction} if kind == "hnsw" else {})}


# --------------------------------------------------------------------------- searching
def index_vector_info(index_dir: str | os.PathLike) -> tuple[int, str]:
    """(dimension, similarity) of the index's vector field; ``ValueError`` if it has none."""
    from pyserini.pyclass import autoclass

    reader = _open_reader(index_dir)
    try:
        info = autoclass("org.apache.lucene.index.FieldInfos").getMergedFieldInfos(reader).fieldInfo(VECTOR_FIELD)
        if info is None or info.getVectorDimension() == 0:
            raise one_line(ValueError(f"{index_dir}: not a Lucene dense index (no '{VECTOR_FIELD}' vector field)"))
        return int(info.getVectorDimension()), str(info.getVectorSimilarityFunction().name())
    finally:
        reader.close()


def _open_reader(index_dir):
    from pyserini.pyclass import autoclass

    if not any(Path(index_dir).glob("segments_*")):
        raise one_line(ValueError(f"{index_dir}: not a Lucene index"))
    path = autoclass("java.io.File")(str(index_dir)).toPath()
    directory = autoclass("org.apache.lucene.store.FSDirectory").open(path)
    return autoclass("org.apache.lucene.index.DirectoryReader").open(directory)


def check_encoder_for_index(index_dir, query_encoder) -> None:
    """A ``ValueError`` (one line if uncaught) unless the I^3 query encoder can search this index."""
    dim, similarity = index_vector_info(index_dir)
    model = getattr(query_encoder, "model", None)
    if model is None:
        return
    if model.dim != dim:
        raise one_line(ValueError(f"{index_dir}: the index holds {dim}-d vectors but the I^3 query encoder gives "
                                  f"{model.dim}-d: search with the model that encoded the corpus"))
    if similarity != "DOT_PRODUCT":
        raise one_line(ValueError(f"{index_dir}: the index scores with {similarity}; I^3 indexes score with "
                                  "DOT_PRODUCT (python -m pyserini_i3 index-dense)"))
    if not model.config.normalize:
        raise one_line(ValueError(f"{index_dir}: this I^3 model's vectors are not unit length: {NOT_UNIT}"))


class LuceneVectorSearcher:
    """Nearest vectors in an Anserini HNSW or flat dense index, by query vector (any model).

    ``ef_search``: the HNSW candidate list (Anserini's ``-efSearch``; the query asks Lucene for
    ``max(ef_search, k)`` neighbours and keeps ``k``); ``None`` for a flat index, searched exactly.
    Scores are ``q.d`` (Lucene's DOT_PRODUCT score ``(1 + q.d) / 2`` turned back).
    """

    def __init__(self, index_dir: str | os.PathLike, ef_search: int | None = None):
        from pyserini.pyclass import autoclass

        self.index_dir, self.ef_search = str(index_dir), ef_search
        self.dimension, self.similarity = index_vector_info(index_dir)
        self._reader = _open_reader(index_dir)
        self._searcher = autoclass("org.apache.lucene.search.IndexSearcher")(
            self._reader, signature="(Lorg/apache/lucene/index/IndexReader;)V")
        self._query = autoclass("org.apache.lucene.search.KnnFloatVectorQuery")

    def search_vector(self, vector, k: int = 10) -> list[DenseResult]:
        depth = max(k, self.ef_search or 0)
        top = self._searcher.search(self._query(VECTOR_FIELD, [float(x) for x in vector], depth), k)
        stored = self._searcher.storedFields()
        return [DenseResult(stored.document(hit.doc).get(ID_FIELD), 2.0 * float(hit.score) - 1.0)
                for hit in top.scoreDocs]

    def close(self) -> None:
        self._reader.close()


class I3LuceneDenseSearcher(LuceneVectorSearcher):
    """Search an Anserini HNSW or flat dense index with an I^3 query encoder (Pyserini's dense
    searcher interface: ``search``, ``batch_search``).

    ``encoder`` is an encoder name (``i3``, a released name, a model directory) or an
    :class:`~pyserini_i3.plugin.encoders.I3QueryEncoder`; ``ef_search`` as in
    :class:`LuceneVectorSearcher`.
    """

    def __init__(self, index_dir: str, encoder="i3", ef_search: int | None = None, device: str = "cpu"):
        from pyserini_i3.plugin.encoders import I3QueryEncoder

        if not isinstance(encoder, I3QueryEncoder):
            encoder = I3QueryEncoder(str(encoder), device=device)
        check_encoder_for_index(index_dir, encoder)
        self.query_encoder = encoder
        super().__init__(index_dir, ef_search)

    def search(self, q: str, k: int = 10) -> list[DenseResult]:
        return self.search_vector(self.query_encoder.encode(q), k)

    def batch_search(self, queries: list[str], q_ids: list[str], k: int = 10,
                     threads: int = 1) -> dict[str, list[DenseResult]]:
        """Queries one after the other (``threads`` is accepted for Pyserini's signature: calls into the
        JVM from several Python threads race in pyjnius)."""
        vectors = self.query_encoder.encode_batch(list(queries))
        return {qid: self.search_vector(vector, k) for qid, vector in zip(q_ids, vectors)}


# --------------------------------------------------------------------------- Pyserini's classes
def patch_searcher_module(module) -> None:
    """``LuceneHnswDenseSearcher(index, ef_search=..., encoder="i3")`` and ``LuceneFlatDenseSearcher(index,
    encoder="i3")`` give an :class:`I3LuceneDenseSearcher`; every other encoder goes to Anserini as before."""
    from pyserini_i3.plugin.compat import require

    for name, exact in (("LuceneHnswDenseSearcher", False), ("LuceneFlatDenseSearcher", True)):
        original = require(module, name)
        if getattr(original, "_pyserini_i3", False):
            continue
        setattr(module, name, _diverting(original, exact))


def _diverting(original, exact: bool):
    import inspect

    signature = inspect.signature(original.__init__)

    def __new__(cls, *args, **kwargs):
        from pyserini_i3.plugin.resolve import is_i3_encoder

        bound = signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        encoder = bound.arguments.get("encoder")
        if isinstance(encoder, str) and is_i3_encoder(encoder):
            ef_search = None if exact else bound.arguments.get("ef_search")
            return I3LuceneDenseSearcher(bound.arguments["index_dir"], encoder, ef_search=ef_search)
        return object.__new__(cls)

    return type(original.__name__, (original,), {"__new__": __new__, "__doc__": original.__doc__,
                                                 "__module__": original.__module__, "_pyserini_i3": True})
