"""Running Pyserini's commands and recording them: the :class:`Runner`, trec_eval, run records.

A :class:`Runner` runs ``python -m pyserini....`` command lines (built by
:mod:`pyserini_i3.utils.pyserini_commands`) in a collection's scratch directory,
with relative paths, and keeps each command with its seconds; :func:`write_results`
turns them into a run record (``commands.sh``, ``scores.md``, ``scores.json``) whose
paths name the repository or ``../shared`` relatively, never this machine's layout.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pyserini_i3.utils.files import write_atomic
from pyserini_i3.utils.pyserini_commands import parse_trec_eval, trec_eval
from pyserini_i3.utils.trec import MEASURES, trec_eval_groups

LABELS = [m.label for m in MEASURES.values()]  # the columns of the score tables

ROOT = Path(__file__).resolve().parents[2]  # the repository (development install)
# the plugin's settings that change what the commands compute or how fast: commands.sh exports them
RECORDED_ENV = ("PYSERINI_I3_FAST_PATH", "PYSERINI_I3_KEEP_FREED_MEMORY")


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a run record names it: relative to the repository, or ``../shared/...``."""
    resolved = Path(path).expanduser().resolve()
    for base, prefix in ((ROOT, ""), (ROOT.parent / "shared", "../shared/")):
        try:
            rel = resolved.relative_to(base.resolve())
        except ValueError:
            continue
        return prefix + (str(rel) if str(rel) != "." else "")
    return str(path)


class Runner:
    """Runs ``python ARGS`` in ``work``; records every command (as ``python ...``) with its seconds."""

    def __init__(self, work: Path, env: dict, log, name: str = "pyserini-runs"):
        self.name = name
        self.last_seconds = 0.0
        self.work = work
        self.env = env
        self.log = log
        self.commands: list[tuple[str, float]] = []

    def __call__(self, *args, record=True, stream=False) -> str:
        """Run ``python ARGS`` in the work directory; ``stream``: show its output (progress bars) live."""
        args = [str(a) for a in args]
        cmd = [sys.executable, *args]
        shown = shlex.join(["python", *(display_path(a) if os.path.isabs(a) else a for a in args)])
        self.log(f"$ {shown}")
        start = time.time()
        proc = subprocess.run(cmd, cwd=self.work, env=self.env, capture_output=not stream, text=True)
        seconds = time.time() - start
        self.last_seconds = seconds
        if proc.returncode != 0:
            if not stream:
                sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
            raise SystemExit(f"{self.name}: command failed (exit {proc.returncode}): {shown}")
        if record:
            self.commands.append((shown, seconds))
        return proc.stdout or ""

    def trec_eval(self, qrels: str, run: str) -> dict[str, float]:
        """nDCG@10, R@100 and MRR@10 of ``run`` by ``pyserini.eval.trec_eval``: one start (one JVM) for the
        measures that share their options (``-c``; MRR@10's ``-M 10`` cut needs a start of its own)."""
        scores = {}
        for options, measures in trec_eval_groups():
            out = self(*trec_eval(options, qrels, run))
            scores.update({m.label: parse_trec_eval(out, m.name) for m in measures})
        return {label: scores[label] for label in LABELS}


def load_note() -> str:
    load = os.getloadavg()[1]
    note = f"5-min load average at the end {load:.1f}"
    if load > (os.cpu_count() or 1):
        note += ": other jobs shared the cores, so the seconds overstate an idle machine's"
    return note


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for module, dist in (("pyserini", "pyserini"), ("torch", "torch"), ("transformers", "transformers"),
                         ("faiss", "faiss-cpu")):
        try:
            found[module] = version(dist)
        except PackageNotFoundError:
            found[module] = "?"
    return found


def machine_note(device: str = "cpu") -> str:
    """Where the commands ran: the CPU, and the GPU when ``device`` (Pyserini's ``--device``) names one."""
    cores = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    if not device.startswith("cuda"):
        return f"{cores}, no GPU used (--device {device})"
    import torch

    return f"{cores}, GPU {torch.cuda.get_device_name(torch.device(device))} (--device {device})"


def write_results(out: Path, name: str, description: str, encoder_note: str, run: Runner,
                  scores: dict, seconds: float, extra: list[str] | None = None, data: dict | None = None,
                  device: str = "cpu") -> None:
    """``commands.sh``, ``scores.md`` and ``scores.json`` in ``out`` (``data``: more keys for the json; ``device``:
    the one the encoder ran on, for the record)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_note(device)
    found = versions()
    lines = ["#!/usr/bin/env bash", f"# {name}: {description}",
             "# Run from the collection's scratch directory (corpus/, topics.tsv, qrels.txt),",
             f"# built by `python -m pyserini_i3 {run.name}`; seconds measured on: " + machine, "set -euo pipefail"]
    lines += [f"export {k}={shlex.quote(run.env[k])}" for k in RECORDED_ENV if run.env.get(k)]
    lines += [f"{command}  # {secs:.0f}s" for command, secs in run.commands]
    header = "| run | " + " | ".join(LABELS) + " |"
    table = [header, "|---|" + "---:|" * len(LABELS)]
    for system, values in scores.items():
        table.append(f"| {system} | " + " | ".join(f"{values[label]:.4f}" for label in LABELS) + " |")
    md = [f"# {name}", "", description, "", encoder_note, "",
          f"Measured {stamp} on {machine}; pyserini {found['pyserini']}, torch {found['torch']}, "
          f"transformers {found['transformers']}, faiss {found['faiss']}; whole pipeline {seconds / 60:.1f} min "
          f"({load_note()}).",
          "", *table, "", *(extra or []), "Commands (and seconds each): [commands.sh](commands.sh).", ""]
    record = {"collection": name, "measured": stamp, "machine": machine, "versions": found, "scores": scores,
              "commands": [{"command": c, "seconds": round(s, 1)} for c, s in run.commands], **(data or {})}
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "commands.sh", "\n".join(lines) + "\n")
    write_atomic(out / "scores.md", "\n".join(md))
    write_atomic(out / "scores.json", json.dumps(record, indent=2) + "\n")
