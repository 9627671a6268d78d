"""The arguments of ``python -m pyserini_i3 train``: model, data and training, as Tevatron splits them.

Each dataclass is one group of ``HfArgumentParser``'s options (``--help`` lists them
by group); the training group extends ``transformers.TrainingArguments``, so the
Trainer's own flags are there too.  :class:`TrainArguments` holds the three and checks
them together.  ``training_args.json`` in the output directory is their union, one flat
object.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import transformers

from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
from pyserini_i3.modeling.delta import DEFAULT_TARGETS


@dataclass
class ModelArguments:
    """What model to build: the backbone, the I^3 layout, LoRA."""

    base: str = field(default=DEFAULT_BACKBONE,
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
    interactor_gate: str = field(default="none", metadata={
        "help": "identity start: none | scalar (passage vector p + g * (interactor - p), g learned from 0) | "
                "linear (p + W (interactor - p), a d x d W learned from 0); step 0 = the DE "
                "(true / false: scalar / none)"})
    lora_rank: int = field(default=0, metadata={
        "help": "if > 0: train peft LoRA adapters of this rank on the encoders (their weights frozen) and the "
                "I^3 heads in full; the output stores only adapters + heads over the checksummed base"})
    lora_alpha: float = field(default=0.0, metadata={"help": "LoRA scaling numerator (0: twice the rank)"})
    lora_dropout: float = 0.0
    lora_target_modules: str = field(default=DEFAULT_TARGETS, metadata={
        "help": "regex of the encoder layers that get adapters (default: BERT attention and feed-forward)"})


@dataclass
class DataArguments:
    """The training file and how its examples become batches."""

    train_file: str = field(metadata={"help": "Tevatron-shaped JSONL (python -m pyserini_i3 prepare)"})
    query_max_length: int = 32
    passage_max_length: int = 192
    group_size: int = field(default=8, metadata={"help": "passages per query: 1 positive + hard negatives"})
    rec_targets: str = field(default="both", metadata={"help": "query | pseudo | both | none"})
    positive_sampling: str = field(default="one", metadata={
        "help": "one: an epoch visits each query once, with one of its judged positives drawn; each: an epoch "
                "visits every (query, positive) pair, so a query with many positives trains on all of them"})
    other_positives: str = field(default="keep", metadata={
        "help": "a passage of the batch (in-batch or hard negative) that the training file judges relevant to a "
                "query, besides the positive drawn for it: keep (a negative, plain in-batch InfoNCE), mask (left "
                "out of that query's softmax) or positive (multi-positive InfoNCE)"})
    validation_file: str = field(default="", metadata={
        "help": "Tevatron-shaped JSONL of held-out queries: evaluated during training (nDCG@10, MRR@10 over "
                "the pooled passages of its examples), the best step kept"})
    validation_queries: str = field(default="auto", metadata={
        "help": "N (and no --validation-file): hold out N queries of --train-file, drawn with --seed, as the "
                "validation set; they are not trained on. auto: a tenth of the queries, at least 80 and at most "
                "500, when the file has 400 queries or more, else none; 0: none"})


@dataclass
class TrainingArguments(transformers.TrainingArguments):
    """The optimisation: transformers' ``TrainingArguments`` (``--bf16``, ``--deepspeed``, ``--report_to``,
    ``--save_steps``, ``--logging_steps``, ``--dataloader_num_workers``, ...) with I^3's own options and defaults.

    ``--batch-size`` is the number of queries per optimizer step over all processes and
    accumulation steps; ``per_device_train_batch_size`` is derived from it.  The options
    redefined here keep the meaning they had before the Trainer: ``--max-steps 0`` means
    ``--epochs``, ``--save-steps 0`` saves no checkpoint, ``--eval-steps 0`` evaluates four
    times over the run, ``--device`` is auto / cpu / cuda.
    """

    output_dir: str = field(default=None, metadata={"help": "where the trained model directory is written"})
    batch_size: int = field(default=8, metadata={"help": "queries per optimizer step, over all processes"})
    epochs: float = 1.0
    max_steps: int = field(default=0, metadata={"help": "if > 0, overrides epochs"})
    learning_rate: float = field(default=2e-5, metadata={"help": "for the encoders"})
    head_learning_rate: float = field(default=1e-3, metadata={"help": "for the reconstructor, interactor, vocab head"})
    gate_learning_rate: float = field(default=0.0, metadata={
        "help": "for the identity start's gate (--interactor-gate; 0: --head-learning-rate): how fast the "
                "interactor's share of the passage vector may open"})
    optimizer: str = field(default="adamw", metadata={
        "help": "adamw (the Trainer's --optim, by default plain torch AdamW) | sgd (plain SGD: for debugging and "
                "exact comparisons; Adam's first step is sign(g) * lr, which turns round-off in gradients that are "
                "zero in theory into lr-sized steps)"})
    optim: str = field(default="adamw_torch", metadata={
        "help": "the Trainer's optimizer for --optimizer adamw (adamw_torch: the unfused AdamW, whose round-off "
                "the committed results were trained with)"})
    weight_decay: float = 0.01
    warmup_ratio: float = field(default=0.1, metadata={
        "help": "linear warmup over int(ratio x steps) steps (the Trainer's --warmup_steps wins when > 0)"})
    rec_weight: float = field(default=0.1, metadata={"help": "lambda_rec"})
    rec_schedule: str = field(default="constant", metadata={"help": "constant | epoch-decay (lambda / 10^epoch)"})
    rec_loss: str = field(default="slots", metadata={
        "help": "slots: slot i predicts the target's token i (the paper's); bag: the slots' pooled distribution "
                "predicts every token of the target, in any order"})
    kd_weight: float = field(default=1.0, metadata={
        "help": "lambda_kd, used when the file has teacher scores or with --kd-from-base"})
    kd_from_base: bool = field(default=False, metadata={
        "help": "distil from the base itself: KL to the frozen --base model's own scores (as a plain dual "
                "encoder) of each query's group, computed on the fly: what teacher-scores --teacher BASE writes "
                "into a file, without the file"})
    seed: int = 42
    eval_steps: int = field(default=0, metadata={
        "help": "with a validation set: evaluate at step 0 and every N steps and at the end (0: every quarter "
                "of the run, N = steps // 4)"})
    validation_metric: str = field(default="ndcg@10", metadata={"help": "ndcg@10 | mrr@10: what 'best' means"})
    validation_significance: float = field(default=0.05, metadata={
        "help": "with a validation set: a trained step replaces the start only when it beats it by a one-sided "
                "paired t-test on the per-query validation scores at this family-wise level (Bonferroni over the "
                "run's evaluations); a start that is not the base (random I^3 heads) is replaced by the base "
                "itself as the reference, so the output never falls below the base on the validation queries; "
                "0: any higher mean replaces the start"})
    keep_best: bool = field(default=True, metadata={
        "help": "with a validation set: the output is the best evaluated step (step 0, the untrained start, "
                "included), not the last; validation.json in the output records every evaluation"})
    save_steps: int = field(default=0, metadata={
        "help": "a Trainer checkpoint (OUTPUT/checkpoint-N) every N steps and at the end (0: none)"})
    save_total_limit: int = 2
    logging_steps: int = 1
    resume: bool = field(default=False, metadata={
        "help": "continue from the latest complete checkpoint-N in output_dir (or --resume_from_checkpoint DIR)"})
    train_device: str = field(default="auto", metadata={"aliases": ["--device"], "help": "auto | cpu | cuda"})
    progress: bool = True
    report_to: str = field(default="none", metadata={"help": "none | tensorboard | wandb | ... (the Trainer's)"})

    def __post_init__(self):
        if self.train_device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"--device must be auto, cpu or cuda, not {self.train_device!r}")
        # auto without CUDA is the CPU (then torchrun's processes form a gloo group, as accelerate's MULTI_CPU)
        import torch

        self.use_cpu = self.use_cpu or self.train_device == "cpu" or (
            self.train_device == "auto" and not torch.cuda.is_available())
        self.disable_tqdm = self.disable_tqdm or not self.progress
        if self.save_steps <= 0:
            self.save_strategy = "no"
        self.remove_unused_columns = False  # the collator's batch is the model's keyword arguments
        super().__post_init__()


@dataclass
class TrainArguments:
    """The three groups of a training run."""

    model: ModelArguments
    data: DataArguments
    training: TrainingArguments

    def to_dict(self) -> dict:
        """The union of the three groups (``training_args.json``)."""
        return {**asdict(self.model), **asdict(self.data), **json.loads(self.training.to_json_string())}

    def validate(self) -> None:
        from pyserini_i3.modeling.config import VARIANTS

        if self.model.variant not in VARIANTS:
            raise ValueError(f"--variant must be one of {', '.join(VARIANTS)}, not {self.model.variant!r}")
        if self.training.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"--optimizer must be adamw or sgd, not {self.training.optimizer!r}")
        if self.training.rec_schedule not in ("constant", "epoch-decay"):
            raise ValueError(f"--rec-schedule must be constant or epoch-decay, not {self.training.rec_schedule!r}")
        from pyserini_i3.modeling.config import ATTENDS_TO, INTERACTOR_INPUTS

        if self.model.interactor_input and self.model.interactor_input not in INTERACTOR_INPUTS:
            raise ValueError(f"--interactor-input must be one of {', '.join(INTERACTOR_INPUTS)}")
        if self.model.reconstructor_attends_to and self.model.reconstructor_attends_to not in ATTENDS_TO:
            raise ValueError(f"--reconstructor-attends-to must be {' or '.join(ATTENDS_TO)}, "
                             f"not {self.model.reconstructor_attends_to!r}")
        from pyserini_i3.training.batching import REC_TARGETS

        if self.data.rec_targets not in REC_TARGETS:
            raise ValueError(f"--rec-targets must be one of {', '.join(REC_TARGETS)}")
        from pyserini_i3.modeling.losses import OTHER_POSITIVES
        from pyserini_i3.training.batching import POSITIVE_SAMPLING

        if self.data.positive_sampling not in POSITIVE_SAMPLING:
            raise ValueError(f"--positive-sampling must be one of {', '.join(POSITIVE_SAMPLING)}, "
                             f"not {self.data.positive_sampling!r}")

        from pyserini_i3.modeling.losses import RECONSTRUCTION_TARGETS

        if self.training.rec_loss not in RECONSTRUCTION_TARGETS:
            raise ValueError(f"--rec-loss must be one of {', '.join(RECONSTRUCTION_TARGETS)}, "
                             f"not {self.training.rec_loss!r}")
        if self.data.other_positives not in OTHER_POSITIVES:
            raise ValueError(f"--other-positives must be one of {', '.join(OTHER_POSITIVES)}, "
                             f"not {self.data.other_positives!r}")
        if self.training.batch_size < 1 or self.data.group_size < 1 or self.training.gradient_accumulation_steps < 1:
            raise ValueError("--batch-size, --group-size and --gradient-accumulation-steps must be at least 1")
        if self.training.batch_size % self.training.gradient_accumulation_steps:
            raise ValueError(f"--batch-size {self.training.batch_size} is not divisible by "
                             f"--gradient-accumulation-steps {self.training.gradient_accumulation_steps}")
        if self.model.lora_rank < 0:
            raise ValueError(f"--lora-rank must be 0 (full fine-tuning) or more, not {self.model.lora_rank}")
        if self.model.lora_rank:
            from pyserini_i3.modeling.storage import is_i3_model_dir

            if is_i3_model_dir(self.model.base):
                raise ValueError(f"--lora-rank adds adapters to a plain backbone (the base the output is rebuilt "
                                 f"from), not to the I^3 model directory {self.model.base}")
        from pyserini_i3.training.validation import METRICS

        if self.training.validation_metric not in METRICS:
            raise ValueError(f"--validation-metric must be one of {', '.join(METRICS)}, "
                             f"not {self.training.validation_metric!r}")
        if not 0.0 <= self.training.validation_significance < 1.0:
            raise ValueError("--validation-significance must be in [0, 1), not "
                             f"{self.training.validation_significance}")
        held = self.data.validation_queries
        if held != "auto" and not held.isdigit():
            raise ValueError(f"--validation-queries must be auto or a count (0: none), not {held!r}")
        if self.training.eval_steps < 0:
            raise ValueError(f"--eval-steps must be 0 or more, not {self.training.eval_steps}")
        if self.data.validation_file and held not in ("auto", "0"):
            raise ValueError("give --validation-file or --validation-queries, not both")
        if self.data.validation_file and not Path(self.data.validation_file).is_file():
            raise ValueError(f"--validation-file {self.data.validation_file}: no such file")
        if not self.training.output_dir:
            raise ValueError("--output-dir is required")
        if self.training.train_device == "cuda" and not self.training.device.type == "cuda":
            raise ValueError("--device cuda: no CUDA device here")
        if not Path(self.data.train_file).is_file():
            raise ValueError(f"--train-file {self.data.train_file}: no such file")
