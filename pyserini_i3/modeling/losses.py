"""The contrastive loss and the passages of a batch that are judged relevant to a query.

In-batch InfoNCE scores each query against every passage of the (gathered) batch: its own
group's positive, its hard negatives, and the other queries' passages.  When many queries share
relevant passages (a collection with dozens of judged positives per query), some of those other
passages are positives of this query too; ``other_positives`` says what to do with them:

* ``keep``: negatives, as plain in-batch InfoNCE (DPR, Tevatron) treats them;
* ``mask``: left out of that query's softmax (false-negative masking, as GISTEmbed does with a
  guide model's scores, here with the training file's judgments);
* ``positive``: positives too, ``-log`` of the softmax mass on all of them (multi-positive InfoNCE).

The reconstruction loss scores the pseudo-query's slots against the tokens of the query a passage
answers (:func:`reconstruction_nll`), slot by slot (the paper's target) or as a bag of words.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F

OTHER_POSITIVES = ("keep", "mask", "positive")
RECONSTRUCTION_TARGETS = ("slots", "bag")
IGNORE_INDEX = -100


def passage_id(docid: str) -> int:
    """A stable 63-bit integer for a docid (what travels in the batch as a tensor)."""
    return int.from_bytes(hashlib.blake2b(docid.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def judged(positive_ids: torch.Tensor, passage_ids: torch.Tensor) -> torch.Tensor:
    """[B, N] True where passage j (of ``passage_ids`` [N]) is among query i's ``positive_ids`` [B, P] (-1 padded)."""
    return (positive_ids.to(passage_ids.device).unsqueeze(1) == passage_ids.view(1, -1, 1)).any(-1)


def info_nce(scores: torch.Tensor, target: torch.Tensor, relevant: torch.Tensor | None = None,
             other_positives: str = "keep") -> torch.Tensor:
    """Mean InfoNCE of ``scores`` [B, N] with each query's positive at ``target`` [B]; ``relevant`` [B, N]
    marks the passages judged relevant to each query (its target among them or not)."""
    if other_positives not in OTHER_POSITIVES:
        raise ValueError(f"other_positives must be one of {', '.join(OTHER_POSITIVES)}, not {other_positives!r}")
    if relevant is None or other_positives == "keep":
        return F.cross_entropy(scores, target)
    rows = torch.arange(scores.size(0), device=scores.device)
    others = relevant.clone()
    others[rows, target] = False
    if other_positives == "mask":
        return F.cross_entropy(scores.masked_fill(others, float("-inf")), target)
    others[rows, target] = True  # every judged positive, the target included
    return (torch.logsumexp(scores, dim=-1) - torch.logsumexp(scores.masked_fill(~others, float("-inf")), -1)).mean()


def reconstruction_nll(logits: torch.Tensor, labels: torch.Tensor, target: str = "slots") -> torch.Tensor:
    """Summed negative log-likelihood of the target tokens ``labels`` [n, m] (``IGNORE_INDEX`` where there is
    none) under the slots' vocabulary ``logits`` [n, m, V].

    ``slots``: token i of the query from slot i (the paper's position-aligned target).  ``bag``: every token
    of the query from the slots' pooled distribution (the mean of their softmaxes, a mixture), in any order:
    the slots only have to cover the query's tokens between them, not to place them.
    """
    if target not in RECONSTRUCTION_TARGETS:
        raise ValueError(f"reconstruction target must be one of {', '.join(RECONSTRUCTION_TARGETS)}, not {target!r}")
    logits = logits.float()
    if target == "slots":
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX,
                               reduction="sum")
    pooled = torch.logsumexp(F.log_softmax(logits, dim=-1), dim=1) - math.log(logits.size(1))  # [n, V]
    present = labels != IGNORE_INDEX
    picked = pooled.gather(1, labels.clamp(min=0))  # [n, m]
    return -(picked * present).sum()
