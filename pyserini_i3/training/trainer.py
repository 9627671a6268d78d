"""Training I^3 (or its DE ablation) on a Tevatron-shaped JSONL file.

Contrastive InfoNCE over in-batch and hard negatives (gathered across processes),
the reconstruction loss with its weight and schedule, optional KL distillation;
AdamW with a separate learning rate for the new heads, linear warmup and decay,
gradient accumulation and checkpointing, autocast on GPU.  Checkpoints are
written atomically every ``save_steps``; ``resume`` continues from the latest.

The output directory is an I^3 model directory (``--encoder DIR`` in Pyserini)
plus ``training_args.json``, ``train_log.jsonl`` and ``checkpoints/``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pyserini_i3.modeling.delta import add_lora, has_lora, is_head_key, load_trainable_state
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.modeling.storage import is_i3_model_dir
from pyserini_i3.training.arguments import TrainArguments
from pyserini_i3.training.batching import Collator, TrainGroups, epoch_order
from pyserini_i3.training.distributed import DistributedContext, init_distributed, shutdown
from pyserini_i3.training.examples import read_training_file
from pyserini_i3.training.teacher import base_teacher, group_scores
from pyserini_i3.training.validation import (
    AUTO_MIN_QUERIES,
    BestStep,
    Validator,
    hold_out,
    means,
    validation_query_count,
)
from pyserini_i3.utils.files import atomic_dir, write_atomic
from pyserini_i3.utils.formats import Problems

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(args: TrainArguments) -> I3Model:
    if is_i3_model_dir(args.model.base):
        return I3Model.from_pretrained(args.model.base)
    layout = {k: v for k, v in (("interactor_input", args.model.interactor_input),
                                ("reconstructor_attends_to", args.model.reconstructor_attends_to)) if v}
    m = args.model
    return I3Model.from_backbone(
        m.base, variant=m.variant, tied_encoders=m.tied_encoders, num_slots=m.num_slots,
        reconstructor_layers=m.reconstructor_layers, interactor_layers=m.interactor_layers,
        interactor_gate=m.interactor_gate, query_max_length=args.data.query_max_length,
        passage_max_length=args.data.passage_max_length, **layout,
    )


def build_optimizer(model, args: TrainArguments) -> torch.optim.Optimizer:
    t = args.training
    rates = {"encoder": t.learning_rate, "head": t.head_learning_rate,
             "gate": t.gate_learning_rate or t.head_learning_rate}
    groups: dict[tuple[str, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        # reconstructor, interactor, vocabulary head; the identity start's gate apart
        part = ("gate" if name.startswith("interactor.gate") else "head") if is_head_key(name) else "encoder"
        no_decay = param.ndim < 2  # biases and LayerNorm weights
        groups.setdefault((part, no_decay), []).append(param)
    params = [{"params": ps, "lr": rates[part], "weight_decay": 0.0 if no_decay else t.weight_decay}
              for (part, no_decay), ps in sorted(groups.items())]
    if args.training.optimizer == "sgd":
        return torch.optim.SGD(params)
    return torch.optim.AdamW(params)


# --------------------------------------------------------------------------- checkpoints
def _checkpoint_dirs(output: Path) -> list[Path]:
    root = output / "checkpoints"
    if not root.is_dir():
        return []
    done = [d for d in root.iterdir() if d.name.startswith("step-") and (d / STATE_FILE).is_file()]
    return sorted(done, key=lambda d: int(d.name.split("-")[1]))


def save_checkpoint(model, optimizer, scheduler, step: int, output: Path, limit: int) -> Path:
    """``checkpoints/step-N``: the model, the optimizer and scheduler states and every RNG, whole or not at all.

    Everything in ``optimizer.pt`` is a tensor, a number, a string or a container of
    them, so that resuming loads it with ``torch.load(weights_only=True)``: a checkpoint
    folder from elsewhere cannot run code.
    """
    final = output / "checkpoints" / f"step-{step:07d}"
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state(), "python_rng": random.getstate(),
                    "numpy_rng": _numpy_rng_state()}, tmp / "optimizer.pt")
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}) + "\n")
    for old in _checkpoint_dirs(output)[:-limit] if limit > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _numpy_rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_numpy_rng_state(state: dict) -> None:
    np.random.set_state((state["kind"], state["keys"].numpy().astype(np.uint32), state["pos"], state["has_gauss"],
                         state["cached_gaussian"]))


def load_checkpoint_state(path: Path) -> dict:
    """``optimizer.pt`` of a checkpoint, loaded with ``weights_only=True`` (one-line error otherwise)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle of anything but tensors and plain data
        gist = str(exc).strip().splitlines()
        raise ValueError(f"{path}: not a checkpoint state this version can load safely "
                         f"({type(exc).__name__}: {gist[0] if gist else ''})") from None


