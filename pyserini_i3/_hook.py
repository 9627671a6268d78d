"""Import hook that plugs pyserini-i3 into an unmodified Pyserini.

A ``pyserini_i3.pth`` file in site-packages imports this module at interpreter
start-up.  It costs almost nothing: it only registers a meta-path finder.  When
(and only when) one of the Pyserini modules below is imported, the finder runs
our callbacks before or after that module's own code.  Nothing here imports
torch, transformers or Pyserini itself.

Callbacks are named as ``"module:function"`` and imported lazily.  A module named here that
the installed Pyserini lacks is simply never imported: hooks for Pyserini 1.x and 2.x stand
side by side (what differs is listed in :mod:`pyserini_i3.plugin.compat`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading

# module name -> (callback before its code runs, callback after; given the module)
HOOKS: dict[str, tuple[str | None, str | None]] = {
    # Java 21+ for Anserini before anything imports jnius; argparse patch (scoped by file)
    "pyserini": ("pyserini_i3.plugin.java:configure_environment", "pyserini_i3.plugin.patches:patch_pyserini"),
    # JVM options the runtime cannot honour are dropped (Pyserini 1.x: setup.py, 2.x: _jvm.py)
    "pyserini.setup": (None, "pyserini_i3.plugin.patches:patch_jvm_options"),
    "pyserini._jvm": (None, "pyserini_i3.plugin.patches:patch_jvm_options"),
    "pyserini.pyclass": ("pyserini_i3.plugin.patches:check_jvm_options", None),
    # Pyserini 2.x fetches pinned GitHub files: prebuilt-index catalogues at import, topic/qrels mappings
    "pyserini.prebuilt_index_info": ("pyserini_i3.plugin.offline:install", "pyserini_i3.plugin.offline:restore"),
    "pyserini.search._base": ("pyserini_i3.plugin.offline:install", "pyserini_i3.plugin.offline:restore"),
    # "i3" in the encoder class maps; FaissSearcher knows I3QueryEncoder
    "pyserini.encode": (None, "pyserini_i3.plugin.patches:patch_encode"),
    # Pyserini 1.x builds an OpenAI client with an empty key at import, which openai >= 2.33 rejects
    "pyserini.encode._openai": ("pyserini_i3.plugin.patches:openai_key_before",
                                "pyserini_i3.plugin.patches:openai_key_after"),
    "pyserini.encode.__main__": (None, "pyserini_i3.plugin.patches:patch_encode_main"),
    "pyserini.search.faiss": (None, "pyserini_i3.plugin.patches:patch_faiss"),
    "pyserini.search.faiss.__main__": (None, "pyserini_i3.plugin.patches:patch_faiss_main"),
    # LuceneHnswDenseSearcher / LuceneFlatDenseSearcher(encoder="i3") search with the I^3 query encoder
    "pyserini.search.lucene._hnsw_searcher": (None, "pyserini_i3.plugin.lucene_dense:patch_searcher_module"),
    # --normalization: no ZeroDivisionError when a query's scores on one side all tie
    "pyserini.search.hybrid._searcher": (None, "pyserini_i3.plugin.patches:patch_hybrid"),
    # REST / MCP servers with an I^3 index: configured indexes only, the config's encoder, one request in the JVM
    "pyserini.server.backend": (None, "pyserini_i3.plugin.server:patch_backend"),
    # msmarco_passage_eval runs `python` from PATH
    "pyserini.eval": (None, "pyserini_i3.plugin.patches:patch_eval"),
}


def _call(spec: str, *args):
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)(*args)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        before, after = HOOKS[self._name]
        if before:
            _call(before)
        self._loader.exec_module(module)
        if after:
            _call(after, module)

    def __getattr__(self, item):  # get_code, get_source, is_package, ... for runpy and tools
        return getattr(self._loader, item)


class _Finder(importlib.abc.MetaPathFinder):
    _local = threading.local()

    def find_spec(self, fullname, path, target=None):
        if fullname not in HOOKS or getattr(self._local, "busy", False):
            return None
        self._local.busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._local.busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, fullname)
        return spec


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


install()
