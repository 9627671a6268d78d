"""Import hook that plugs pyserini-i3 into an unmodified Pyserini.

A ``pyserini_i3.pth`` file in site-packages imports this module at interpreter
start-up.  It costs almost nothing: it only registers a meta-path finder.  When
(and only when) one of the Pyserini modules below is imported, the finder runs
our callbacks before or after that module's own code.  Nothing here imports
torch, transformers or Pyserini itself.

Callbacks are named as ``"module:function"`` and imported lazily.
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
    "pyserini.setup": (None, "pyserini_i3.plugin.patches:patch_setup"),
    # "i3" in the encoder class maps; FaissSearcher knows I3QueryEncoder
    "pyserini.encode": (None, "pyserini_i3.plugin.patches:patch_encode"),
    "pyserini.encode.__main__": (None, "pyserini_i3.plugin.patches:patch_encode_main"),
    "pyserini.search.faiss": (None, "pyserini_i3.plugin.patches:patch_faiss"),
    "pyserini.search.faiss.__main__": (None, "pyserini_i3.plugin.patches:patch_faiss_main"),
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
