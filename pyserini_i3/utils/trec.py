"""TREC runs and qrels, their metrics and paired tests: the project's one evaluation module.

Everything that scores a ranking goes through here: the command runner's tables
(``eval.commands``), the training guard's validation, the benchmarks and the tests.

- runs: :func:`read_run` / :func:`write_run` (TREC ``qid Q0 docid rank score tag``;
  ``.gz`` read and written transparently), :func:`rank` (trec_eval's order),
  :func:`dense_run` (a run from a query x passage score matrix);
- qrels: :func:`read_qrels` (TREC, BEIR tsv, MS MARCO two-column: ``utils.formats``);
- metrics: :func:`evaluate` on ``pytrec_eval`` (trec_eval's own C code), per query,
  with trec_eval ``-c`` semantics (a judged query the run misses scores 0) and
  ``-M`` depth cuts (:data:`MEASURES`: MRR@10 is ``recip_rank`` on the top 10);
  :func:`mean` / :func:`means`; :func:`trec_eval_groups`, the options of the fewest
  ``trec_eval`` starts that report them (where Pyserini's own trec_eval is run);
- paired tests: :func:`paired_t` (two-sided or one-sided, scipy's ``ttest_rel``),
  :func:`bonferroni`.

Why pytrec_eval directly, and neither ``ir_measures`` nor ``ranx``: the project uses
three trec_eval measures, which pytrec_eval computes exactly as the ``trec_eval`` that
Pyserini starts (tests/e2e/test_pyserini_e2e.py checks every run both ways); the one
thing ``ir_measures`` would add, a cutoff on reciprocal rank, is the five-line
:func:`top`; ``ranx`` would bring numba and its own implementations of the measures,
which then need checking against trec_eval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pyserini_i3.utils.files import atomic_file
from pyserini_i3.utils.formats import read_qrels

__all__ = ["MEASURES", "Measure", "read_run", "write_run", "rank", "top", "dense_run", "normalise", "read_qrels",
           "evaluate", "mean", "means", "trec_eval_groups", "paired_t", "bonferroni", "RunFormatError"]

Run = dict[str, dict[str, float]]       # qid -> {docid: score}
Qrels = dict[str, dict[str, int]]       # qid -> {docid: relevance}
PerQuery = dict[str, dict[str, float]]  # measure -> {qid: value}


@dataclass(frozen=True)
class Measure:
    """A trec_eval measure: ``name`` as trec_eval prints it, ``option`` as ``-m`` takes it, ``depth`` (``-M``)."""

    label: str
    name: str
    option: str
    depth: int | None = None

    def trec_eval_args(self) -> list[str]:
        """The options of ``trec_eval -c`` that report this measure."""
        return _trec_eval_options(self.depth, [self])


# Pyserini's usual metrics, keyed by the name trec_eval and pytrec_eval report them under
MEASURES: dict[str, Measure] = {
    "ndcg_cut_10": Measure("nDCG@10", "ndcg_cut_10", "ndcg_cut.10"),
    "recall_100": Measure("R@100", "recall_100", "recall.100"),
    "recip_rank": Measure("MRR@10", "recip_rank", "recip_rank", depth=10),
}


class RunFormatError(ValueError):
    """A TREC run line that is not ``qid Q0 docid rank score tag`` (the message names file and line)."""


# --------------------------------------------------------------------------- runs
def _open(path: Path, mode: str):
    import gzip

    return gzip.open(path, mode + "t", encoding="utf-8") if path.suffix == ".gz" else open(path, mode, encoding="utf-8")


def read_run(path) -> Run:
    """qid -> {docid: score} from a TREC run (``.gz`` too); a malformed line or a docid ranked
    twice for one query raises :class:`RunFormatError` naming ``file:line``."""
    path = Path(path)
    run: Run = {}
    with _open(path, "r") as f:
        for n, line in enumerate(f, 1):
            cols = line.split()
            if not cols:
                continue
            if len(cols) != 6:
                raise RunFormatError(f"{path}:{n}: expected 'qid Q0 docid rank score tag', got {line.strip()!r}")
            qid, _, docid, _, score, _ = cols
            try:
                value = float(score)
            except ValueError:
                value = math.nan
            if math.isnan(value):
                raise RunFormatError(f"{path}:{n}: score {score!r} is not a number")
            hits = run.setdefault(qid, {})
            if docid in hits:
                raise RunFormatError(f"{path}:{n}: document {docid} is ranked twice for query {qid}")
            hits[docid] = value
    return run


def rank(hits: Mapping[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    """``hits`` in trec_eval's order (score descending, ties by docid descending), the first ``depth``."""
    order = sorted(hits.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return order if depth is None else order[:depth]


def top(run: Mapping[str, Mapping[str, float]], depth: int) -> Run:
    """Each query's first ``depth`` hits in trec_eval's order (what ``trec_eval -M depth`` scores)."""
    return {q: dict(rank(hits, depth)) for q, hits in run.items()}


def write_run(run: Mapping[str, Mapping[str, float]], path, tag: str = "pyserini-i3", depth: int | None = None) -> Path:
    """Write ``run`` as a TREC run (ranks in trec_eval's order, queries in the run's order) atomically:
    the file appears complete or not at all.  ``.gz`` paths are compressed."""
    path = Path(path)
    lines = [f"{q} Q0 {d} {i} {s:.6f} {tag}\n" for q, hits in run.items()
             for i, (d, s) in enumerate(rank(hits, depth), 1)]
    data = "".join(lines)
    if path.suffix == ".gz":
        import gzip

        with atomic_file(path, "wb", encoding=None) as f:
            f.write(gzip.compress(data.encode("utf-8"), mtime=0))
    else:
        with atomic_file(path) as f:
            f.write(data)
    return path


def dense_run(qids: list[str], docids: list[str], scores, depth: int) -> Run:
    """A run from a [queries x passages] score matrix (numpy): each query's ``depth`` best passages
    (ties at the cut broken by passage order, as a stable sort does)."""
    import numpy as np

    best = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    return {q: {docids[j]: float(scores[i, j]) for j in best[i]} for i, q in enumerate(qids)}


def normalise(scores: list[float]) -> list[float]:
    """``pyserini.search.hybrid --normalization`` of one query's scores: centred on the mid-range, divided by
    the range; all equal gives all 0 (where Pyserini's own code divides by zero: ``plugin.fusion``)."""
    low, high = min(scores), max(scores)
    if high == low:
        return [0.0] * len(scores)
    return [(s - (low + high) / 2) / (high - low) for s in scores]


# --------------------------------------------------------------------------- metrics
def _measure(name: str) -> Measure:
    """The :data:`MEASURES` entry of ``name``, or a pytrec_eval measure by the name it reports
    (``map``, ``P_5``: option ``P.5``), at full depth."""
    import pytrec_eval

    if name in MEASURES:
        return MEASURES[name]
    base, _, cut = name.rpartition("_")
    if cut.isdigit() and base in pytrec_eval.supported_measures:
        return Measure(name, name, f"{base}.{cut}")
    if name in pytrec_eval.supported_measures:
        return Measure(name, name, name)
    raise ValueError(f"unknown measure {name!r}: one of {', '.join(MEASURES)} or a measure pytrec_eval reports")


def evaluate(qrels: Qrels, run: Mapping[str, Mapping[str, float]],
             measures: Iterable[str] = tuple(MEASURES)) -> PerQuery:
    """measure -> {qid: value} for every query of ``qrels`` (``trec_eval -c``: a query the run
    misses scores 0), each measure at its :data:`MEASURES` depth.  Other measures are
    pytrec_eval's, named as it reports them (``map``, ``P_5``), at full depth."""
    import pytrec_eval

    names = list(dict.fromkeys(measures))
    by_depth: dict[int | None, list[Measure]] = {}
    for name in names:
        measure = _measure(name)
        by_depth.setdefault(measure.depth, []).append(measure)
    judged = {q: run.get(q, {}) for q in qrels}
    out: PerQuery = {}
    for depth, group in by_depth.items():
        ranked = judged if depth is None else top(judged, depth)
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {m.option for m in group})
        result = evaluator.evaluate({q: dict(h) for q, h in ranked.items() if h})
        for m in group:
            out[m.name] = {q: float(result.get(q, {}).get(m.name, 0.0)) for q in qrels}
    return {name: out[name] for name in names}  # in the order asked


