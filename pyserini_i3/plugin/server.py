"""Pyserini's REST and MCP servers (``pyserini.server``) with I^3 indexes.

Pyserini 2.4's shared backend (``SharedSearchBackend``, behind both servers) serves the indexes a
YAML config names; an I^3 index is one with ``encoder: i3`` (or a released name, or a model
directory) and ``index_type: faiss``, ``lucene_flat`` or ``lucene_hnsw``.  Three changes, made when
``pyserini.server.backend`` loads, and only for a backend whose config names an I^3 index:

* **Only what the config names is served.**  The backend runs as ``--no-prebuilt-indexes`` does:
  a request naming a prebuilt index or a directory gets "not configured" instead of a download or
  an opened path (without it, Pyserini 2.4 also fails on a local dense alias, looking it up among
  the prebuilt indexes: ``KeyError``).
* **A request cannot choose the model.**  The MCP ``search`` tool takes ``encoder`` and ``ef_search``
  from its caller, and the backend rebuilds the searcher with them (loading any model name or
  path).  For an I^3 alias, an ``encoder`` other than the configured one is refused (HTTP 400 /
  a tool error) and ``ef_search`` is the config's (MCP sends 100 on every call).
* **One request at a time reaches the JVM.**  ``search`` and ``get_document`` of one backend run
  under one lock: pyjnius calls from the server's worker threads race (``IncompatibleClassChangeError``,
  ``NullPointerException`` in Lucene calls; docs/servers.md has the reproduction).
  ``PYSERINI_I3_SERVER_LOCK=0`` turns the lock off (to measure what it prevents: runs/server-load/).
"""

from __future__ import annotations

import functools
import logging
import os
import threading

logger = logging.getLogger(__name__)
LOCK_ENV = "PYSERINI_I3_SERVER_LOCK"


def i3_aliases(local_indexes: dict) -> dict[str, str]:
    """alias -> configured encoder, for the config's I^3 indexes."""
    from pyserini_i3.plugin.resolve import is_i3_encoder

    return {name: str(cfg.encoder).strip() for name, cfg in local_indexes.items()
            if getattr(cfg, "encoder", None) and is_i3_encoder(str(cfg.encoder).strip())}


def patch_backend(module) -> None:
    from pyserini_i3.plugin.compat import require

    backend = require(module, "SharedSearchBackend")
    bad_request = require(module, "BadSearchRequestError")
    if getattr(backend.__init__, "_pyserini_i3", False):
        return
    for name in ("search", "get_document", "_ensure_index"):
        require(backend, name)

    original_init = backend.__init__

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._i3_aliases = i3_aliases(getattr(self, "_local_indexes", {}) or {})
        self._i3_lock = threading.RLock() if os.environ.get(LOCK_ENV, "1") != "0" else None
        if self._i3_aliases and not getattr(self, "_no_prebuilt_indexes", True):
            logger.warning("pyserini-i3: the config serves I^3 indexes (%s): serving the configured indexes only, "
                           "as --no-prebuilt-indexes does", ", ".join(sorted(self._i3_aliases)))
            self._no_prebuilt_indexes = True

    original_ensure = backend._ensure_index

    @functools.wraps(original_ensure)
    def _ensure_index(self, index_name, *args, ef_search=None, encoder=None, **kwargs):
        configured = getattr(self, "_i3_aliases", {}).get(index_name)
        if configured is not None:
            if encoder and str(encoder).strip() != configured:
                raise bad_request(f"index {index_name} is served with encoder {configured}; "
                                  "a request cannot choose another")
            ef_search, encoder = None, None  # the config's
        return original_ensure(self, index_name, *args, ef_search=ef_search, encoder=encoder, **kwargs)

    def serialised(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            lock = getattr(self, "_i3_lock", None)
            if lock is None or not getattr(self, "_i3_aliases", None):
                return method(self, *args, **kwargs)
            with lock:
                return method(self, *args, **kwargs)

        return wrapper

    __init__._pyserini_i3 = True
    backend.__init__ = __init__
    backend._ensure_index = _ensure_index
    backend.search = serialised(backend.search)
    backend.get_document = serialised(backend.get_document)
