"""The ``--encoder`` / ``--dimension`` handling of Pyserini's own command-line parsers.

Pyserini's commands pick an encoder class with ``--encoder-class`` (an argparse
``choices`` list) or else with the first key of ``document_encoder_class_map`` /
``query_encoder_class_map`` that is a substring of ``encoder.lower()``.  So:

1. ``"i3"`` goes into both ``--encoder-class`` choice lists (the class maps get it
   first from :mod:`pyserini_i3.plugin.encoders`);
2. the ``--encoder`` option of those parsers gets a ``type`` returning an
   :class:`~pyserini_i3.plugin.names.EncoderName`, whose ``.lower()`` contains "i3"
   only for ``i3`` or an I^3 model directory: every other name resolves as before.

The changes are scoped by the *calling file*: only ``add_argument`` / ``parse_args``
calls made from Pyserini's ``encode/__main__.py``, ``search/faiss/__main__.py`` (also
used by ``search.hybrid``), ``search/hybrid/__main__.py`` and
``index/merge_faiss_indexes.py``, ``index/faiss.py`` and ``search/lucene/__main__.py`` are touched;
any other argparse user in the process is unaffected.  Those parsers are built inside
``if __name__ == '__main__'`` blocks, so the argparse call is the only place to intervene.

The same parse-time hook checks ``--dimension`` (Pyserini's default is 768;
MiniLM-based I^3 gives 384): when it is not given it becomes the encoder's (or the
shards') dimension; a wrong explicit value ends with one line naming the right one,
before anything is loaded or written.  ``pyserini.index.faiss``' ``--dim`` (HNSW and PQ
indexes; default 768 too) is checked the same way against its ``--input`` embeddings.
``pyserini.search.lucene --dense --encoder i3`` passes the encoder to the Lucene dense searcher
(:mod:`pyserini_i3.plugin.lucene_dense`).
"""

from __future__ import annotations

import argparse
import functools
import os
import struct
import sys
from pathlib import Path

from pyserini_i3.plugin.names import I3_KEY, DefaultInt, EncoderName


def encoder_name(value) -> EncoderName:
    """``type=`` for ``--encoder`` (also used to wrap programmatic calls)."""
    if isinstance(value, EncoderName) or value is None:
        return value
    from pyserini_i3.plugin.resolve import is_i3_encoder

    return EncoderName.of(value, is_i3_encoder(value))


_FILES = {  # path inside the pyserini package -> the command
    "encode/__main__.py": "encode",
    "search/faiss/__main__.py": "search",
    "search/hybrid/__main__.py": "hybrid",
    "search/lucene/__main__.py": "search-lucene",
    "index/merge_faiss_indexes.py": "merge",
    "index/faiss.py": "index-faiss",
}


def _pyserini_root() -> str | None:
    module = sys.modules.get("pyserini")
    paths = getattr(module, "__path__", None)
    return os.path.realpath(list(paths)[0]) if paths else None


def _caller_kind(depth: int) -> str | None:
    """Which Pyserini command made the argparse call ``depth`` frames up, if any."""
    try:
        filename = sys._getframe(depth + 1).f_code.co_filename
    except ValueError:
        return None
    root = _pyserini_root()
    path = os.path.realpath(filename)
    if root is None or not path.startswith(root + os.sep):
        return None
    return _FILES.get(Path(os.path.relpath(path, root)).as_posix())


def _patch_add_argument(kind: str, args: tuple, kwargs: dict) -> dict:
    options = set(args)
    if kind in ("encode", "search"):
        if "--encoder" in options:
            kwargs["type"] = encoder_name
        if "--encoder-class" in options and kwargs.get("choices") is not None:
            choices = list(kwargs["choices"])
            if I3_KEY not in choices:
                kwargs["choices"] = choices + [I3_KEY]
    if kind == "encode" and "--max-length" in options and isinstance(kwargs.get("default"), int):
        kwargs["default"] = DefaultInt(kwargs["default"])
    if kind in ("encode", "merge") and "--dimension" in options and isinstance(kwargs.get("default"), int):
        kwargs["default"] = DefaultInt(kwargs["default"])
    if kind == "index-faiss" and "--dim" in options and isinstance(kwargs.get("default"), int):
        kwargs["default"] = DefaultInt(kwargs["default"])
    return kwargs


def _uses_i3(namespace) -> bool:
    encoder = getattr(namespace, "encoder", None)
    encoder_class = getattr(namespace, "encoder_class", None)
    if not encoder:
        return False
    if encoder_class is not None:
        return encoder_class == I3_KEY
    return bool(getattr(encoder, "is_i3", False))


def faiss_index_dimension(index_dir: str | os.PathLike) -> int | None:
    """The vector dimension stored in a FAISS index file's header (None if unreadable)."""
    path = Path(index_dir) / "index"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if len(head) < 8 or not head[:1].isalpha():
        return None
    (dim,) = struct.unpack("<i", head[4:8])
    return dim if dim > 0 else None


def embeddings_dimension(folder: str | os.PathLike) -> int | None:
    """The vector dimension of ``pyserini.encode`` output: a FAISS index, or the first line of its jsonl files."""
    folder = Path(folder)
    if (folder / "index").is_file():
        return faiss_index_dimension(folder)
    import json

    for path in sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []:
        try:
            with open(path, encoding="utf-8") as f:
                vector = json.loads(f.readline()).get("vector")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(vector, list) and vector:
            return len(vector)
    return None


