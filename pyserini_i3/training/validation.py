"""Validation during training, and the best step kept (as the I^3 authors selected by dev MRR@10).

The validation set is Tevatron-shaped examples: a ``--validation-file``, or
``--validation-queries N`` queries drawn from the training file with the seed (they are
then not trained on; ``auto``, the default, is :func:`validation_query_count`).
Its corpus is the union of the examples' positive and negative passages; every query is
ranked over all of it with the model's own ``encode_queries`` /
``encode_passages`` and a dot product, and the run (each query's top 10) is scored by
:mod:`pyserini_i3.utils.trec` (pytrec_eval), the examples' positives being the relevant
passages: nDCG@10 and MRR@10.  A few hundred passages, not a full index, so an
evaluation costs seconds to a minute on a CPU.

Evaluations (step 0, the untrained start, included) go to ``validation.json`` in the
output directory; the best one so far is kept in ``best-step/``.  Encoding runs in
eval mode and draws no random numbers, so validating does not change training itself.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

from pyserini_i3.training.examples import TrainingExample
from pyserini_i3.utils import trec
from pyserini_i3.utils.files import atomic_dir, write_atomic

METRICS = {"ndcg@10": "ndcg_cut_10", "mrr@10": "recip_rank"}  # name -> pytrec_eval measure
RECORD = "validation.json"
KEPT = "validation_step.json"  # in best-step/: the step and scores of the model there


AUTO_MIN_QUERIES = 400  # --validation-queries auto: files with fewer queries train on all of them
AUTO_HELD = (80, 500)  # ... else a tenth of the queries, clamped to this range


def validation_query_count(setting: str, queries: int) -> int:
    """How many queries ``--validation-queries SETTING`` holds out of a file with ``queries`` query ids:
    the number itself, or for ``auto`` a tenth (80 to 500) when there are 400 or more, else 0."""
    if setting != "auto":
        return int(setting)
    if queries < AUTO_MIN_QUERIES:
        return 0
    return min(max(queries // 10, AUTO_HELD[0]), AUTO_HELD[1])


def hold_out(examples: Sequence[TrainingExample], n: int, seed: int
             ) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """(training, held-out): ``n`` query ids drawn with ``seed``; every example of a drawn id is held out."""
    ids = sorted({ex.query_id for ex in examples})
    if n >= len(ids):
        raise ValueError(f"--validation-queries {n} leaves no training query (the file has {len(ids)})")
    drawn = set(random.Random(seed).sample(ids, n))
    return ([ex for ex in examples if ex.query_id not in drawn], [ex for ex in examples if ex.query_id in drawn])


class Validator:
    """Ranks each validation query over the pooled passages of all of them and scores the run."""

    def __init__(self, examples: Sequence[TrainingExample], query_max_length: int, passage_max_length: int,
                 batch_size: int = 64):
        if not examples:
            raise ValueError("the validation set has no usable example")
        self.queries: dict[str, str] = {}
        self.qrels: dict[str, dict[str, int]] = {}
        pool: dict = {}
        for ex in examples:
            self.queries.setdefault(ex.query_id, ex.query)
            relevant = self.qrels.setdefault(ex.query_id, {})
            for p in ex.positive_passages:
                relevant[p.docid] = 1
                pool.setdefault(p.docid, p)
            for p in ex.negative_passages:
                pool.setdefault(p.docid, p)
        self.docids = list(pool)
        self.passages = [pool[d] for d in self.docids]
        self.query_max_length, self.passage_max_length, self.batch_size = (
            query_max_length, passage_max_length, batch_size)

    def __len__(self) -> int:
        return len(self.queries)

    def evaluate(self, model) -> dict[str, float]:
        """Mean nDCG@10 and MRR@10 of ``model`` (left in the train/eval mode it came in)."""
        return means(self.evaluate_per_query(model))

    def evaluate_per_query(self, model) -> dict[str, dict[str, float]]:
        """Per metric, each validation query's score (``model`` is left in the train/eval mode it came in)."""
        was_training = model.training
        model.eval()
        try:
            qids = list(self.queries)
            q = model.encode_queries([self.queries[i] for i in qids], batch_size=self.batch_size,
                                     max_length=self.query_max_length)
            p = model.encode_passages([x.text for x in self.passages], [x.title for x in self.passages],
                                      batch_size=self.batch_size, max_length=self.passage_max_length)
        finally:
            model.train(was_training)
        run = trec.dense_run(qids, self.docids, q @ p.T, 10)
        per_query = trec.evaluate(self.qrels, run, METRICS.values())
        return {name: per_query[m] for name, m in METRICS.items()}


