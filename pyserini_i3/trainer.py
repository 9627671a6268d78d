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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pyserini_i3.batching import REC_TARGETS, Collator, TrainGroups, epoch_order
from pyserini_i3.data import Problems, read_training_file
from pyserini_i3.delta import DEFAULT_TARGETS, add_lora, has_lora, load_trainable_state
from pyserini_i3.distributed import DistributedContext, init_distributed, shutdown

logger = logging.getLogger(__name__)

HEAD_MODULES = ("reconstructor", "interactor", "vocab_head")
STATE_FILE = "trainer_state.json"


@dataclass
class TrainArguments:
    train_file: str = field(metadata={"help": "Tevatron-shaped JSONL (python -m pyserini_i3 prepare)"})
    output_dir: str = field(metadata={"help": "where the trained model directory is written"})
    base: str = field(default="sentence-transformers/all-MiniLM-L6-v2",
                      metadata={"help": "backbone (hub id or path) or an I^3 model directory to continue from"})
    variant: str = field(default="full", metadata={
        "help": "full | official | de (the dual-encoder ablation) | de-layer (the interactor over the passage "
                "alone: the capacity control)"})
    tied_encoders: bool = field(default=False, metadata={"help": "share one encoder for queries and passages"})
    num_slots: int = field(default=32, metadata={"help": "pseudo-query slots"})
    reconstructor_layers: int = 1
    interactor_layers: int = 1
    interactor_input: str = field(default="", metadata={
        "help": "tokens+pseudo | cls+pseudo-mean (default: the variant's; full: tokens+pseudo)"})
    reconstructor_attends_to: str = field(default="", metadata={
        "help": "tokens | cls (default: the variant's; full: tokens)"})
    interactor_gate: bool = field(default=False, metadata={
        "help": "identity start: passage vector p + g * (interactor - p), g learned from 0 (step 0 = the DE)"})
    query_max_length: int = 32
    passage_max_length: int = 192
    batch_size: int = field(default=8, metadata={"help": "queries per optimizer step, over all processes"})
    group_size: int = field(default=8, metadata={"help": "passages per query: 1 positive + hard negatives"})
    gradient_accumulation_steps: int = 1
    epochs: float = 1.0
    max_steps: int = field(default=0, metadata={"help": "if > 0, overrides epochs"})
    learning_rate: float = field(default=2e-5, metadata={"help": "for the encoders"})
    head_learning_rate: float = field(default=1e-3, metadata={"help": "for the reconstructor, interactor, vocab head"})
    optimizer: str = field(default="adamw", metadata={
        "help": "adamw | sgd (plain SGD: for debugging and exact comparisons; Adam's first step is sign(g) * lr, "
                "which turns round-off in gradients that are zero in theory into lr-sized steps)"})
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    rec_weight: float = field(default=0.1, metadata={"help": "lambda_rec"})
    rec_schedule: str = field(default="constant", metadata={"help": "constant | epoch-decay (lambda / 10^epoch)"})
    rec_targets: str = field(default="both", metadata={"help": "query | pseudo | both | none"})
    kd_weight: float = field(default=1.0, metadata={"help": "lambda_kd, used when the file has teacher scores"})
    lora_rank: int = field(default=0, metadata={
        "help": "if > 0: train peft LoRA adapters of this rank on the encoders (their weights frozen) and the "
                "I^3 heads in full; the output stores only adapters + heads over the checksummed base"})
    lora_alpha: float = field(default=0.0, metadata={"help": "LoRA scaling numerator (0: twice the rank)"})
    lora_dropout: float = 0.0
    lora_target_modules: str = field(default=DEFAULT_TARGETS, metadata={
        "help": "regex of the encoder layers that get adapters (default: BERT attention and feed-forward)"})
    gradient_checkpointing: bool = False
    seed: int = 42
    save_steps: int = field(default=0, metadata={"help": "checkpoint every N steps (0: only at the end)"})
    save_total_limit: int = 2
    logging_steps: int = 1
    resume: bool = field(default=False, metadata={"help": "continue from the latest checkpoint in output_dir"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    progress: bool = True

    def validate(self) -> None:
        from pyserini_i3.config import VARIANTS

        if self.variant not in VARIANTS:
            raise ValueError(f"--variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"--optimizer must be adamw or sgd, not {self.optimizer!r}")
        if self.rec_schedule not in ("constant", "epoch-decay"):
            raise ValueError(f"--rec-schedule must be constant or epoch-decay, not {self.rec_schedule!r}")
        from pyserini_i3.config import ATTENDS_TO, INTERACTOR_INPUTS

        if self.interactor_input and self.interactor_input not in INTERACTOR_INPUTS:
            raise ValueError(f"--interactor-input must be one of {', '.join(INTERACTOR_INPUTS)}")
        if self.reconstructor_attends_to and self.reconstructor_attends_to not in ATTENDS_TO:
            raise ValueError(f"--reconstructor-attends-to must be {' or '.join(ATTENDS_TO)}, "
                             f"not {self.reconstructor_attends_to!r}")
        if self.rec_targets not in REC_TARGETS:
            raise ValueError(f"--rec-targets must be one of {', '.join(REC_TARGETS)}")
        if self.batch_size < 1 or self.group_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("--batch-size, --group-size and --gradient-accumulation-steps must be at least 1")
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(f"--batch-size {self.batch_size} is not divisible by --gradient-accumulation-steps "
                             f"{self.gradient_accumulation_steps}")
        if self.lora_rank < 0:
            raise ValueError(f"--lora-rank must be 0 (full fine-tuning) or more, not {self.lora_rank}")
        if self.lora_rank:
            from pyserini_i3.config import is_i3_model_dir

            if is_i3_model_dir(self.base):
                raise ValueError(f"--lora-rank adds adapters to a plain backbone (the base the output is rebuilt "
                                 f"from), not to the I^3 model directory {self.base}")
        if not Path(self.train_file).is_file():
            raise ValueError(f"--train-file {self.train_file}: no such file")


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(args: TrainArguments):
    from pyserini_i3.config import is_i3_model_dir
    from pyserini_i3.model import I3Model

    if is_i3_model_dir(args.base):
        return I3Model.from_pretrained(args.base)
    layout = {k: v for k, v in (("interactor_input", args.interactor_input),
                                ("reconstructor_attends_to", args.reconstructor_attends_to)) if v}
    return I3Model.from_backbone(
        args.base, variant=args.variant, tied_encoders=args.tied_encoders, num_slots=args.num_slots,
        reconstructor_layers=args.reconstructor_layers, interactor_layers=args.interactor_layers,
        interactor_gate=args.interactor_gate, query_max_length=args.query_max_length, passage_max_length=args.passage_max_length, **layout,
    )


def build_optimizer(model, args: TrainArguments) -> torch.optim.Optimizer:
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        head = name.split(".", 1)[0] in HEAD_MODULES
        no_decay = param.ndim < 2  # biases and LayerNorm weights
        groups.setdefault((head, no_decay), []).append(param)
    params = [
        {"params": ps, "lr": args.head_learning_rate if head else args.learning_rate,
         "weight_decay": 0.0 if no_decay else args.weight_decay}
        for (head, no_decay), ps in sorted(groups.items())
    ]
    if args.optimizer == "sgd":
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
    root = output / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(), "python_rng": random.getstate(),
                "numpy_rng": np.random.get_state()}, tmp / "optimizer.pt")
    (tmp / STATE_FILE).write_text(json.dumps({"step": step}) + "\n")  # written last: marks it complete
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in _checkpoint_dirs(output)[:-limit] if limit > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _rec_weight(args: TrainArguments, epoch: int) -> float:
    return args.rec_weight / (10 ** epoch) if args.rec_schedule == "epoch-decay" else args.rec_weight


def _device(args: TrainArguments, ctx_local_rank: int) -> torch.device:
    if args.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", ctx_local_rank)
        return torch.device("cpu")
    return torch.device(args.device)


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
    output = Path(args.output_dir)
    try:
        set_seed(args.seed)
        problems = Problems()
        examples = read_training_file(args.train_file, problems)
        if ctx.is_main:
            skipped = ", ".join(problems.describe(kind) for kind in sorted(problems.counts))
            logger.info("%s: %d examples%s", args.train_file, len(examples), f" ({skipped} skipped)" if skipped else "")
        if not examples:
            raise ValueError(f"--train-file {args.train_file}: no usable training example")
        micro = args.batch_size // args.gradient_accumulation_steps
        if micro % ctx.world_size:
            raise ValueError(f"{micro} queries per micro-batch do not split over {ctx.world_size} processes")
        steps_per_epoch = len(examples) // args.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"--batch-size {args.batch_size} is larger than the {len(examples)} training examples")
        total = args.max_steps if args.max_steps > 0 else max(1, math.ceil(args.epochs * steps_per_epoch))

        model = build_model(args)
        if args.lora_rank:
            add_lora(model, args.lora_rank, args.lora_alpha, args.lora_dropout, args.lora_target_modules)
        model = model.to(device)
        model.train()
        if args.gradient_checkpointing:
            for enc in {id(model.passage_encoder): model.passage_encoder, id(model.query_model()): model.query_model()}.values():
                enc.gradient_checkpointing_enable()
        groups = TrainGroups(examples, args.group_size, args.seed, args.rec_targets)
        collate = Collator(model, args.query_max_length, args.passage_max_length)
        optimizer = build_optimizer(model, args)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)

        step = 0
        if args.resume and _checkpoint_dirs(output):
            last = _checkpoint_dirs(output)[-1]
            from pyserini_i3.model import I3Model

            if has_lora(model):
                load_trainable_state(model, last)
            else:
                model.load_weights(I3Model.from_pretrained(last).state_dict(), source=str(last))
            state = torch.load(last / "optimizer.pt", map_location="cpu", weights_only=False)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            random.setstate(state["python_rng"])
            np.random.set_state(state["numpy_rng"])
            step = json.loads((last / STATE_FILE).read_text())["step"]
            if ctx.is_main:
                _truncate_log(output / "train_log.jsonl", step)
            if ctx.is_main:
                logger.info("resuming from %s (step %d of %d)", last, step, total)
        elif ctx.is_main and output.exists() and _checkpoint_dirs(output) and not args.resume:
            logger.warning("%s has checkpoints; pass --resume to continue from them", output)

        if ctx.is_main:
            output.mkdir(parents=True, exist_ok=True)
            (output / "training_args.json").write_text(json.dumps(asdict(args), indent=2) + "\n")
        log_file = output / "train_log.jsonl"
        autocast, scaler = _amp(device)
        bar = None
        if ctx.is_main and args.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=step, desc="train", unit="step")
        start = time.time()
        while step < total:
            epoch, position = divmod(step, steps_per_epoch)
            order = epoch_order(len(examples), args.seed, epoch)
            batch_ids = order[position * args.batch_size:(position + 1) * args.batch_size]
            t0 = time.time()
            parts = {"loss": 0.0, "contrastive": 0.0, "reconstruction": 0.0, "distillation": 0.0}
            for a in range(args.gradient_accumulation_steps):
                micro_ids = batch_ids[a * micro:(a + 1) * micro]
                share = micro // ctx.world_size
                local = micro_ids[ctx.rank * share:(ctx.rank + 1) * share]
                batch = collate([groups.group(i, epoch) for i in local])
                batch = _to(batch, device)
                with autocast:
                    out = model(**batch, reconstruction_weight=_rec_weight(args, epoch),
                                distillation_weight=args.kd_weight, distributed=ctx)
                loss = out.loss / args.gradient_accumulation_steps
                (scaler.scale(loss) if scaler else loss).backward()
                for k, v in out.components().items():
                    parts[k] += v / args.gradient_accumulation_steps
            ctx.average_gradients(model)
            if scaler:
                scaler.unscale_(optimizer)
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
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
                          "queries_per_s": round(args.batch_size / seconds, 3),
                          "passages_per_s": round(args.batch_size * args.group_size / seconds, 3),
                          "elapsed_s": round(time.time() - start, 2)}
                if step % args.logging_steps == 0 or step == total:
                    with open(log_file, "a") as f:
                        f.write(json.dumps(record) + "\n")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['loss']:.4f}")
                if args.save_steps > 0 and step % args.save_steps == 0 and step < total:
                    save_checkpoint(model, optimizer, scheduler, step, output, args.save_total_limit)
            ctx.barrier()
        if bar is not None:
            bar.close()
        if ctx.is_main:
            model.eval()
            model.save_pretrained(output)
        ctx.barrier()
        return output
    finally:
        if own_ctx:
            shutdown(ctx)


def _truncate_log(log_file: Path, step: int) -> None:
    """Drop records of steps after the checkpoint we resume from (they are redone)."""
    if not log_file.is_file():
        return
    kept = [line for line in log_file.read_text().splitlines(keepends=True)
            if line.strip() and json.loads(line).get("step", 0) <= step]
    tmp = log_file.with_suffix(".tmp")
    tmp.write_text("".join(kept))
    os.replace(tmp, log_file)


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
