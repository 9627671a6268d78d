"""Command line: ``python -m pyserini_i3 COMMAND ...``.

Each command lives in its own module; this file only dispatches.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "demo": ("pyserini_i3.cli.demo", "the main job: FAISS (--encoder i3), BM25, hybrid, trec_eval table, runs/demo/"),
    "install-hook": ("pyserini_i3.cli.install_hook", "register the plugin with Pyserini (writes pyserini_i3.pth)"),
    "prepare": ("pyserini_i3.cli.prepare", "build a Tevatron-style training file with BM25/dense hard negatives"),
    "teacher-scores": ("pyserini_i3.cli.teacher_scores",
                       "add a teacher model's scores to a training file (distillation)"),
    "train": ("pyserini_i3.cli.train", "train I^3 or the DE ablation on a prepared training file"),
    "interpolate": ("pyserini_i3.cli.interpolate",
                    "pull a trained model back towards its base: its update x WEIGHT (WiSE-FT)"),
    "convert-official": ("pyserini_i3.cli.convert_official", "import the authors' III_finetuned.p / III_distilled.p"),
    "fetch": ("pyserini_i3.cli.fetch", "download + convert i3-msmarco / i3-msmarco-distilled into the cache (--list)"),
    "topics": ("pyserini_i3.cli.topics", "install official topics/qrels where Anserini looks (offline --topics)"),
    "index-dense": ("pyserini_i3.cli.index_dense",
                    "Anserini's Lucene HNSW / flat dense index (float or int8) from pyserini.encode output"),
    "explain": ("pyserini_i3.cli.explain", "what a passage's pseudo-query says: its slots decoded, its top terms"),
    "expand": ("pyserini_i3.cli.expand", "a JsonCollection with each passage's pseudo-query terms added (for BM25)"),
    "pyserini-runs": ("pyserini_i3.cli.pyserini_runs",
                      "BM25/I^3/hybrid runs with Pyserini's commands; scores to runs/"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m pyserini_i3 COMMAND [ARGS]\n\ncommands:")
        for name, (_, help_text) in COMMANDS.items():
            print(f"  {name:<18} {help_text}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pyserini_i3: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
