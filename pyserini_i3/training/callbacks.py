"""The Trainer callbacks of ``train``: the guard, ``train_log.jsonl``, a quiet progress bar, the seeded start.

* :class:`GuardCallback`: held-out validation at step 0, every ``--eval-steps`` and at
  the end (through ``I3Trainer.evaluate``); the best step is kept in ``best-step/``, and
  with ``--validation-significance`` a trained step is kept only when it beats the start
  (or the base) by a paired test, Bonferroni-corrected for the run's looks
  (:class:`~pyserini_i3.training.validation.BestStep`).
* :class:`TrainLogCallback`: one JSON line per training log in ``train_log.jsonl``
  (loss, its parts, rates, throughput), cut back to the checkpoint on resume.
* :class:`QuietProgressCallback`: the Trainer's tqdm bar, with the loss as its postfix
  instead of a printed dict per log.
* :class:`SeededStartCallback`: the random state the model was built in, restored at the
  first step of a fresh run (the Trainer reseeds when it is made), so that dropout draws
  what it drew before the Trainer, whatever the data loader drew meanwhile.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from pyserini_i3.training.validation import BestStep, Validator, means
from pyserini_i3.utils.files import write_atomic

logger = logging.getLogger(__name__)


def evaluation_steps(total: int, every: int) -> list[int]:
    """The trained steps a run of ``total`` steps evaluates: every ``every``-th and the last."""
    return sorted(set(range(every, total + 1, every)) | {total})


class GuardCallback(TrainerCallback):
    """Validation, the best step kept, and the paired test against the start (see the module's docstring).

    ``base`` (a function returning the base model), when given, makes the base the reference
    every evaluation must beat, step 0 included: for a start that is not the base (random
    I^3 heads).  ``looks`` is the number of tested evaluations, for the correction.
    """

    def __init__(self, validator: Validator, output: Path, metric: str, significance: float, every: int,
                 looks: int, base: Callable | None = None):
        self.validator, self.output, self.metric, self.significance = validator, Path(output), metric, significance
        self.every, self.looks, self.base = every, looks, base
        self.tracker: BestStep | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.tracker = BestStep(self.output, self.metric, len(self.validator), state.global_step, self.significance,
                                self.looks)
        if state.global_step == 0 and self.base is not None:
            per_query = self.validator.evaluate_per_query(self.base().to(args.device))
            self.tracker.set_reference(per_query, means(per_query))
            logger.info("validation of the base (the reference every step must beat): %s", _show(means(per_query)))

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every == 0 or state.global_step >= state.max_steps:
            control.should_evaluate = True

    def on_evaluate(self, args, state, control, model=None, per_query=None, **kwargs):
        if per_query is None or self.tracker is None:
            return
        scores = means(per_query)
        best = self.tracker.record(state.global_step, scores, model, per_query)
        logger.info("validation at step %d: %s%s", state.global_step, _show(scores), " (best so far)" if best else "")


def _show(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in scores.items())


class TrainLogCallback(TrainerCallback):
    """``train_log.jsonl``: ``step``, ``epoch``, ``loss``, its parts, ``lr``, ``head_lr``, throughput, ``elapsed_s``."""

    KEYS = ("loss", "contrastive", "reconstruction", "distillation", "lr", "head_lr", "queries_per_s",
            "passages_per_s", "elapsed_s")

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:  # the last step is logged whatever --logging-steps says
            control.should_log = True

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.path.is_file():  # fresh: start over; resumed: drop redone steps
            kept = [line for line in self.path.read_text().splitlines(keepends=True)
                    if line.strip() and json.loads(line).get("step", 0) <= state.global_step]
            write_atomic(self.path, "".join(kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and "contrastive" in logs:
            record = {"step": state.global_step, "epoch": round(logs.get("epoch", 0.0), 4),
                      **{k: logs[k] for k in self.KEYS}}
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


class QuietProgressCallback(ProgressCallback):
    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)


class SeededStartCallback(TrainerCallback):
    """Restores the torch, Python and NumPy random states captured when the model was built."""

    def __init__(self):
        self.state = (torch.get_rng_state(), random.getstate(), np.random.get_state())

    def on_step_begin(self, args, state, control, **kwargs):
        if self.state is not None and state.global_step == 0:
            torch.set_rng_state(self.state[0])
            random.setstate(self.state[1])
            np.random.set_state(self.state[2])
        self.state = None
