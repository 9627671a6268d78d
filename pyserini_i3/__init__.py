"""pyserini-i3: the I^3 retriever as a Pyserini dense-encoder plugin.

Layers (dependencies run one way, checked by ``make lint``)::

    cli  ->  eval | plugin | training  ->  modeling  ->  utils

Heavy imports (torch, transformers, Pyserini) happen on first use of the names
below, so that the start-up hook (``pyserini_i3.pth``) stays free.
"""

__version__ = "0.1.0"

_LAZY = {
    "I3Config": "pyserini_i3.modeling.config",
    "I3Model": "pyserini_i3.modeling.model",
    "I3DocumentEncoder": "pyserini_i3.plugin.encoders",
    "I3QueryEncoder": "pyserini_i3.plugin.encoders",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pyserini_i3' has no attribute {name!r}")
