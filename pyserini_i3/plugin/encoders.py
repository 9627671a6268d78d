"""Pyserini encoder classes for I^3: one document encoder, one query encoder.

They follow the contracts of ``pyserini.encode`` so that Pyserini's own commands
(``pyserini.encode``, ``pyserini.search.faiss``, ``pyserini.search.hybrid``) and
programmatic use (``FaissSearcher(index, I3QueryEncoder("i3"))``) work unchanged.

``model_name`` / ``encoder_dir`` is ``i3`` (the shipped default, see
:mod:`pyserini_i3.plugin.resolve`) or an I^3 model directory.  What the Pyserini command
line does not forward (query length, pooling, normalisation, variant) comes from
the model directory's ``config.json``.  Pyserini adds keyword arguments for some
names (``pooling``/``l2_norm`` when "sentence" is in the path, ``prefix`` ...): they
are accepted and ignored, since the model directory defines them.

Two environment variables, read when an encoder is made (Pyserini's command line has
no flag for them): ``$PYSERINI_I3_FAST_PATH`` (``off``, ``exact``, ``int8``) chooses the
inference route over the model directory's ``fast_path`` (see ``I3Model.fast_path``);
``$PYSERINI_I3_KEEP_FREED_MEMORY=1`` opts the process into
:func:`pyserini_i3.utils.memory.keep_freed_memory`.

Importing this module registers both classes under the key ``"i3"`` in
``pyserini.encode``'s class maps (:func:`register`); the import hook imports it as
soon as ``pyserini.encode`` has loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os

import numpy as np
from pyserini.encode import DocumentEncoder, QueryEncoder

from pyserini_i3.plugin.compat import encoded_queries_parameter, has_encoded_queries
from pyserini_i3.plugin.names import I3_KEY, DefaultInt

logger = logging.getLogger(__name__)
_ENCODED_QUERIES = encoded_queries_parameter(QueryEncoder)

FAST_PATH_ENV = "PYSERINI_I3_FAST_PATH"  # off | exact | int8: the route, over config.json's fast_path
KEEP_FREED_MEMORY_ENV = "PYSERINI_I3_KEEP_FREED_MEMORY"  # 1: tune glibc's allocator for this process


def fast_path_from_environment() -> str | None:
    """``$PYSERINI_I3_FAST_PATH`` (case and spaces ignored), None when unset or empty; a bad value is a one-line
    error naming the variable."""
    value = os.environ.get(FAST_PATH_ENV, "").strip().lower()
    if not value:
        return None
    from pyserini_i3.modeling.config import check_fast_path

    return check_fast_path(value, f"${FAST_PATH_ENV}")


def _load(name: str, device):
    from pyserini_i3.plugin.resolve import load_model

    fast_path = fast_path_from_environment()  # before the model loads: a bad value fails at once
    if os.environ.get(KEEP_FREED_MEMORY_ENV, "").strip() not in ("", "0"):
        from pyserini_i3.utils.memory import keep_freed_memory

        keep_freed_memory()
    return load_model(name, device=device), fast_path


def _device(device) -> str:
    device = str(device) if device is not None else "cpu"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            logger.warning("device %s requested but CUDA is unavailable; using cpu", device)
            return "cpu"
    return device


class I3DocumentEncoder(DocumentEncoder):
    """``encode(texts, titles=None, fp16=False, max_length=..., add_sep=False)`` -> float32 [n, d].

    * ``add_sep`` and titles: ``title [SEP] text``, the format I^3 is trained on;
      without ``add_sep``: ``title text`` (Pyserini's convention for other encoders).
    * ``max_length``: honoured when given; Pyserini's unset default (256) becomes the
      model's ``passage_max_length``.
    * ``fp16``: 16-bit autocast on CUDA (where ``I3Model`` already autocasts, bf16 if
      supported, with or without it); ignored on CPU (as Pyserini's own encoders do),
      with a one-time notice.
    """

    def __init__(self, model_name: str = "i3", tokenizer_name=None, device: str = "cpu", **kwargs):
        self.model, self.fast_path = _load(model_name, _device(device))
        self.device = self.model.device
        self.dim = self.model.dim
        self.has_model = True
        self._fp16_notice = False

    def encode(self, texts, titles=None, fp16: bool = False, max_length=None, add_sep: bool = False, **kwargs):
        texts = ["" if t is None else t for t in texts]
        if titles is not None and not add_sep:
            texts = [f"{title} {text}" if title else text for title, text in zip(titles, texts)]
            titles = None
        if isinstance(max_length, DefaultInt):
            max_length = None
        with self._precision(fp16):
            return self.model.encode_passages(texts, titles=titles, batch_size=max(1, len(texts)),
                                              max_length=max_length, fast_path=self.fast_path)

    def _precision(self, fp16: bool):
        import torch

        if not fp16:
            return contextlib.nullcontext()
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        if not self._fp16_notice:
            logger.warning("--fp16 has no effect on %s; encoding in float32", self.device)
            self._fp16_notice = True
        return contextlib.nullcontext()


class I3QueryEncoder(QueryEncoder):
    """``encode(query)`` -> float32 [d]; ``encode_batch(queries)`` -> float32 [n, d].

    Queries are encoded one at a time in both, so that ``--batch-size``/``--threads``
    runs are bit-identical to single-query runs (padding a batch changes the float
    summation order in the last bit, which can swap near-tied hits); query encoding
    is a negligible share of search time.  ``max_length`` defaults to the model's
    ``query_max_length``.
    """

    def __init__(self, encoder_dir: str = "i3", tokenizer_name=None, encoded_query_dir: str | None = None,
                 device: str = "cpu", max_length: int | None = None, encoded_queries_dir: str | None = None,
                 **kwargs):
        # Pyserini 1.x calls the parameter encoded_query_dir, 2.x encoded_queries_dir: both are taken
        super().__init__(**{_ENCODED_QUERIES: encoded_query_dir or encoded_queries_dir})
        self.model, self.fast_path = None, None
        if encoder_dir:
            self.model, self.fast_path = _load(encoder_dir, _device(device))
            self.device = self.model.device
            self.dim = self.model.dim
            self.has_model = True
        self.max_length = max_length
        if not self.has_model and not has_encoded_queries(self):
            raise ValueError("I3QueryEncoder needs an encoder (i3 or an I^3 model directory) or encoded queries")

    def encode(self, query: str, max_length: int | None = None, **kwargs) -> np.ndarray:
        if not self.has_model:
            return np.asarray(super().encode(query), dtype=np.float32)
        return self._encode([query], max_length)[0]

    def encode_batch(self, queries, max_length: int | None = None, **kwargs) -> np.ndarray:
        if not self.has_model:
            return np.vstack([self.encode(q) for q in queries])
        return self._encode(list(queries), max_length)

    def _encode(self, queries: list[str], max_length: int | None) -> np.ndarray:
        length = max_length or self.max_length
        out = np.empty((len(queries), self.dim), dtype=np.float32)
        with _one_cpu_thread(self.device):
            for i, query in enumerate(queries):
                out[i] = self.model.encode_queries([query], batch_size=1, max_length=length,
                                                   fast_path=self.fast_path)[0]
        return out


@contextlib.contextmanager
def _one_cpu_thread(device):
    """One query is a [1, ~16-token] forward pass: intra-op threads cost more than they
    gain, and collapse when other processes share the cores (measured on 2 busy cores:
    200 ms/query with 2 threads, 20 ms with 1).  The caller's setting is restored."""
    import torch

    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _put_first(mapping: dict, key: str, value) -> None:
    rest = [(k, v) for k, v in mapping.items() if k != key]
    mapping.clear()
    mapping[key] = value
    mapping.update(rest)


def register(module) -> None:
    """``"i3"`` first in both class maps of ``pyserini.encode`` (mutated in place, since the
    command modules import the dict objects themselves).  Idempotent."""
    _put_first(module.document_encoder_class_map, I3_KEY, I3DocumentEncoder)
    _put_first(module.query_encoder_class_map, I3_KEY, I3QueryEncoder)
    module.I3DocumentEncoder = I3DocumentEncoder
    module.I3QueryEncoder = I3QueryEncoder


# (not ``import pyserini.encode``: while the import hook runs, the package attribute is not bound yet)
register(importlib.import_module("pyserini.encode"))
