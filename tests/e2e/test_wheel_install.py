"""The wheel as a user installs it: ``python -m build``, then ``pip install`` (not editable) into a
fresh venv where this environment's packages (torch, Pyserini, ...) are already installed.

The venv sees the test environment's site-packages through a ``.pth`` line, so pip resolves the
wheel's dependencies against them (``--dry-run --report``: only pyserini-i3 would be installed,
Pyserini stays as it was, nothing is downloaded) and installs the wheel alone; the test
environment's editable copy is not visible there (a ``.pth`` line adds a folder but does not run
the ``.pth`` files inside it).  Then ``--encoder i3`` must work at once, with no extra command:
``pyserini.encode --to-faiss`` and ``pyserini.search.faiss`` in ``env -i PATH=/usr/bin:/bin``.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys

import pytest

from helpers import ROOT, make_minimal_env
from pyserini_i3.eval.collections import SAMPLE_DIR, beir_test_collection

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]


def pip(python, *args, timeout=900):
    proc = subprocess.run([str(python), "-m", "pip", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=python.parent)
    assert proc.returncode == 0, f"pip {' '.join(map(str, args))}:\n{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_plain_pip_install_of_the_wheel_keeps_pyserini_and_serves_encoder_i3(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("pyserini_i3-*.whl")

    # a fresh venv of this Python that sees this environment's packages, not its editable pyserini_i3
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv],
                   check=True)
    python = venv / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                         text=True, check=True).stdout.strip()
    with open(os.path.join(own, "test-environment.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('pyserini_i3'))"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    assert probe.stdout.strip() == "None", probe.stdout  # the test environment's copy stays out of sight

    # dependency resolution, as pip does it for a user who has Pyserini: nothing but the wheel to install
    report = tmp_path / "report.json"
    pip(python, "install", "--dry-run", "--no-index", "--report", report, wheel)
    planned = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert planned == {"pyserini-i3"}, planned
    pip(python, "install", "--no-deps", "--no-index", wheel)
    version = subprocess.run([str(python), "-c", "import pyserini_i3, importlib.metadata as m; "
                              "print(m.version('pyserini-i3'), pyserini_i3.__file__)"],
                             capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert version[1].startswith(own), version  # the installed wheel, not the checkout

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
