"""Where the Pyserini versions the plugin supports differ: one place, by feature detection.

Supported: Pyserini 1.6 (Python 3.11, Anserini 1.x) through 2.4 (Python 3.12+,
Anserini 2.x).  Every hook point is found by what the installed Pyserini has; a
missing one is a one-line :class:`HookPointMissing` naming the installed version,
instead of a traceback from deep inside Pyserini.

What differs between the two ends, hook point by hook point: docs/pyserini.md
("Pyserini versions").
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
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


def _one_line_excepthook() -> None:
    """Uncaught, a :class:`HookPointMissing` (or an error made by :func:`one_line`) prints its one
    line, not the traceback from inside Pyserini (code that catches it sees the exception as usual)."""
    previous = sys.excepthook
    if getattr(previous, "_pyserini_i3", False):
        return

    def excepthook(kind, value, traceback):
        if isinstance(value, HookPointMissing) or getattr(value, "_pyserini_i3_one_line", False):
            print(value, file=sys.stderr)
        else:
            previous(kind, value, traceback)

    excepthook._pyserini_i3 = True
    sys.excepthook = excepthook


def one_line(exc: BaseException) -> BaseException:
    """``exc``, printed as its one line if nothing catches it (a user error met inside one of
    Pyserini's commands, where the plugin cannot end the command itself)."""
    _one_line_excepthook()
    exc._pyserini_i3_one_line = True
    return exc


def missing(what: str) -> HookPointMissing:
    _one_line_excepthook()
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
