"""Where the Pyserini versions the plugin supports differ: one place, by feature detection.

Supported: Pyserini 1.6 (Python 3.11, Anserini 1.x) through 2.4 (Python 3.12+,
Anserini 2.x).  Every hook point is found by what the installed Pyserini has; a
missing one is a one-line :class:`HookPointMissing` naming the installed version,
instead of a traceback from deep inside Pyserini.

==========================  ==========================  ==================================
hook point                  Pyserini 1.6                Pyserini 2.x
==========================  ==========================  ==================================
JVM options                 ``pyserini.setup``          ``pyserini._jvm``
                            ``configure_classpath``     ``configure_classpath``
``QueryEncoder.__init__``   ``encoded_query_dir``       ``encoded_queries_dir``
encoded-queries flag        ``has_encoded_query``       ``has_encoded_queries``
named topics and qrels      Anserini: ``<Java           Python: castorini/eval mappings
                            user.home>/.cache/          fetched from GitHub, files under
                            pyserini/topics-and-qrels/``  ``get_cache_home()/topics|qrels/``
import-time network         (none)                      prebuilt-index catalogues fetched
                                                        while ``pyserini.util`` imports
OpenAI client at import     built with an empty key     (none)
                            (``encode/_openai.py``)
==========================  ==========================  ==================================
"""

from __future__ import annotations

import importlib.util
import inspect
from functools import lru_cache
from pathlib import Path

SUPPORTED = "1.6 to 2.4"


class HookPointMissing(RuntimeError):
    """A Pyserini module lacks what the plugin hooks into (an unsupported Pyserini version)."""


@lru_cache(maxsize=1)
def pyserini_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyserini")
    except PackageNotFoundError:
        return "(not installed)"


def missing(what: str) -> HookPointMissing:
    return HookPointMissing(f"pyserini-i3: Pyserini {pyserini_version()} has no {what}; this version of "
                            f"pyserini-i3 supports Pyserini {SUPPORTED}")


def require(module, *names: str):
    """``module.name`` for each name (a tuple if several), or :class:`HookPointMissing` naming it."""
    found = []
    for name in names:
        if not hasattr(module, name):
            raise missing(f"{module.__name__}.{name}")
        found.append(getattr(module, name))
    return found[0] if len(found) == 1 else tuple(found)


# --------------------------------------------------------------------------- QueryEncoder
def encoded_queries_parameter(query_encoder_class) -> str:
    """The name of ``QueryEncoder.__init__``'s directory-of-encoded-queries parameter."""
    parameters = inspect.signature(query_encoder_class.__init__).parameters
    for name in ("encoded_queries_dir", "encoded_query_dir"):
        if name in parameters:
            return name
    raise missing(f"encoded-queries parameter in {query_encoder_class.__qualname__}.__init__ "
                  f"(it takes {', '.join(parameters)})")


def has_encoded_queries(encoder) -> bool:
    return bool(getattr(encoder, "has_encoded_queries", False) or getattr(encoder, "has_encoded_query", False))


# --------------------------------------------------------------------------- named topics and qrels
def _pyserini_dir() -> Path | None:
    spec = importlib.util.find_spec("pyserini")  # finds the package without running it
    return Path(spec.origin).parent if spec and spec.origin else None


@lru_cache(maxsize=1)
def topics_resolved_in_python() -> bool:
    """True when Pyserini resolves named topics/qrels itself (2.x: it ships the local alias
    files of its castorini/eval mappings), False when Anserini does (1.x)."""
    root = _pyserini_dir()
    return bool(root) and (root / "resources" / "local-topics-aliases.json").is_file()
