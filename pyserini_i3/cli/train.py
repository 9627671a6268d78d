"""``python -m pyserini_i3 train --train-file F --output-dir DIR [...]``.

Trains I^3 (``--variant full|official``) or the dual-encoder ablation
(``--variant de``) from the same entry point, on transformers' Trainer: its own options
(``--bf16``, ``--deepspeed``, ``--report_to``, ...) are there too.  Multi-process:
``torchrun --nproc-per-node 2 -m pyserini_i3 train ...`` or ``accelerate launch -m pyserini_i3 train ...``.
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str]) -> int:
    from transformers import HfArgumentParser

    from pyserini_i3.training.arguments import DataArguments, ModelArguments, TrainArguments, TrainingArguments
    from pyserini_i3.training.run import train

    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments), prog="python -m pyserini_i3 train",
                              description=__doc__)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        output = train(TrainArguments(*parser.parse_args_into_dataclasses(args=argv)))
    except ValueError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return _exit(1)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    print(f"wrote {output}")
    return _exit(0)


def _exit(code: int) -> int:
    """Return ``code``; under torchrun, end the process here instead.

    With gloo on torch 2.13 CPU, about one multi-process run in four aborted in the
    interpreter's teardown (``terminate called without an active exception``, SIGABRT,
    no Python frame) after training had finished and the model was written; torchrun then
    reports the whole job as failed.  By now the process group is destroyed and every
    output file is closed, so the process leaves without that teardown.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return code
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

