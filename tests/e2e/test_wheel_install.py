"""The wheel as a user installs it: ``python -m build``, then a plain ``pip install`` (dependencies
resolved, not editable) into a fresh venv that already holds this environment's Pyserini.

The installed Pyserini must stay as it was (the plugin follows its host), and ``--encoder i3``
must work at once, with no extra command: ``pyserini.encode --to-faiss`` and
``pyserini.search.faiss`` in ``env -i PATH=/usr/bin:/bin``.  Packages come from the registry
(pip's cache makes a second run quick); a few minutes, most of it installing torch and Pyserini.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest

from helpers import ROOT, make_minimal_env
from pyserini_i3.eval.collections import SAMPLE_DIR, beir_test_collection

pytestmark = pytest.mark.slow


def pip(python, *args, timeout=1800):
    proc = subprocess.run([str(python), "-m", "pip", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"pip {' '.join(map(str, args))}:\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def version_in(python, package):
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_plain_pip_install_of_the_wheel_keeps_pyserini_and_serves_encoder_i3(tmp_path):
    pyserini = importlib.metadata.version("pyserini")
    torch = importlib.metadata.version("torch").split("+")[0]
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("pyserini_i3-*.whl")

    # a fresh venv of this Python that already holds Pyserini (and the torch this one runs)
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    pip(python, "install", "-q", f"torch=={torch}")
    pip(python, "install", "-q", f"pyserini=={pyserini}")
    report = pip(python, "install", wheel)  # plain: dependencies resolved from the registry
    assert version_in(python, "pyserini") == pyserini, report[-2000:]
    assert f"pyserini-{pyserini}" not in report.split("Successfully installed")[-1], report[-2000:]
    assert version_in(python, "pyserini-i3")

    # --encoder i3 at once, in a minimal environment, no `install-hook` or other command
    col = beir_test_collection(SAMPLE_DIR, tmp_path / "sample")
    env = make_minimal_env(tmp_path / "home", tmp_path / "cache", HF_HUB_OFFLINE="1")
    env = {k: v for k, v in env.items() if not k.startswith("PYSERINI_I3_")}
    index = tmp_path / "index"
    for args in (
        ["-m", "pyserini.encode", "input", "--corpus", col.corpus, "--fields", "title", "text",
         "output", "--embeddings", index, "--to-faiss", "encoder", "--encoder", "i3", "--fields", "title", "text",
         "--add-sep", "--batch-size", "16"],
        ["-m", "pyserini.search.faiss", "--index", index, "--topics", col.topics, "--encoder", "i3",
         "--output", tmp_path / "run.txt", "--hits", "10"],
    ):
        proc = subprocess.run([str(python), *map(str, args)], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{' '.join(map(str, args))}:\n{proc.stderr[-3000:]}"
    lines = (tmp_path / "run.txt").read_text().splitlines()
    assert len(lines) == 10 * col.num_queries and {line.split()[0] for line in lines} == {
        line.split("\t")[0] for line in col.topics.read_text().splitlines()}
    assert os.path.getsize(index / "index") > 0
