"""Patches applied to Pyserini modules as they are imported (see ``_hook``).

How ``--encoder i3`` reaches our classes without editing Pyserini 1.6.0
-----------------------------------------------------------------------
``pyserini.encode`` and ``pyserini.search.faiss`` pick an encoder class with
``--encoder-class`` (an argparse ``choices`` list) or else with the first key of
``document_encoder_class_map`` / ``query_encoder_class_map`` that is a substring
of ``encoder.lower()``; they read no entry points.  A plain ``"i3"`` key would
steal unrelated names (``Tevatron/dse-phi3-v1.0`` contains "i3"), so:

1. ``"i3"`` goes first in both class maps (and into both ``--encoder-class``
   choice lists), pointing at ``I3DocumentEncoder`` / ``I3QueryEncoder``;
2. the ``--encoder`` option of those two parsers gets a ``type`` that returns an
   ``EncoderName``: a ``str`` whose ``.lower()`` is a ``str`` whose
   ``__contains__("i3")`` is true only for the name ``i3`` or an I^3 model
   directory.  Every other key uses ordinary substring matching, so every other
   name resolves exactly as before.

The argparse changes are scoped by the *calling file*: only ``add_argument`` /
``parse_args`` calls made from Pyserini's own ``encode/__main__.py``,
``search/faiss/__main__.py`` (also used by ``search.hybrid``),
``search/hybrid/__main__.py`` and ``index/merge_faiss_indexes.py`` are touched;
any other argparse user in the process is unaffected.  Those parsers are built
inside ``if __name__ == '__main__'`` blocks, so there is no module object to
patch after import; the argparse call is the only place to intervene.

The same parse-time hook checks ``--dimension`` (Pyserini's default is 768;
MiniLM-based I^3 gives 384): when it is not given it becomes the encoder's (or
the shards') dimension; a wrong explicit value ends with one line naming the
right one, before anything is loaded or written.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import struct
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

I3_KEY = "i3"


class DefaultInt(int):
    """An int used as an argparse default, meaning "the user did not give this option".

    Every other encoder sees a plain 256 / 768; I^3 takes the value from the model.
    """

    def __repr__(self):
        return f"{int(self)} (default)"


class _LoweredName(str):
    """``encoder.lower()`` for Pyserini's class-map loop: ``"i3" in it`` only for I^3."""

    is_i3 = False

    def __contains__(self, key):
        if key == I3_KEY:
            return self.is_i3
        return str.__contains__(self, key)


class EncoderName(str):
    """The value of ``--encoder``: a str that knows whether it names an I^3 encoder."""

    is_i3 = False

    def lower(self):
        lowered = _LoweredName(str.lower(self))
        lowered.is_i3 = self.is_i3
        return lowered


def encoder_name(value) -> EncoderName:
    """``type=`` for ``--encoder`` (also used to wrap programmatic calls)."""
    if isinstance(value, EncoderName) or value is None:
        return value
    from pyserini_i3.defaults import is_i3_encoder

    name = EncoderName(value)
    name.is_i3 = is_i3_encoder(value)
    return name


