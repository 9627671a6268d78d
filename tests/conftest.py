"""Fixtures for the Pyserini integration tests (test_java, test_registration,
test_topics, test_pyserini_e2e).

* ``shared_data``: ``../shared/data`` relative to the repository root; tests that
  need it skip with a message when it is absent.
* ``java_home``: a temporary directory used as Java's ``user.home`` (via
  ``JAVA_TOOL_OPTIONS=-Duser.home=...``), so Anserini's topics/qrels cache lands in
  tmp and the real ``~/.cache/pyserini`` is never written.
* ``minimal_env``: ``env -i PATH=/usr/bin:/bin`` plus only those redirects
  (JAVA_HOME unset), the environment the issue asks the pipeline to work in.
* ``run_python`` (imported by the tests): runs ``python ARGS`` with the venv's
  interpreter, failing the test with the command's output tail on a non-zero exit.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PYTHON = sys.executable
MINIMAL_PATH = "/usr/bin:/bin"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data} (expected ../shared/data next to the repository)")
    return data


def make_minimal_env(java_user_home: Path, pyserini_cache: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": MINIMAL_PATH,
        "JAVA_TOOL_OPTIONS": f"-Duser.home={java_user_home}",
        "PYSERINI_CACHE": str(pyserini_cache),
        "HOME": str(java_user_home),  # Python-side ~ (tqdm, HF) stays in tmp too
    }
    # the model settings of this process (e.g. $PYSERINI_I3_FAST_PATH, $PYSERINI_I3_ENCODER), so that
    # in-process expectations and the commands use the same model; the Java switch stays out
    env.update({k: v for k, v in os.environ.items() if k.startswith("PYSERINI_I3_") and k != "PYSERINI_I3_JAVA"})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def java_home(tmp_path_factory) -> Path:
    """Java's user.home for every JVM the tests start (topics/qrels cache in tmp)."""
    return tmp_path_factory.mktemp("java-home")


@pytest.fixture(scope="session")
def pyserini_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pyserini-cache")


@pytest.fixture(scope="session")
def minimal_env(java_home, pyserini_cache) -> dict[str, str]:
    return make_minimal_env(java_home, pyserini_cache)


class CliResult:
    def __init__(self, args, proc, seconds):
        self.args = args
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_python(args, env, cwd=None, check=True, timeout=900) -> CliResult:
    """``python ARGS`` with the venv's interpreter in ``env``."""
    cmd = [PYTHON, *map(str, args)]
    start = time.time()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    result = CliResult(cmd, proc, time.time() - start)
    if check and proc.returncode != 0:
        tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
        pytest.fail(f"exit {proc.returncode}: {shlex.join(cmd)}\n{tail}", pytrace=False)
    return result