def _check_dimension(parser, namespace, actual: int, what: str, option: str = "dimension") -> None:
    given = getattr(namespace, option, None)
    if isinstance(given, DefaultInt) or given is None:
        setattr(namespace, option, int(actual))
    elif int(given) != int(actual):
        parser.error(f"--{option} {given} does not match {what} ({actual}-d vectors): use --{option} {actual}")


def _check_namespace(kind: str, parser, namespace) -> None:
    if kind == "merge":
        _check_merge(parser, namespace)
        return
    if kind == "search-lucene":
        _check_lucene_dense(parser, namespace)
        return
    if kind == "index-faiss":  # any embeddings, I^3 or not: Pyserini's --dim 768 fits only 768-d ones
        dim = embeddings_dimension(namespace.input) if getattr(namespace, "input", None) else None
        if dim is not None:
            _check_dimension(parser, namespace, dim, f"the embeddings in --input {namespace.input}", "dim")
        return
    # encode's encoder sub-command, search.faiss, hybrid's dense sub-command
    if not hasattr(namespace, "encoder_class") or not _uses_i3(namespace):
        return
    from pyserini_i3.plugin.resolve import encoder_dimension

    try:
        dim = encoder_dimension(namespace.encoder)
    except ValueError as exc:
        parser.error(f"--encoder {namespace.encoder}: {exc}")
    if kind == "encode":
        _check_dimension(parser, namespace, dim, f"the I^3 encoder {namespace.encoder}")
    index = getattr(namespace, "index", None)
    if index and os.path.isdir(index):
        stored = faiss_index_dimension(index)
        if stored is not None and stored != dim:
            parser.error(f"--index {index} holds {stored}-d vectors but the I^3 encoder {namespace.encoder} "
                         f"gives {dim}-d: search with the model that encoded the corpus")


def _check_lucene_dense(parser, namespace) -> None:
    """``--dense --hnsw|--flat --encoder i3``: Pyserini hands only ``--onnx-encoder`` to its Lucene dense
    searchers (and ignores ``--encoder`` there); an I^3 encoder goes to them in that place, where
    :mod:`pyserini_i3.plugin.lucene_dense` takes it."""
    encoder = getattr(namespace, "encoder", None)
    if not getattr(namespace, "dense", False) or not encoder:
        return
    from pyserini_i3.plugin.resolve import is_i3_encoder

    if not is_i3_encoder(encoder):
        return
    if getattr(namespace, "onnx_encoder", None):
        parser.error(f"--encoder {encoder} and --onnx-encoder {namespace.onnx_encoder}: give one")
    if not os.path.isdir(namespace.index):
        parser.error(f"--index {namespace.index}: no such directory (an I^3 Lucene index is built locally: "
                     "python -m pyserini_i3 index-dense)")
    from pyserini_i3.plugin.lucene_dense import index_vector_info
    from pyserini_i3.plugin.resolve import encoder_dimension

    try:
        stored, dim = index_vector_info(namespace.index)[0], encoder_dimension(encoder)
    except ValueError as exc:
        parser.error(f"--index {exc}")
    if stored != dim:
        parser.error(f"--index {namespace.index} holds {stored}-d vectors but the I^3 encoder {encoder} "
                     f"gives {dim}-d: search with the model that encoded the corpus")
    namespace.onnx_encoder = str(encoder)


def _check_merge(parser, namespace) -> None:
    prefix = getattr(namespace, "prefix", None)
    shards = getattr(namespace, "shard_num", None)
    if not prefix or not shards:
        return
    dims = {}
    for i in range(shards):
        shard = f"{prefix}{i}"
        if not os.path.isfile(os.path.join(shard, "index")):
            parser.error(f"--prefix {prefix} --shard-num {shards}: {shard}/index not found")
        dims[shard] = faiss_index_dimension(shard)
    found = {d for d in dims.values() if d is not None}
    if len(found) > 1:
        parser.error(f"--prefix {prefix}: the shards hold vectors of different dimensions: {dims}")
    if found:
        _check_dimension(parser, namespace, found.pop(), f"the shards {prefix}0..{shards - 1}")


def install_argparse_patch() -> None:
    container = argparse._ActionsContainer
    if getattr(container.add_argument, "_pyserini_i3", False):
        return
    add_argument = container.add_argument
    parse_known_args = argparse.ArgumentParser.parse_known_args

    @functools.wraps(add_argument)
    def patched_add_argument(self, *args, **kwargs):
        kind = _caller_kind(1)
        if kind is not None:
            kwargs = _patch_add_argument(kind, args, kwargs)
        return add_argument(self, *args, **kwargs)

    @functools.wraps(parse_known_args)
    def patched_parse_known_args(self, args=None, namespace=None):
        # parse_args() calls parse_known_args(); look past it for the command's file
        kind = _caller_kind(1) or _caller_kind(2)
        result = parse_known_args(self, args, namespace)
        if kind is not None:
            _check_namespace(kind, self, result[0])
        return result

    patched_add_argument._pyserini_i3 = True
    container.add_argument = patched_add_argument
    argparse.ArgumentParser.parse_known_args = patched_parse_known_args
