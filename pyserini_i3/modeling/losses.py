"""The contrastive loss and the passages of a batch that are judged relevant to a query.

In-batch InfoNCE scores each query against every passage of the (gathered) batch: its own
group's positive, its hard negatives, and the other queries' passages.  When many queries share
relevant passages (a collection with dozens of judged positives per query), some of those other
passages are positives of this query too; ``other_positives`` says what to do with them:

* ``keep``: negatives, as plain in-batch InfoNCE (DPR, Tevatron) treats them;
* ``mask``: left out of that query's softmax (false-negative masking, as GISTEmbed does with a
  guide model's scores, here with the training file's judgments);
* ``positive``: positives too, ``-log`` of the softmax mass on all of them (multi-positive InfoNCE).
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F

OTHER_POSITIVES = ("keep", "mask", "positive")


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
