"""Pyserini 2.x without a network: the GitHub files it fetches, cached or stood in for.

Pyserini 2.x fetches two kinds of JSON from ``raw.githubusercontent.com``, at pinned
commits:

* the prebuilt-index catalogues (``castorini/prebuilt-indexes``), some of them while
  ``pyserini.prebuilt_index_info`` is being imported, that is by ``import pyserini.util``
  and so by nearly every command; offline that import fails;
* the topic and qrels name mappings (``castorini/eval``: ``topics.json``,
  ``topics-aliases.json``, ``qrels.json``, ``qrels-aliases.json``), by every process
  that resolves a named topic set or qrels, before it looks at its file cache.

Both modules bind ``urlopen`` by name when they run, so the import hook swaps in
:func:`urlopen` while each of them executes (:func:`install` before, :func:`restore`
after); those modules keep it.  It serves a URL at a pinned commit from our cache
(``$PYSERINI_I3_CACHE`` or ``~/.cache/pyserini_i3``, ``github/``: the content of a
pinned commit never changes) without a network call; otherwise it fetches it once
(timeout :data:`TIMEOUT` s, stored in the cache on success) and, when the network
fails, answers a stand-in:

* catalogues: the entries ``prebuilt_index_info`` looks up at import, with no
  download URLs (prebuilt indexes need the network anyway), else empty;
* mappings: the topic and qrels files present in Pyserini's cache
  (``get_cache_home()/topics/``, ``/qrels/``, where ``python -m pyserini_i3 topics
  install`` puts the official files), under their official names and aliases.

After the first network failure a process tries no other fetch; ``PYSERINI_I3_OFFLINE=1``
skips the network altogether.  Other URLs pass through untouched.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

GITHUB = "https://raw.githubusercontent.com/"
PINNED = re.compile(r"^https://raw\.githubusercontent\.com/castorini/(prebuilt-indexes|eval)/([0-9a-f]{40})/(.+)$")
TIMEOUT = 10
OFFLINE_ENV = "PYSERINI_I3_OFFLINE"

# Pyserini 2.4 prebuilt_index_info.py: names looked up while the module is imported
EAGER_CATALOGUE_NAMES = {
    "lucene/msmarco-v1-passage-impact.json": ["msmarco-v1-passage.unicoil"],
    "lucene/msmarco-v2-passage-impact.json": ["msmarco-v2-passage.unicoil-0shot"],
}

# Official names of the files `topics install` seeds (Anserini's file names), their topic
# readers, and the aliases Pyserini accepts for them
TOPIC_READERS = {
    "topics.dl19-passage.txt": ("dl19-passage", "TsvIntTopicReader"),
    "topics.dl20.txt": ("dl20", "TsvIntTopicReader"),
    "topics.msmarco-passage.dev-subset.txt": ("msmarco-passage-dev-subset", "TsvIntTopicReader"),
    "topics.beir-v1.0.0-scifact.test.tsv.gz": ("beir-v1.0.0-scifact-test", "TsvStringTopicReader"),
    "topics.cacm.txt": ("cacm", "TrecTopicReader"),
}
TOPIC_ALIASES = {"msmarco-passage-dev-subset": ["msmarco-passage.dev-subset"],
                 "beir-v1.0.0-scifact-test": ["beir-v1.0.0-scifact.test", "beir-v1.0.0-scifact"],
                 "dl20": ["dl20-passage"]}
QRELS_NAMES = {
    "qrels.dl19-passage.txt": "dl19-passage",
    "qrels.dl20-passage.txt": "dl20-passage",
    "qrels.msmarco-passage.dev-subset.txt": "msmarco-passage-dev-subset",
    "qrels.beir-v1.0.0-scifact.test.txt": "beir-v1.0.0-scifact-test",
    "qrels.cacm.txt": "cacm",
}
QRELS_ALIASES = {"msmarco-passage-dev-subset": ["msmarco-passage.dev-subset"],
                 "beir-v1.0.0-scifact-test": ["beir-v1.0.0-scifact.test", "beir-v1.0.0-scifact"]}
READER_PACKAGE = "io.anserini.search.topicreader."

_real_urlopen = urllib.request.urlopen
_network_failed = False
_replaced = urllib.request.urlopen  # what install() swapped out


def cache_dir() -> Path:
    return Path(os.environ.get("PYSERINI_I3_CACHE") or Path.home() / ".cache" / "pyserini_i3") / "github"


def _offline() -> bool:
    return _network_failed or os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _url(url) -> str:
    return url if isinstance(url, str) else getattr(url, "full_url", str(url))


def urlopen(url, data=None, timeout=None, *args, **kwargs):
    """``urllib.request.urlopen`` for the two Pyserini modules: pinned GitHub files cached, stood in offline."""
    global _network_failed
    match = PINNED.match(_url(url))
    if match is None or data is not None:
        return _real_urlopen(url, data, *(() if timeout is None else (timeout,)), *args, **kwargs)
    repo, commit, path = match.groups()
    cached = cache_dir() / repo / commit / path
    if cached.is_file():
        return io.BytesIO(cached.read_bytes())
    if not _offline():
        try:
            with _real_urlopen(url, timeout=min(timeout or TIMEOUT, TIMEOUT)) as response:
                body = response.read()
            json.loads(body)  # only valid JSON is kept
            from pyserini_i3.utils.files import write_atomic

            write_atomic(cached, body)
            return io.BytesIO(body)
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            _network_failed = True
            logger.info("pyserini-i3: %s%s unreachable (%s): offline from here on, using local stand-ins "
                           "(set %s=1 to skip the network)", GITHUB, f"castorini/{repo}", exc, OFFLINE_ENV)
    return io.BytesIO(json.dumps(stand_in(repo, path)).encode())


def stand_in(repo: str, path: str):
    """What the file at ``path`` of ``castorini/<repo>`` is replaced with offline."""
    if repo == "prebuilt-indexes":
        if path.startswith("faiss/"):
            return {}
        return [{"name": name, "description": "(offline: the catalogue could not be fetched)", "filename": "",
                 "urls": [], "md5": "", "size": 0} for name in EAGER_CATALOGUE_NAMES.get(path, [])]
    name = path.rsplit("/", 1)[-1]
    topics, qrels = _installed("topics"), _installed("qrels")
    if name == "topics.json":
        return {TOPIC_READERS.get(f, (_stem(f), ""))[0]: {"path": f, "reader_class": READER_PACKAGE + _reader(f)}
                for f in topics}
    if name == "qrels.json":
        return {QRELS_NAMES.get(f, _stem(f)): f for f in qrels}
    if name == "topics-aliases.json":
        return TOPIC_ALIASES
    if name == "qrels-aliases.json":
        return QRELS_ALIASES
    return {}


def _stem(file: str) -> str:
    """``topics.NAME.tsv`` -> ``NAME``."""
    name = file.split(".", 1)[1]
    for suffix in (".gz", ".txt", ".tsv", ".jsonl", ".xml"):
        name = name.removesuffix(suffix)
    return name


def _reader(file: str) -> str:
    if file in TOPIC_READERS:
        return TOPIC_READERS[file][1]
    return "TsvStringTopicReader"


def _installed(kind: str) -> list[str]:
    """File names in Pyserini 2.x's cache of topics or qrels (``get_cache_home()/<kind>/``)."""
    import pyserini.util

    folder = Path(pyserini.util.get_cache_home()) / kind
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.startswith(f"{kind}."))


def install(module=None) -> None:
    """Before ``pyserini.prebuilt_index_info`` / ``pyserini.search._base`` run: they bind our urlopen."""
    global _replaced
    if urllib.request.urlopen is not urlopen:
        _replaced = urllib.request.urlopen
    urllib.request.urlopen = urlopen


def restore(module=None) -> None:
    """After that module ran: ``urllib.request.urlopen`` is again what :func:`install` replaced."""
    urllib.request.urlopen = _replaced