def _rec_weight(args: TrainArguments, epoch: int) -> float:
    return (args.training.rec_weight / (10 ** epoch) if args.training.rec_schedule == "epoch-decay"
            else args.training.rec_weight)


def _device(args: TrainArguments, ctx_local_rank: int) -> torch.device:
    if args.training.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", ctx_local_rank)
        return torch.device("cpu")
    return torch.device(args.training.device)


# --------------------------------------------------------------------------- the loop
def train(args: TrainArguments, ctx: DistributedContext | None = None) -> Path:
    """Train; returns the output directory (a loadable I^3 model directory)."""
    from transformers import get_linear_schedule_with_warmup

    args.validate()
    own_ctx = ctx is None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(args, local_rank)
    if ctx is None:
        ctx = init_distributed(device)
    output = Path(args.training.output_dir)
    try:
        set_seed(args.training.seed)
        problems = Problems()
        examples = read_training_file(args.data.train_file, problems)
        if ctx.is_main:
            skipped = ", ".join(problems.describe(kind) for kind in sorted(problems.counts))
            logger.info("%s: %d examples%s", args.data.train_file, len(examples),
                        f" ({skipped} skipped)" if skipped else "")
        if not examples:
            raise ValueError(f"--train-file {args.data.train_file}: no usable training example")
        examples, validator = _validation_set(args, examples, ctx.is_main)
        micro = args.training.batch_size // args.training.gradient_accumulation_steps
        if micro % ctx.world_size:
            raise ValueError(f"{micro} queries per micro-batch do not split over {ctx.world_size} processes")
        steps_per_epoch = len(examples) // args.training.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"--batch-size {args.training.batch_size} is larger than the {len(examples)} "
                             "training examples")
        total = (args.training.max_steps if args.training.max_steps > 0
                 else max(1, math.ceil(args.training.epochs * steps_per_epoch)))

        model = build_model(args)
        if args.model.lora_rank:
            add_lora(model, args.model.lora_rank, args.model.lora_alpha, args.model.lora_dropout,
                     args.model.lora_target_modules)
        model = model.to(device)
        model.train()
        teacher = _base_teacher(args, examples, device) if args.training.kd_from_base else None
        if args.training.gradient_checkpointing:
            encoders = {id(model.passage_encoder): model.passage_encoder, id(model.query_model()): model.query_model()}
            for enc in encoders.values():
                enc.gradient_checkpointing_enable()
        groups = TrainGroups(examples, args.data.group_size, args.training.seed, args.data.rec_targets)
        collate = Collator(model, args.data.query_max_length, args.data.passage_max_length)
        optimizer = build_optimizer(model, args)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(args.training.warmup_ratio * total), total)

        step = 0
        if args.training.resume and _checkpoint_dirs(output):
            last = _checkpoint_dirs(output)[-1]
            _load_saved(model, last)
            state = load_checkpoint_state(last / "optimizer.pt")
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            random.setstate(state["python_rng"])
            _set_numpy_rng_state(state["numpy_rng"])
            step = json.loads((last / STATE_FILE).read_text())["step"]
            if ctx.is_main:
                _truncate_log(output / "train_log.jsonl", step)
            if ctx.is_main:
                logger.info("resuming from %s (step %d of %d)", last, step, total)
        elif ctx.is_main and output.exists() and _checkpoint_dirs(output) and not args.training.resume:
            logger.warning("%s has checkpoints; pass --resume to continue from them", output)

        if ctx.is_main:
            output.mkdir(parents=True, exist_ok=True)
            write_atomic(output / "training_args.json", json.dumps(args.to_dict(), indent=2) + "\n")
        log_file = output / "train_log.jsonl"
        tracker = (BestStep(output, args.training.validation_metric, len(validator), step,
                            args.training.validation_significance)
                   if validator is not None and ctx.is_main else None)
        every = args.training.eval_steps or max(1, total // 4)

        def validate() -> None:
            if tracker is not None:
                per_query = validator.evaluate_per_query(model)
                scores = means(per_query)
                best = tracker.record(step, scores, model, per_query)
                logger.info("validation at step %d: %s%s", step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()),
                            " (best so far)" if best else "")
            ctx.barrier()

        if validator is not None and step == 0:
            if tracker is not None and _base_is_the_reference(args, model):
                per_query = validator.evaluate_per_query(base_teacher(args.model.base).to(device))
                tracker.set_reference(per_query, means(per_query))
                logger.info("validation of the base (the reference every step must beat): %s",
                            ", ".join(f"{k} {v:.4f}" for k, v in means(per_query).items()))
            validate()
        autocast, scaler = _amp(device)
        bar = None
        if ctx.is_main and args.training.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=step, desc="train", unit="step")
        start = time.time()
        while step < total:
            epoch, position = divmod(step, steps_per_epoch)
            order = epoch_order(len(examples), args.training.seed, epoch)
            batch_ids = order[position * args.training.batch_size:(position + 1) * args.training.batch_size]
            t0 = time.time()
            parts = {"loss": 0.0, "contrastive": 0.0, "reconstruction": 0.0, "distillation": 0.0}
            for a in range(args.training.gradient_accumulation_steps):
                micro_ids = batch_ids[a * micro:(a + 1) * micro]
                share = micro // ctx.world_size
                local = micro_ids[ctx.rank * share:(ctx.rank + 1) * share]
                batch = collate([groups.group(i, epoch) for i in local])
                batch = _to(batch, device)
                with autocast:
                    if teacher is not None:
                        batch["teacher_scores"] = group_scores(teacher, batch["query_inputs"], batch["passage_inputs"])
                    out = model(**batch, reconstruction_weight=_rec_weight(args, epoch),
                                distillation_weight=args.training.kd_weight, distributed=ctx)
                loss = out.loss / args.training.gradient_accumulation_steps
                (scaler.scale(loss) if scaler else loss).backward()
                for k, v in out.components().items():
                    parts[k] += v / args.training.gradient_accumulation_steps
            ctx.average_gradients(model)
            if scaler:
                scaler.unscale_(optimizer)
            if args.training.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.training.max_grad_norm)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if ctx.enabled:
                summed = ctx.sum(torch.tensor(list(parts.values()), dtype=torch.float64))
                parts = dict(zip(parts, (summed / ctx.world_size).tolist()))
            if ctx.is_main:
                seconds = time.time() - t0
                record = {"step": step, "epoch": round(step / steps_per_epoch, 4), **parts,
                          "lr": scheduler.get_last_lr()[0], "head_lr": max(scheduler.get_last_lr()),
                          "queries_per_s": round(args.training.batch_size / seconds, 3),
                          "passages_per_s": round(args.training.batch_size * args.data.group_size / seconds, 3),
                          "elapsed_s": round(time.time() - start, 2)}
                if step % args.training.logging_steps == 0 or step == total:
                    with open(log_file, "a") as f:
                        f.write(json.dumps(record) + "\n")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['loss']:.4f}")
            if validator is not None and (step % every == 0 or step == total):
                validate()
            if ctx.is_main and args.training.save_steps > 0 and step % args.training.save_steps == 0 \
                    and step < total:
                save_checkpoint(model, optimizer, scheduler, step, output, args.training.save_total_limit)
            ctx.barrier()
        if bar is not None:
            bar.close()
        if ctx.is_main:
            if tracker is not None and args.training.keep_best and tracker.kept is None:
                # no step beat the base, the reference, on the validation queries: the output is the base
                logger.warning("no trained step beats the base on the validation queries by a one-sided paired "
                               "t-test at %s: the output is the base itself, as a DE",
                               args.training.validation_significance)
                tracker.write("base")
                model = base_teacher(args.model.base)
            elif tracker is not None:
                selected = tracker.kept["step"] if args.training.keep_best else step
                if selected != step:
                    _load_saved(model, tracker.dir)
                    logger.info("keeping step %d (best %s on validation), not step %d",
                                selected, args.training.validation_metric, step)
                tracker.write(selected)
            model.eval()
            model.save_pretrained(output)
        ctx.barrier()
        return output
    finally:
        if own_ctx:
            shutdown(ctx)


