"""Training groups, the run's data order, and their collation into model inputs (Tevatron's shape).

A group is one query with ``group_size`` passages: one positive first, then hard
negatives.  Sampling depends only on (seed, epoch, example index), and
:class:`StepDataset` lays the whole run out in step order, so a run is repeatable, a
resumed run sees the same data as an uninterrupted one (the Trainer skips the batches
already trained on), and N processes that each take a contiguous slice of every batch see
together what one process sees.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pyserini_i3.modeling.losses import passage_id
from pyserini_i3.training.examples import Passage, TrainingExample

REC_TARGETS = ("query", "pseudo", "both", "none")
POSITIVE_SAMPLING = ("one", "each")


@dataclass
class Group:
    query: str
    passages: list[Passage]
    rec_targets: list[str | None]  # per passage: reconstruction target text, or None
    teacher_scores: list[float] | None  # per passage, when every passage has one
    relevant: tuple[str, ...] = ()  # the docids the training file judges relevant to the query


class TrainGroups:
    """Samples a :class:`Group` per training example, deterministically.

    ``positives``: ``one`` (an item per example, its positive drawn each epoch) or ``each`` (an
    item per judged positive of each example: an epoch visits every (query, positive) pair, as a
    file of one pair per line would, so a query with many judged positives trains on all of them).
    """

    def __init__(self, examples: Sequence[TrainingExample], group_size: int, seed: int = 42,
                 rec_targets: str = "both", positives: str = "one"):
        if group_size < 1:
            raise ValueError(f"group_size must be at least 1, not {group_size}")
        if rec_targets not in REC_TARGETS:
            raise ValueError(f"rec_targets must be one of {', '.join(REC_TARGETS)}, not {rec_targets!r}")
        if positives not in POSITIVE_SAMPLING:
            raise ValueError(f"positives must be one of {', '.join(POSITIVE_SAMPLING)}, not {positives!r}")
        if not examples:
            raise ValueError("no training examples")
        self.examples = list(examples)
        self.items: list[tuple[int, int | None]] = [  # (example, its positive; None: drawn)
            (i, j) for i, ex in enumerate(self.examples)
            for j in (range(len(ex.positive_passages)) if positives == "each" else [None])]
        self.group_size = group_size
        self.seed = seed
        self.rec_targets = rec_targets
        self._pool: list[Passage] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def _fill_pool(self) -> list[Passage]:
        """Every passage of the file, for queries with too few negatives."""
        if self._pool is None:
            seen: dict[str, Passage] = {}
            for ex in self.examples:
                for p in ex.positive_passages + ex.negative_passages:
                    seen.setdefault(p.docid, p)
            self._pool = [seen[k] for k in sorted(seen)]
        return self._pool

    def _target(self, passage: Passage, query: str, positive: bool) -> str | None:
        use_query = self.rec_targets in ("query", "both")
        use_pseudo = self.rec_targets in ("pseudo", "both")
        if positive and use_query:
            return query
        if use_pseudo and passage.pseudo_query:
            return passage.pseudo_query
        return None

    def group(self, index: int, epoch: int) -> Group:
        which, fixed = self.items[index]
        ex = self.examples[which]
        rng = random.Random(f"{self.seed}:{epoch}:{index}")
        positive = rng.choice(ex.positive_passages) if fixed is None else ex.positive_passages[fixed]
        wanted = self.group_size - 1
        negatives = list(ex.negative_passages)
        if len(negatives) >= wanted:
            chosen = rng.sample(negatives, wanted)
        else:
            own = {p.docid for p in ex.positive_passages} | {p.docid for p in negatives}
            extra = [p for p in self._fill_pool() if p.docid not in own]
            chosen = negatives + (rng.sample(extra, min(len(extra), wanted - len(negatives))) if extra else [])
            while len(chosen) < wanted:  # tiny files: repeat what there is
                chosen.append(rng.choice(negatives or [positive]))
        passages = [positive] + chosen
        targets = [self._target(p, ex.query, i == 0) for i, p in enumerate(passages)]
        scores = [p.score for p in passages]
        teacher = None if any(s is None for s in scores) else [float(s) for s in scores]
        return Group(ex.query, passages, targets, teacher, tuple(p.docid for p in ex.positive_passages))


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


class StepDataset(torch.utils.data.Dataset):
    """The groups of a run of ``steps`` optimizer steps of ``batch_size`` queries, in training order.

    Item ``k`` is query ``k % batch_size`` of step ``k // batch_size``: each epoch is a
    seeded permutation of the examples (:func:`epoch_order`), cut into whole batches (the
    remainder is dropped), and a run longer than an epoch goes on into the next one.
    Read sequentially in batches of ``batch_size / (accumulation x processes)`` and dealt
    round-robin over the processes (what ``accelerate`` does to a sequential sampler), each
    process gets a contiguous slice of each micro-batch.
    """

    def __init__(self, groups: TrainGroups, batch_size: int, steps: int, seed: int):
        self.groups, self.batch_size, self.steps, self.seed = groups, batch_size, steps, seed
        self.steps_per_epoch = len(groups) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"--batch-size {batch_size} is larger than the {len(groups)} training examples")
        self._orders: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self.steps * self.batch_size

    def __getitem__(self, k: int) -> Group:
        step, j = divmod(k, self.batch_size)
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch not in self._orders:
            self._orders = {epoch: epoch_order(len(self.groups), self.seed, epoch)}
        return self.groups.group(self._orders[epoch][position * self.batch_size + j], epoch)


class Collator:
    """Groups -> the keyword arguments of ``I3Model.forward`` (with ``judged``: the passages' and each
    query's judged-relevant ids, for ``--other-positives mask|positive``)."""

    def __init__(self, model, query_max_length: int, passage_max_length: int, judged: bool = False):
        self.model = model
        self.query_max_length = query_max_length
        self.passage_max_length = passage_max_length
        self.judged = judged

    def __call__(self, groups: Sequence[Group]) -> dict:
        model = self.model
        queries = [g.query for g in groups]
        passages = [model.join_title(p.text, p.title) for g in groups for p in g.passages]
        batch = {
            "query_inputs": model.tokenize(queries, self.query_max_length),
            "passage_inputs": model.tokenize(passages, self.passage_max_length),
        }
        if getattr(model, "vocab_head", None) is not None:  # always, even all ignored: under DDP every process
            # then counts the batch's target tokens together (model.forward), whatever its own slice holds
            batch["reconstruction_labels"] = model.reconstruction_labels([t for g in groups for t in g.rec_targets])
        if all(g.teacher_scores is not None for g in groups):
            batch["teacher_scores"] = torch.tensor([g.teacher_scores for g in groups], dtype=torch.float32)
        if self.judged:
            batch["passage_ids"] = torch.tensor([passage_id(p.docid) for g in groups for p in g.passages])
            width = max(len(g.relevant) for g in groups)
            batch["positive_ids"] = torch.tensor([[passage_id(d) for d in g.relevant] + [-1] * (width - len(g.relevant))
                                                  for g in groups])
        return batch