def mean(values: Mapping[str, float]) -> float:
    """The mean over the queries (0.0 when there is none)."""
    return statistics.fmean(values.values()) if values else 0.0


def means(per_query: PerQuery, digits: int | None = None) -> dict[str, float]:
    """measure -> its mean over the queries, rounded to ``digits`` decimals if given (trec_eval prints 4)."""
    return {name: mean(values) if digits is None else round(mean(values), digits)
            for name, values in per_query.items()}


def _trec_eval_options(depth: int | None, measures: list[Measure]) -> list[str]:
    return ["-c", *(["-M", str(depth)] if depth else []), *[a for m in measures for a in ("-m", m.option)]]


def trec_eval_groups(names: Iterable[str] = tuple(MEASURES)) -> list[tuple[list[str], list[Measure]]]:
    """The fewest ``trec_eval`` starts that report ``names`` (of :data:`MEASURES`): one per ``-M``
    depth, each as (its options, its measures); e.g. ``-c -m ndcg_cut.10 -m recall.100`` and
    ``-c -M 10 -m recip_rank``."""
    groups: dict[int | None, list[Measure]] = {}
    for name in names:
        groups.setdefault(MEASURES[name].depth, []).append(MEASURES[name])
    return [(_trec_eval_options(depth, group), group) for depth, group in groups.items()]


# --------------------------------------------------------------------------- paired tests
def paired_t(a: Mapping[str, float], b: Mapping[str, float], alternative: str = "two-sided") -> dict:
    """Paired t-test of ``a`` against ``b`` over the queries of ``b`` (missing in ``a``: 0).

    Returns ``queries``, ``mean_diff`` (a - b), ``t`` and ``p`` (scipy's ``ttest_rel``;
    ``alternative`` ``"greater"`` tests that ``a`` scores higher).  When every difference
    is zero there is nothing to test: ``t`` is None and ``p`` is None (two-sided) or 1.0
    (one-sided), with ``identical`` True.
    """
    from scipy import stats

    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', not {alternative!r}")
    qids = sorted(b)
    x, y = [a.get(q, 0.0) for q in qids], [b[q] for q in qids]
    diff = statistics.fmean(x) - statistics.fmean(y) if qids else 0.0
    if x == y:  # e.g. a guarded run that kept the base (scipy would give nan)
        return {"queries": len(qids), "mean_diff": 0.0, "t": None,
                "p": None if alternative == "two-sided" else 1.0, "identical": True}
    t, p = stats.ttest_rel(x, y, alternative=alternative)
    return {"queries": len(qids), "mean_diff": diff, "t": float(t), "p": float(p)}


def bonferroni(alpha: float, looks: int) -> float:
    """The level each of ``looks`` tests is held to so that the family errs at most ``alpha``."""
    return alpha / max(1, looks)
