"""``train(args)``: a training run from its arguments to a model directory, on :class:`I3Trainer`.

Reads the training file (and holds out validation queries), builds the model (LoRA
adapters if asked), lays the run's groups out in seeded order, hands all of it to the
Trainer, and writes the output: an I^3 model directory (``--encoder DIR`` in Pyserini)
with ``training_args.json``, ``train_log.jsonl``, ``validation.json`` when there is a
validation set, and the Trainer's ``checkpoint-N/`` folders.  With a validation set, the
output is the step the guard kept, or the base itself when no step beat it.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from transformers.trainer_callback import PrinterCallback, ProgressCallback

from pyserini_i3.modeling.delta import add_lora
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.modeling.storage import is_i3_model_dir
from pyserini_i3.training.arguments import TrainArguments
from pyserini_i3.training.batching import Collator, StepDataset, TrainGroups
from pyserini_i3.training.callbacks import (
    GuardCallback,
    QuietProgressCallback,
    SeededStartCallback,
    TrainLogCallback,
    evaluation_steps,
)
from pyserini_i3.training.examples import read_training_file
from pyserini_i3.training.teacher import base_teacher
from pyserini_i3.training.trainer import I3Trainer, load_saved
from pyserini_i3.training.validation import AUTO_MIN_QUERIES, Validator, hold_out, validation_query_count
from pyserini_i3.utils.files import write_atomic
from pyserini_i3.utils.formats import Problems

logger = logging.getLogger(__name__)


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


def last_checkpoint(output: Path, processes: int = 1) -> Path | None:
    """The newest complete ``checkpoint-N``: its ``trainer_state.json`` (the main process's last file) and the
    random state of each of ``processes`` processes are there."""
    rng = ["rng_state.pth"] if processes == 1 else [f"rng_state_{i}.pth" for i in range(processes)]
    done = [d for d in output.glob("checkpoint-*") if d.name[11:].isdigit()
            and all((d / name).is_file() for name in ("trainer_state.json", *rng))]
    return max(done, key=lambda d: int(d.name[11:])) if done else None


def train(args: TrainArguments) -> Path:
    """Train; returns the output directory (a loadable I^3 model directory)."""
    from transformers import set_seed

    args.validate()
    t = args.training
    output = Path(t.output_dir)
    set_seed(t.seed)
    problems = Problems()
    examples = read_training_file(args.data.train_file, problems)
    main = t.process_index == 0
    if main:
        skipped = ", ".join(problems.describe(kind) for kind in sorted(problems.counts))
        logger.info("%s: %d examples%s", args.data.train_file, len(examples),
                    f" ({skipped} skipped)" if skipped else "")
    if not examples:
        raise ValueError(f"--train-file {args.data.train_file}: no usable training example")
    examples, validator = _validation_set(args, examples, main)
    if t.n_gpu > 1:  # the Trainer would wrap the model in nn.DataParallel, which gathers no in-batch negatives
        raise ValueError(f"{t.n_gpu} GPUs are visible to one process: launch one process per GPU (torchrun "
                         f"--nproc_per_node {t.n_gpu} -m pyserini_i3 train ...), or pick one with CUDA_VISIBLE_DEVICES")
    if t.deepspeed and t.hf_deepspeed_config.is_zero3():
        raise ValueError(f"--deepspeed {t.deepspeed}: ZeRO-3 shards the parameters, and the guard's evaluation and "
                         "the model directory are written from the main process's copy: use ZeRO-2 "
                         "(docs/ds_zero2.json)")
    micro = t.batch_size // t.gradient_accumulation_steps
    if micro % t.world_size:
        raise ValueError(f"{micro} queries per micro-batch do not split over {t.world_size} processes")
    groups = TrainGroups(examples, args.data.group_size, t.seed, args.data.rec_targets, args.data.positive_sampling)
    steps_per_epoch = len(groups) // t.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"--batch-size {t.batch_size} is larger than the {len(groups)} training examples")
    total = t.max_steps if t.max_steps > 0 else max(1, math.ceil(t.epochs * steps_per_epoch))

    model = build_model(args)
    if args.model.lora_rank:
        add_lora(model, args.model.lora_rank, args.model.lora_alpha, args.model.lora_dropout,
                 args.model.lora_target_modules)
    teacher = _base_teacher(args, examples).to(t.device) if t.kd_from_base else None
    model.train()
    seeded = SeededStartCallback()  # the random state the model was built in (the Trainer reseeds)

    found = last_checkpoint(output, t.world_size)
    resume = str(t.resume_from_checkpoint) if t.resume_from_checkpoint else None
    if t.resume and not resume and found:
        resume = str(found)
    if not resume and found and main:
        logger.warning("%s has checkpoints; pass --resume true to continue from them", output)
    t.max_steps, t.per_device_train_batch_size = total, micro // t.world_size
    if not t.warmup_steps:
        t.warmup_steps = int(t.warmup_ratio * total)
    callbacks = [TrainLogCallback(output / "train_log.jsonl")]
    if validator is not None:
        every = t.eval_steps or max(1, total // 4)
        base = (lambda: base_teacher(args.model.base)) if _base_is_the_reference(args, model) else None
        looks = len(evaluation_steps(total, every)) + (base is not None)
        callbacks.append(GuardCallback(validator, output, t.validation_metric, t.validation_significance, every,
                                       looks, base))
        t.eval_on_start = not resume
    if not resume:
        callbacks.append(seeded)
    trainer = I3Trainer(model=model, args=t, train_dataset=StepDataset(groups, t.batch_size, total, t.seed),
                        data_collator=Collator(model, args.data.query_max_length, args.data.passage_max_length,
                                               judged=args.data.other_positives != "keep"),
                        callbacks=callbacks, teacher=teacher, validator=validator, steps_per_epoch=steps_per_epoch,
                        other_positives=args.data.other_positives)
    for noisy in (ProgressCallback, PrinterCallback):  # they print every log; the bar shows the loss instead
        trainer.remove_callback(noisy)
    if not t.disable_tqdm:
        trainer.add_callback(QuietProgressCallback)
    if main:
        output.mkdir(parents=True, exist_ok=True)
        write_atomic(output / "training_args.json", json.dumps(args.to_dict(), indent=2) + "\n")
        if resume:
            logger.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    if main:
        _write_output(args, trainer, model, output)
    trainer.accelerator.wait_for_everyone()
    return output


def _write_output(args: TrainArguments, trainer: I3Trainer, model: I3Model, output: Path) -> None:
    """The final model directory: the last step, the step the guard kept, or the base."""
    guard = next((c for c in trainer.callback_handler.callbacks if isinstance(c, GuardCallback)), None)
    tracker = guard.tracker if guard is not None else None
    t, step = args.training, trainer.state.global_step
    if tracker is not None and t.keep_best and tracker.kept is None:
        # no step beat the base, the reference, on the validation queries: the output is the base
        logger.warning("no trained step beats the base on the validation queries by a one-sided paired t-test at "
                       "%s (Bonferroni over %d looks): the output is the base itself, as a DE",
                       t.validation_significance, tracker.looks)
        tracker.write("base")
        model = base_teacher(args.model.base)
    elif tracker is not None:
        selected = tracker.kept["step"] if t.keep_best else step
        if selected != step:
            load_saved(model, tracker.dir)
            logger.info("keeping step %d (best %s on validation), not step %d", selected, t.validation_metric, step)
        tracker.write(selected)
    model.eval()
    model.save_pretrained(output)


def _validation_set(args: TrainArguments, examples: list, is_main: bool) -> tuple[list, Validator | None]:
    """(training examples, validator or None): ``--validation-file``, or ``--validation-queries`` held out."""
    held = None
    if args.data.validation_file:
        held = read_training_file(args.data.validation_file, Problems())
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


def _base_teacher(args: TrainArguments, examples: list) -> I3Model:
    """``--kd-from-base``: the frozen base, which scores each group on the fly (one-line error if the file has
    teacher scores of its own: one teacher at a time)."""
    if any(p.score is not None for ex in examples for p in ex.positive_passages + ex.negative_passages):
        raise ValueError(f"--kd-from-base: --train-file {args.data.train_file} has teacher scores of its own; "
                         "distil from one or the other")
    return base_teacher(args.model.base)
