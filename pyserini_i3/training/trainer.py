"""``I3Trainer``: transformers' ``Trainer`` for I^3, as Tevatron's ``TevatronTrainer`` is for its models.

The Trainer owns the loop: DDP wrapping under ``torchrun`` / ``accelerate launch``,
DeepSpeed, gradient accumulation, mixed precision (``--bf16``), gradient checkpointing,
clipping, logging to ``--report_to``, ``checkpoint-N`` with rotation and resume.  What is
I^3's own is here: the loss (the model's: InfoNCE over in-batch and hard negatives,
gathered across processes, plus reconstruction and distillation), the encoder / head /
gate learning-rate groups, the data in the seeded order of
:class:`~pyserini_i3.training.batching.StepDataset`, the model directory format (full or
LoRA delta) for checkpoints, and an ``evaluate`` that ranks the validation queries.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import Trainer

from pyserini_i3.modeling.delta import has_lora, is_head_key, load_trainable_state
from pyserini_i3.modeling.storage import WEIGHTS_NAME
from pyserini_i3.training.teacher import group_scores
from pyserini_i3.training.validation import means

PARTS = ("loss", "contrastive", "reconstruction", "distillation")


def parameter_groups(model: torch.nn.Module, args) -> list[dict]:
    """The optimizer's groups: encoder, head and gate rates, each with and without weight decay."""
    rates = {"encoder": args.learning_rate, "head": args.head_learning_rate,
             "gate": args.gate_learning_rate or args.head_learning_rate}
    groups: dict[tuple[str, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        # reconstructor, interactor, vocabulary head; the identity start's gate apart
        part = ("gate" if name.startswith("interactor.gate") else "head") if is_head_key(name) else "encoder"
        no_decay = param.ndim < 2  # biases and LayerNorm weights
        groups.setdefault((part, no_decay), []).append(param)
    return [{"params": ps, "lr": rates[part], "weight_decay": 0.0 if no_decay else args.weight_decay}
            for (part, no_decay), ps in sorted(groups.items())]


def load_saved(model: torch.nn.Module, path: Path) -> None:
    """Load the weights of a model directory written by ``save_pretrained`` (a checkpoint, the kept best step)
    into the model being trained."""
    if has_lora(model):
        load_trainable_state(model, path)
    else:
        from safetensors.torch import load_file

        model.load_weights(load_file(str(path / WEIGHTS_NAME)), source=str(path / WEIGHTS_NAME))


class I3Trainer(Trainer):
    def __init__(self, *args, teacher=None, validator=None, steps_per_epoch: int = 1, other_positives: str = "keep",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher, self.validator, self.steps_per_epoch = teacher, validator, steps_per_epoch
        self.other_positives = other_positives
        self._parts: torch.Tensor | None = None  # the loss's parts summed on the device since the last log
        self._last_log: tuple[int, float] | None = None  # (step, time) of the last training log (or first step)
        self._first_step_time: float | None = None
        self._paused = 0.0  # seconds of evaluations and checkpoints since the last log: not training time

    # ------------------------------------------------------------------ the loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        a = self.args
        if self._last_log is None:  # the first step of this run (after any evaluation before it)
            self._first_step_time, self._paused = time.time(), 0.0
            self._last_log = (self.state.global_step, self._first_step_time)
        if self.teacher is not None:  # --kd-from-base: the frozen base scores this batch's groups
            inputs["teacher_scores"] = group_scores(self.teacher, inputs["query_inputs"], inputs["passage_inputs"])
        epoch = self.state.global_step // self.steps_per_epoch
        rec_weight = a.rec_weight / 10 ** epoch if a.rec_schedule == "epoch-decay" else a.rec_weight
        out = model(**inputs, reconstruction_weight=rec_weight, distillation_weight=a.kd_weight,
                    gather=a.world_size > 1, other_positives=self.other_positives, reconstruction_target=a.rec_loss)
        parts = torch.stack([out.loss, out.contrastive_loss, out.reconstruction_loss, out.distillation_loss]).detach()
        parts = parts.float() / a.gradient_accumulation_steps  # no .item() here: no device sync per micro-batch
        self._parts = parts if self._parts is None else self._parts + parts
        return (out.loss, out) if return_outputs else out.loss

    # ------------------------------------------------------------------ optimizer, data, checkpoints
    def create_optimizer(self, model=None):
        if self.optimizer is None:
            groups = parameter_groups(self.model, self.args)
            if self.args.optimizer == "sgd":
                self.optimizer = torch.optim.SGD(groups, lr=self.args.learning_rate)
            else:
                optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, self.model)
                self.optimizer = optimizer_cls(groups, **kwargs)
        return self.optimizer

    def _get_train_sampler(self, train_dataset=None):
        return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)  # the order is the data's

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if self.args.should_save:
            self.model.save_pretrained(output_dir or self.args.output_dir, state_dict=state_dict)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        load_saved(model or self.model, Path(resume_from_checkpoint))

    def _save_checkpoint(self, model, trial) -> None:
        started = time.time()
        super()._save_checkpoint(model, trial)
        self._paused += time.time() - started

    # ------------------------------------------------------------------ logging and evaluation
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Training logs carry the loss's parts, unrounded and averaged over processes, and the rates."""
        if "loss" in logs:
            step, now = self.state.global_step, time.time()
            last_step, last_time = self._last_log
            steps = max(step - last_step, 1)
            parts = self._parts.to(self.args.device)
            if self.args.world_size > 1:
                torch.distributed.all_reduce(parts)
                parts /= self.args.world_size
            logs.update(zip(PARTS, (parts.cpu().double() / steps).tolist()))
            self._parts = None
            rates = self.lr_scheduler.get_last_lr()
            queries = self.args.batch_size * steps / max(now - last_time - self._paused, 1e-9)
            logs.update(lr=rates[0], head_lr=max(rates), queries_per_s=round(queries, 3),
                        passages_per_s=round(queries * self.train_dataset.groups.group_size, 3),
                        elapsed_s=round(now - self._first_step_time, 2))
            self._last_log, self._paused = (step, now), 0.0
        self.state.epoch = self.state.global_step / self.steps_per_epoch  # the data's epochs, not the loader's
        super().log(logs, start_time)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """Rank the validation queries over their pooled passages (main process); callbacks get each query's
        scores as ``per_query``."""
        if self.validator is None:
            return {}
        started = time.time()
        per_query = self.validator.evaluate_per_query(self.model) if self.is_world_process_zero() else None
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in means(per_query).items()} if per_query else {}
        if metrics:
            self.log(metrics)
        self.control.should_evaluate = False  # as callback_handler.on_evaluate does (it passes no per_query)
        self.control = self.callback_handler.call_event("on_evaluate", self.args, self.state, self.control,
                                                        metrics=metrics, per_query=per_query)
        self.accelerator.wait_for_everyone()
        self._paused += time.time() - started
        return metrics
