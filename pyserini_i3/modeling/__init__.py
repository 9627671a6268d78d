"""The I^3 model: configuration, architecture, inference, persistence.

=============  ======================================================================
``config``     ``I3Config`` (``config.json``), the ``full`` / ``official`` / ``de`` /
               ``de-layer`` presets
``model``      ``I3Model``: encoders, passage/query vectors, ``encode_*``, the loss
``heads``      the reconstructor, interactor and vocabulary head
``quantize``   the int8 encoder copies of the ``int8`` inference route
``storage``    what a model directory is; saving and loading it
``delta``      the compact format: LoRA adapters + heads over a checksummed base
``backbone``   where a backbone's files come from (path, HF cache/hub, bundled MiniLM)
``convert``    import of the authors' released checkpoints
``released``   the released checkpoints by name (i3-msmarco, ...): download, convert
=============  ======================================================================

Nothing here imports Pyserini.  The package itself is light: ``storage`` answers "is
this an I^3 model directory" without torch; ``I3Config`` / ``I3Model`` load on first use.
"""

_LAZY = {"I3Config": "pyserini_i3.modeling.config", "I3Model": "pyserini_i3.modeling.model"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pyserini_i3.modeling' has no attribute {name!r}")