def _validation_set(args: TrainArguments, examples: list, is_main: bool) -> tuple[list, Validator | None]:
    """(training examples, validator or None): ``--validation-file``, or ``--validation-queries`` held out."""
    held = None
    if args.data.validation_file:
        problems = Problems()
        held = read_training_file(args.data.validation_file, problems)
        if not held:
            raise ValueError(f"--validation-file {args.data.validation_file}: no usable example")
    elif n := validation_query_count(args.data.validation_queries, len({ex.query_id for ex in examples})):
        examples, held = hold_out(examples, n, args.training.seed)
    if held is None:
        if is_main and args.data.validation_queries == "auto":
            logger.info("validation: none (--validation-queries auto holds out queries from files of %d or more)",
                        AUTO_MIN_QUERIES)
        return examples, None
    if is_main:
        logger.info("validation: %d queries, %d training examples", len({ex.query_id for ex in held}), len(examples))
    return examples, Validator(held, args.data.query_max_length, args.data.passage_max_length)


def _base_is_the_reference(args: TrainArguments, model: I3Model) -> bool:
    """With --validation-significance, a model whose start is not its base (random heads) is tested against the
    base itself rather than its own start: no trained step may end below what the user started from."""
    return bool(args.training.validation_significance) and not (
        model.config.starts_at_base or is_i3_model_dir(args.model.base))