# ---------------------------------------------------------------------------- argparse
_FILES = {
    ("encode", "__main__.py"): "encode",
    ("faiss", "__main__.py"): "search",
    ("hybrid", "__main__.py"): "hybrid",
    ("index", "merge_faiss_indexes.py"): "merge",
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
    path = Path(os.path.realpath(filename))
    kind = _FILES.get((path.parent.name, path.name))
    root = _pyserini_root()
    if kind is None or root is None or not str(path).startswith(root + os.sep):
        return None
    return kind


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


def _check_dimension(parser, namespace, actual: int, what: str) -> None:
    given = getattr(namespace, "dimension", None)
    if isinstance(given, DefaultInt) or given is None:
        namespace.dimension = int(actual)
    elif int(given) != int(actual):
        parser.error(f"--dimension {given} does not match {what} ({actual}-d vectors): use --dimension {actual}")


def _check_namespace(kind: str, parser, namespace) -> None:
    if kind == "merge":
        _check_merge(parser, namespace)
        return
    # encode's encoder sub-command, search.faiss, hybrid's dense sub-command
    if not hasattr(namespace, "encoder_class") or not _uses_i3(namespace):
        return
    from pyserini_i3.defaults import encoder_dimension

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


# ---------------------------------------------------------------------------- module hooks
def patch_pyserini(module) -> None:
    """After ``pyserini`` loads: scope-limited argparse patch (see module docstring)."""
    install_argparse_patch()


def patch_setup(module) -> None:
    """After ``pyserini.setup`` loads: drop JVM options the runtime cannot honour."""
    original = module.configure_classpath

    @functools.wraps(original)
    def configure_classpath(*args, **kwargs):
        result = original(*args, **kwargs)
        from pyserini_i3.java import drop_unsupported_jvm_options

        drop_unsupported_jvm_options()
        return result

    module.configure_classpath = configure_classpath


def _put_first(mapping: dict, key: str, value) -> None:
    rest = [(k, v) for k, v in mapping.items() if k != key]
    mapping.clear()
    mapping[key] = value
    mapping.update(rest)


def patch_encode(module) -> None:
    """After ``pyserini.encode`` loads: register our encoder classes."""
    pending = sys.modules.get("pyserini_i3.pyserini_encoders")
    if pending is not None and not hasattr(pending, "I3QueryEncoder"):
        return  # pyserini_encoders is importing pyserini.encode; it registers itself when done
    register_encoders(module)


def register_encoders(module) -> None:
    """``"i3"`` first in both class maps of ``pyserini.encode`` (mutated in place, since the
    command modules import the dict objects themselves).  Idempotent."""
    from pyserini_i3.pyserini_encoders import I3DocumentEncoder, I3QueryEncoder

    _put_first(module.document_encoder_class_map, I3_KEY, I3DocumentEncoder)
    _put_first(module.query_encoder_class_map, I3_KEY, I3QueryEncoder)
    module.I3DocumentEncoder = I3DocumentEncoder
    module.I3QueryEncoder = I3QueryEncoder


def _wrap_encoder_arg(function):
    """Programmatic ``init_encoder("Tevatron/dse-phi3-v1.0", None, ...)`` must not match
    the "i3" key either: give the first argument the same ``EncoderName`` treatment."""
    if getattr(function, "_pyserini_i3", False):
        return function

    @functools.wraps(function)
    def wrapper(encoder, *args, **kwargs):
        return function(encoder_name(encoder) if isinstance(encoder, str) else encoder, *args, **kwargs)

    wrapper._pyserini_i3 = True
    return wrapper


def patch_encode_main(module) -> None:
    """``pyserini.encode.__main__`` imported as a module (not run): wrap ``init_encoder``."""
    module.init_encoder = _wrap_encoder_arg(module.init_encoder)


def patch_faiss_main(module) -> None:
    """``pyserini.search.faiss.__main__`` imported as a module (``search.hybrid`` does)."""
    module.init_query_encoder = _wrap_encoder_arg(module.init_query_encoder)


def patch_faiss(module) -> None:
    """After ``pyserini.search.faiss`` loads: ``FaissSearcher(index, "i3")`` builds an
    ``I3QueryEncoder``, and a query/index dimension mismatch is a clear error."""
    searcher = module.FaissSearcher
    if getattr(searcher.__init__, "_pyserini_i3", False):
        return
    from pyserini_i3.pyserini_encoders import I3QueryEncoder

    original_from_str = searcher._init_encoder_from_str

    def _init_encoder_from_str(encoder):
        from pyserini_i3.defaults import is_i3_encoder

        if is_i3_encoder(encoder):
            return I3QueryEncoder(encoder_dir=encoder)
        return original_from_str(encoder)

    searcher._init_encoder_from_str = staticmethod(_init_encoder_from_str)

    original_init = searcher.__init__

    @functools.wraps(original_init)
    def __init__(self, index_dir, query_encoder, *args, **kwargs):
        original_init(self, index_dir, query_encoder, *args, **kwargs)
        encoder = self.query_encoder
        if isinstance(encoder, I3QueryEncoder) and encoder.has_model and encoder.dim != self.dimension:
            raise ValueError(f"{index_dir}: the index holds {self.dimension}-d vectors but the I^3 query "
                             f"encoder gives {encoder.dim}-d: search with the model that encoded the corpus")

    __init__._pyserini_i3 = True
    searcher.__init__ = __init__


def patch_eval(module) -> None:
    """After ``pyserini.eval`` loads: ``msmarco_passage_eval`` runs ``python`` from PATH;
    in a minimal environment (``PATH=/usr/bin:/bin``) there may be none, so make the
    running interpreter's directory the fallback (appended: an existing one wins)."""
    if shutil.which("python") is None:
        bin_dir = os.path.dirname(sys.executable)
        if os.path.isfile(os.path.join(bin_dir, "python")):
            os.environ["PATH"] = os.pathsep.join(p for p in (os.environ.get("PATH", ""), bin_dir) if p)
