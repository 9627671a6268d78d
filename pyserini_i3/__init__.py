"""pyserini-i3: the I^3 retriever as a Pyserini dense-encoder plugin.

Heavy imports (torch, transformers) happen on first use of the names below, so
that the start-up hook (``pyserini_i3.pth``) stays free.
"""

__version__ = "0.1.0"

_LAZY = {
    "I3Config": "pyserini_i3.config",
    "I3Model": "pyserini_i3.model",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pyserini_i3' has no attribute {name!r}")