def _base_teacher(args: TrainArguments, examples: list, device: torch.device) -> I3Model:
    """``--kd-from-base``: the frozen base, which scores each group on the fly (one-line error if the file has
    teacher scores of its own: one teacher at a time)."""
    if any(p.score is not None for ex in examples for p in ex.positive_passages + ex.negative_passages):
        raise ValueError(f"--kd-from-base: --train-file {args.data.train_file} has teacher scores of its own; "
                         "distil from one or the other")
    return base_teacher(args.model.base).to(device)


def _load_saved(model, path: Path) -> None:
    """Load a checkpoint or best-step directory's weights into the model being trained."""
    if has_lora(model):
        load_trainable_state(model, path)
    else:
        model.load_weights(I3Model.from_pretrained(path).state_dict(), source=str(path))


def _truncate_log(log_file: Path, step: int) -> None:
    """Drop records of steps after the checkpoint we resume from (they are redone)."""
    if not log_file.is_file():
        return
    kept = [line for line in log_file.read_text().splitlines(keepends=True)
            if line.strip() and json.loads(line).get("step", 0) <= step]
    write_atomic(log_file, "".join(kept))


def _to(batch: dict, device: torch.device) -> dict:
    out = {}
    for key, value in batch.items():
        if isinstance(value, dict):
            out[key] = {k: v.to(device) for k, v in value.items()}
        elif isinstance(value, torch.Tensor):
            out[key] = value.to(device)
        else:
            out[key] = value
    return out


def _amp(device: torch.device):
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16), None
        return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")
    return torch.autocast("cpu", enabled=False), None
