"""Callbacks the import hook (:mod:`pyserini_i3._hook`) runs as Pyserini's modules load.

Each ``patch_*`` takes the freshly executed module.  They register our encoder
classes, the scoped argparse handling (:mod:`pyserini_i3.plugin.argparse_patch`),
the JVM options the runtime can honour (:mod:`pyserini_i3.plugin.java`), and a
``python`` on PATH for ``msmarco_passage_eval``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import shutil
import sys

from pyserini_i3.plugin.compat import missing, require

logger = logging.getLogger(__name__)


def patch_pyserini(module) -> None:
    """After ``pyserini`` loads: the scope-limited argparse patch."""
    from pyserini_i3.plugin.argparse_patch import install_argparse_patch

    install_argparse_patch()


def patch_jvm_options(module) -> None:
    """After ``pyserini.setup`` (1.x) or ``pyserini._jvm`` (2.x) loads: drop JVM options the
    runtime cannot honour, right after Pyserini adds them (before ``pyserini.pyclass``, which
    imports ``configure_classpath`` by name, starts the JVM)."""
    original = require(module, "configure_classpath")
    if getattr(original, "_pyserini_i3", False):
        return

    @functools.wraps(original)
    def configure_classpath(*args, **kwargs):
        result = original(*args, **kwargs)
        from pyserini_i3.plugin.java import drop_unsupported_jvm_options

        drop_unsupported_jvm_options()
        return result

    configure_classpath._pyserini_i3 = True
    module.configure_classpath = configure_classpath


def check_jvm_options(module=None) -> None:
    """Before ``pyserini.pyclass`` starts the JVM: the module where Pyserini sets the JVM options
    must be one of the two hooked above (it imports it next)."""
    from pyserini_i3.plugin.java import enabled

    if enabled() and not any(importlib.util.find_spec(name) for name in ("pyserini._jvm", "pyserini.setup")):
        raise missing("pyserini._jvm or pyserini.setup (where the JVM options are set)")


def patch_encode(module) -> None:
    """After ``pyserini.encode`` loads: import our encoder classes, which register themselves.

    When the import started from :mod:`pyserini_i3.plugin.encoders` itself (it imports
    ``pyserini.encode``), that module is already in ``sys.modules`` and this returns it
    half-done; it registers when it finishes.
    """
    require(module, "document_encoder_class_map", "query_encoder_class_map", "DocumentEncoder", "QueryEncoder")
    importlib.import_module("pyserini_i3.plugin.encoders")


def _wrap_encoder_arg(function):
    """Programmatic ``init_encoder("Tevatron/dse-phi3-v1.0", None, ...)`` must not match
    the "i3" key either: give the first argument the same ``EncoderName`` treatment."""
    if getattr(function, "_pyserini_i3", False):
        return function

    from pyserini_i3.plugin.argparse_patch import encoder_name

    @functools.wraps(function)
    def wrapper(encoder, *args, **kwargs):
        return function(encoder_name(encoder) if isinstance(encoder, str) else encoder, *args, **kwargs)

    wrapper._pyserini_i3 = True
    return wrapper


def patch_encode_main(module) -> None:
    """``pyserini.encode.__main__`` imported as a module (not run): wrap ``init_encoder``."""
    module.init_encoder = _wrap_encoder_arg(require(module, "init_encoder"))


def patch_faiss_main(module) -> None:
    """``pyserini.search.faiss.__main__`` imported as a module (``search.hybrid`` does)."""
    module.init_query_encoder = _wrap_encoder_arg(require(module, "init_query_encoder"))


def patch_faiss(module) -> None:
    """After ``pyserini.search.faiss`` loads: ``FaissSearcher(index, "i3")`` builds an
    ``I3QueryEncoder``, and a query/index dimension mismatch is a clear error."""
    searcher = require(module, "FaissSearcher")
    require(searcher, "_init_encoder_from_str")
    if getattr(searcher.__init__, "_pyserini_i3", False):
        return
    from pyserini_i3.plugin.encoders import I3QueryEncoder

    original_from_str = searcher._init_encoder_from_str

    def _init_encoder_from_str(encoder):
        from pyserini_i3.plugin.resolve import is_i3_encoder

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


def patch_hybrid(module) -> None:
    """After ``pyserini.search.hybrid._searcher`` loads: ``--normalization`` survives a query whose
    scores on one side all tie (see :mod:`pyserini_i3.plugin.fusion`)."""
    from pyserini_i3.plugin.fusion import guard

    searcher = require(module, "HybridSearcher")
    original = require(searcher, "_hybrid_results")
    searcher._hybrid_results = staticmethod(guard(original, require(module, "DenseSearchResult")))


_OPENAI_PLACEHOLDER = "pyserini-i3-placeholder-unused"


def openai_key_before(module=None) -> None:
    """Before Pyserini 1.x's ``encode/_openai.py`` runs: it builds an unused module-level
    ``openai.OpenAI(api_key='')`` client, which openai >= 2.33 rejects ("missing credentials"),
    and so breaks ``import pyserini.encode``.  A placeholder key for the length of that import
    only; nothing changes when the user has set ``OPENAI_API_KEY`` (2.x has no such client)."""
    if not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = _OPENAI_PLACEHOLDER


def openai_key_after(module=None) -> None:
    if os.environ.get("OPENAI_API_KEY") == _OPENAI_PLACEHOLDER:
        del os.environ["OPENAI_API_KEY"]
    if getattr(module, "api_key", None) == _OPENAI_PLACEHOLDER:
        module.api_key = ""  # the module's own copy of the key, as it would have read it
