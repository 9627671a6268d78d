"""Offline topics and qrels for Pyserini/Anserini.

Named topics and qrels (``--topics dl19-passage``, ``trec_eval ... dl19-passage run``)
resolve to files that are downloaded from GitHub when missing:

* Pyserini 1.x asks Anserini, which keeps them in
  ``<Java user.home>/.cache/pyserini/topics-and-qrels/`` (``user.home`` is Java's: the
  passwd entry, or ``-Duser.home`` in ``JAVA_TOOL_OPTIONS``; not ``$HOME``);
* Pyserini 2.x resolves them in Python, keeping the files in ``get_cache_home()/topics/``
  and ``/qrels/`` (``$PYSERINI_CACHE``, else ``<cwd>/.cache/pyserini`` if ``<cwd>/.cache``
  exists, else ``~/.cache/pyserini``), after fetching the name mappings, which offline
  come from the files installed here (:mod:`pyserini_i3.plugin.offline`).

``install`` copies official files (named as Anserini names them: ``topics.*``,
``qrels.*``) where the installed Pyserini looks, so the named lookups work offline.  It also seeds Pyserini's own cache
(``$PYSERINI_CACHE`` or ``~/.cache/pyserini``) with an offline stand-in for
``msmarco_passage_eval.py`` when no copy is there (see :mod:`pyserini_i3.plugin.msmarco_eval`).
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path

from pyserini_i3.plugin.compat import topics_resolved_in_python
from pyserini_i3.utils.files import copy_atomic

NAME = re.compile(r"^(topics|qrels)\.[^/]+$")
SUBDIR = Path(".cache") / "pyserini" / "topics-and-qrels"
EVAL_SCRIPT = "msmarco_passage_eval.py"


class TopicsError(Exception):
    """A one-line, user-facing error."""


def java_user_home() -> Path:
    """Java's ``user.home`` as the JVM Pyserini starts will see it."""
    from pyserini_i3.plugin.java import configure_environment

    home = configure_environment()
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    env = {k: v for k, v in os.environ.items() if k != "JDK_JAVA_OPTIONS"}  # the launcher only; pyjnius ignores it
    if java:
        try:
            out = subprocess.run([java, "-XshowSettings:properties", "-version"], capture_output=True,
                                 text=True, timeout=60, env=env)
            match = re.search(r"^\s*user\.home = (.*)$", out.stderr + out.stdout, re.MULTILINE)
            if match:
                return Path(match.group(1).strip())
        except (OSError, subprocess.SubprocessError):
            pass
    match = None  # no runnable java: read the options the JVM would (_JAVA_OPTIONS wins)
    for var in ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"):
        found = re.findall(r"-Duser\.home=(\S+)", os.environ.get(var, ""))
        if found:
            match = found[-1]
    if match:
        return Path(match)
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def anserini_cache_dir() -> Path:
    """Where the installed Pyserini looks up named topics and qrels: Anserini's cache (1.x),
    or Pyserini's cache home (2.x, which keeps ``topics/`` and ``qrels/`` apart)."""
    if topics_resolved_in_python():
        from pyserini.util import get_cache_home

        return Path(get_cache_home())
    return java_user_home() / SUBDIR


def destination(target: Path, name: str) -> Path:
    """Where a ``topics.*`` / ``qrels.*`` file goes under ``target`` (see :func:`anserini_cache_dir`)."""
    if topics_resolved_in_python():
        return target / name.split(".", 1)[0] / name
    return target / name


def pyserini_eval_dir() -> Path:
    from pyserini.util import get_cache_home

    return Path(get_cache_home()) / "eval"


def topic_files(source: str | os.PathLike) -> list[Path]:
    source = Path(source)
    if not source.is_dir():
        raise TopicsError(f"{source}: not a directory")
    files = sorted(p for p in source.iterdir() if p.is_file() and NAME.match(p.name))
    if not files:
        raise TopicsError(f"{source}: no topics.* or qrels.* files (name them as Anserini does, "
                          "e.g. topics.dl19-passage.txt)")
    return files


def install(source: str | os.PathLike, dest: str | os.PathLike | None = None, force: bool = False,
            eval_script: bool = True) -> list[tuple[str, Path, str]]:
    """Copy topic/qrels files into Anserini's cache; return (name, destination, status) rows.

    A file already there with other content is an error unless ``force``; nothing
    is written until every file has been checked.
    """
    files = topic_files(source)
    target = Path(dest) if dest is not None else anserini_cache_dir()
    plan = []
    for src in files:
        out = destination(target, src.name)
        if not out.exists():
            plan.append((src, out, "installed"))
        elif filecmp.cmp(src, out, shallow=False):
            plan.append((src, out, "up to date"))
        elif force:
            plan.append((src, out, "replaced"))
        else:
            raise TopicsError(f"{out} exists with different content from {src}: pass --force to replace it")
    rows = []
    for src, out, status in plan:
        if status != "up to date":
            copy_atomic(src, out)
        rows.append((src.name, out, status))
    if eval_script:
        rows.append(seed_eval_script())
    return rows


def seed_eval_script() -> tuple[str, Path, str]:
    """Place the MS MARCO MRR@10 stand-in where Pyserini would download the official script."""
    from pyserini_i3.plugin import msmarco_eval

    out = pyserini_eval_dir() / EVAL_SCRIPT
    if out.exists():
        return EVAL_SCRIPT, out, "kept (already there)"
    copy_atomic(Path(msmarco_eval.__file__), out)
    return EVAL_SCRIPT, out, "installed (offline stand-in)"


def installed(dest: str | os.PathLike | None = None) -> list[Path]:
    target = Path(dest) if dest is not None else anserini_cache_dir()
    folders = [target / "topics", target / "qrels"] if topics_resolved_in_python() else [target]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.iterdir()
                  if p.is_file() and NAME.match(p.name))