def means(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the queries, rounded as ``validation.json`` records it."""
    return trec.means(per_query, digits=6)


def one_sided_p(candidate: dict[str, float], start: dict[str, float]) -> float:
    """p-value of a one-sided paired t-test that ``candidate`` scores higher than ``start`` on the same queries
    (1.0 when every difference is zero)."""
    return trec.paired_t(candidate, start, alternative="greater")["p"]


class BestStep:
    """The evaluations of one run (``validation.json``) and the best model so far (``best-step/``).

    A later step replaces the kept model only when it scores strictly higher by ``metric``,
    so ties keep the earlier (less trained) one.  With ``significance`` > 0 it must also beat
    the first evaluation (the start: step 0) by a one-sided paired t-test on the per-query
    scores, so a step that is better by chance on a few queries does not replace the start.
    The run looks ``looks`` times (every tested evaluation) and keeps the best of them, so
    each test is made at ``significance / looks`` (Bonferroni): the chance that a run whose
    steps are no better than the start keeps one of them is at most ``significance``.
    A fresh run removes an old ``best-step/``; ``--resume`` reads
    the record back (cut to the steps up to the checkpoint resumed from) and keeps the saved
    best model, whichever step it is from.
    """

    def __init__(self, output: Path, metric: str, queries: int, resume_step: int = 0, significance: float = 0.0,
                 looks: int = 1):
        if metric not in METRICS:
            raise ValueError(f"--validation-metric must be one of {', '.join(METRICS)}, not {metric!r}")
        if not 0.0 <= significance < 1.0:
            raise ValueError(f"--validation-significance must be in [0, 1), not {significance}")
        output = Path(output)
        self.path, self.dir = output / RECORD, output / "best-step"
        if looks < 1:
            raise ValueError(f"looks must be at least 1, not {looks}")
        self.metric, self.queries, self.significance, self.looks = metric, queries, significance, looks
        self.evaluations: list[dict] = []
        self.start: dict[str, float] | None = None  # per-query scores of the reference (the start, or the base)
        self.reference = "start"  # or "base": set_reference, when the model's start is not its base
        self.kept: dict | None = None  # the evaluation of the model in self.dir
        if not resume_step:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        if self.path.is_file():
            saved = json.loads(self.path.read_text())
            self.evaluations = [e for e in saved.get("evaluations", [])
                                if e["step"] == "base" or e["step"] <= resume_step]
            self.start = saved.get("start_per_query")
            self.reference = saved.get("reference", "start")
        if (self.dir / KEPT).is_file():
            self.kept = json.loads((self.dir / KEPT).read_text())

    def set_reference(self, per_query: dict[str, dict[str, float]], scores: dict[str, float]) -> None:
        """Test every step, step 0 included, against the base's scores instead of the start's (a model whose
        start is not its base); if none beats it, ``kept`` stays None and the output is the base."""
        self.start, self.reference = per_query[self.metric], "base"
        self.evaluations.append({"step": "base", **scores})
        self.write()

    def record(self, step: int, scores: dict[str, float], model,
               per_query: dict[str, dict[str, float]] | None = None) -> bool:
        """Add an evaluation of ``model`` at ``step`` (with each query's scores, which the significance test
        needs); saves it as the best when it is.  True if it was."""
        entry = {"step": step, **scores}
        if per_query is not None and self.start is None:
            self.start = per_query[self.metric]
        elif per_query is not None and self.significance:
            entry["p_vs_start"] = round(one_sided_p(per_query[self.metric], self.start), 6)
        self.evaluations = [e for e in self.evaluations if e["step"] != step] + [entry]
        better = self.kept is None or scores[self.metric] > self.kept[self.metric]
        if better and self.significance and (self.kept is not None or self.reference == "base"):
            if per_query is None:
                raise ValueError("a significance test needs each validation query's scores")
            better = entry["p_vs_start"] < trec.bonferroni(self.significance, self.looks)
        if better:
            with atomic_dir(self.dir) as tmp:
                model.save_pretrained(tmp)
                (tmp / KEPT).write_text(json.dumps({"step": step, **scores}) + "\n")
            self.kept = {"step": step, **scores}
        self.write()
        return better

    def write(self, selected: int | None = None) -> None:
        """``validation.json``: the metric, every evaluation, the best step and (at the end) the one output."""
        write_atomic(self.path, json.dumps({
            "metric": self.metric, "queries": self.queries, "significance": self.significance,
            "correction": "bonferroni", "looks": self.looks,
            "level_per_look": trec.bonferroni(self.significance, self.looks),
            "reference": self.reference,
            "best_step": self.kept["step"] if self.kept else None, "selected_step": selected,
            "evaluations": self.evaluations, "start_per_query": self.start}, indent=2) + "\n")
