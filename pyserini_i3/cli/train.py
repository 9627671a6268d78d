"""``python -m pyserini_i3 train --train-file F --output-dir DIR [...]``.

Trains I^3 (``--variant full|official``) or the dual-encoder ablation
(``--variant de``) from the same entry point.  Multi-process:
``torchrun --nproc-per-node 2 -m pyserini_i3 train ...``.
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str]) -> int:
    from transformers import HfArgumentParser

    from pyserini_i3.trainer import TrainArguments, train

    parser = HfArgumentParser(TrainArguments, prog="python -m pyserini_i3 train", description=__doc__)
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        output = train(args)
    except ValueError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
