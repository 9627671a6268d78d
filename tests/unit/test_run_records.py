"""Run records (runs/) are portable, and the main job does not dirty a checkout."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest

from helpers import ROOT


def test_run_records_name_no_path_of_this_machine():
    """Paths in runs/ are relative to the repository or ``../shared``, never absolute."""
    machine = [str(ROOT), str(ROOT.parent)]
    offenders = []
    for path in (ROOT / "runs").rglob("*"):
        if not path.is_file() or path.suffix == ".png":
            continue
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in machine if m + "/" in text]
    assert offenders == []


def test_display_path_is_relative_to_the_repository_or_shared(tmp_path):
    from pyserini_i3.eval.commands import display_path

    assert display_path(ROOT / "encoders" / "x") == "encoders/x"
    assert display_path(ROOT.parent / "shared" / "data" / "scifact") == "../shared/data/scifact"
    assert display_path(tmp_path) == str(tmp_path)  # elsewhere: as given


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_demos_fresh_outputs_are_ignored_by_git():
    from pyserini_i3.cli.demo import build_parser

    out = build_parser().get_default("out")
    for name in ("run.i3.trec", "scores.md", "scores.json", "commands.sh"):
        assert subprocess.run(["git", "check-ignore", "-q", str(out / name)], cwd=ROOT).returncode == 0
    assert subprocess.run(["git", "check-ignore", "-q", "runs/demo/scores.md"], cwd=ROOT).returncode == 1


def test_the_record_names_the_device_the_encoder_ran_on(monkeypatch):
    import torch

    from pyserini_i3.eval.commands import machine_note

    assert machine_note("cpu").endswith("CPU cores, no GPU used (--device cpu)")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert machine_note("cuda:0").endswith("CPU cores, GPU NVIDIA H100 80GB HBM3 (--device cuda:0)")
