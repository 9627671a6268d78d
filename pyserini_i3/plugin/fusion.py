"""A guard for ``pyserini.search.hybrid --normalization`` when one side's scores are all equal.

``HybridSearcher._hybrid_results`` (Pyserini 1.6 through 2.4, the same code) rescales each
side's scores by ``(s - (min + max) / 2) / (max - min)``.  When a query's BM25 hits all
share one score (a query that matches a single passage, or ties only) ``max - min`` is 0:
a ``ZeroDivisionError`` that ends the whole run (float32 dense scores give NaN with a
warning instead, which puts NaN scores in the run).

A side whose hits all tie carries no ranking information, so here it contributes 0 to
every passage (each of its scores equals its mid-range, which normalisation maps to 0,
and passages it did not return get its minimum, the same value).  Only that case is
changed: the guarded function normalises both sides itself, the same formula, and hands
Pyserini's own code the normalised lists with ``normalization=False``; every other query
goes to Pyserini's code untouched.
"""

from __future__ import annotations

import functools

from pyserini_i3.utils.trec import normalise


def _flat(hits) -> bool:
    scores = [hit.score for hit in hits]
    return bool(scores) and max(scores) == min(scores)


def _normalised(hits, result_class):
    if not hits:
        return hits
    return [result_class(hit.docid, score) for hit, score in zip(hits, normalise([hit.score for hit in hits]))]


def guard(hybrid_results, result_class):
    """``HybridSearcher._hybrid_results`` (the plain function) made safe for tied sides."""
    if getattr(hybrid_results, "_pyserini_i3", False):
        return hybrid_results

    @functools.wraps(hybrid_results)
    def _hybrid_results(dense_results, sparse_results, alpha, k, normalization=False, weight_on_dense=False):
        if normalization and (_flat(dense_results) or _flat(sparse_results)):
            return hybrid_results(_normalised(dense_results, result_class), _normalised(sparse_results, result_class),
                                  alpha, k, False, weight_on_dense)
        return hybrid_results(dense_results, sparse_results, alpha, k, normalization, weight_on_dense)

    _hybrid_results._pyserini_i3 = True
    return _hybrid_results
