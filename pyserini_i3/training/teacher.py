"""Teacher scores for distillation: a dense model scores every (query, passage) pair of a training file.

The scores are the teacher's logits, ``q . p / temperature`` (its config's
``score_temperature``), on the scale the student's KL loss compares them with.
A typical use keeps a fine-tuned model close to a strong general-purpose base
(e.g. all-MiniLM-L6-v2 itself) while it learns from new labels.  The teacher is any
``I3Model`` (``python -m pyserini_i3 teacher-scores`` loads it by name).
"""

from __future__ import annotations

from pyserini_i3.training.examples import TrainingExample
from pyserini_i3.utils.trec import normalise


def base_teacher(base: str):
    """The frozen ``base`` as a teacher: an I^3 model directory as itself, any other encoder as a plain dual
    encoder (``teacher-scores``' default teacher, ``I3Model.from_backbone(base, variant="de")``), in eval mode."""
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.modeling.storage import is_i3_model_dir

    teacher = I3Model.from_pretrained(base) if is_i3_model_dir(base) else I3Model.from_backbone(base, variant="de")
    teacher.eval()
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


def group_scores(teacher, query_inputs: dict, passage_inputs: dict):
    """[B, G] teacher logits (``q . p / temperature``) of B queries and their groups of G passages, from the
    student's tokenised batch (the two share a tokenizer); no gradient."""
    import torch

    with torch.no_grad():
        q = teacher.query_vectors(query_inputs)
        v = teacher.passage_vectors(passage_inputs)
        return (q.unsqueeze(1) * v.view(q.size(0), -1, v.size(-1))).sum(-1) / teacher.config.score_temperature


def add_teacher_scores(examples: list[TrainingExample], teacher, query_max_length: int, passage_max_length: int,
                       batch_size: int = 64) -> int:
    """Set ``score`` on every passage of ``examples`` (in place); returns the number of pairs scored."""
    import numpy as np

    passages = {}
    for ex in examples:
        for p in ex.positive_passages + ex.negative_passages:
            passages.setdefault(p.docid, teacher.join_title(p.text, p.title))
    docids = list(passages)
    p_vecs = teacher.encode_passages([passages[d] for d in docids], batch_size=batch_size,
                                     max_length=passage_max_length, show_progress=True)
    q_vecs = teacher.encode_queries([ex.query for ex in examples], batch_size=batch_size,
                                    max_length=query_max_length, show_progress=True)
    row = {d: i for i, d in enumerate(docids)}
    scale = 1.0 / teacher.config.score_temperature
    pairs = 0
    for q, ex in zip(q_vecs, examples):
        for p in ex.positive_passages + ex.negative_passages:
            p.score = round(float(np.dot(q, p_vecs[row[p.docid]])) * scale, 5)
            pairs += 1
    return pairs


def drop_false_negatives(examples: list[TrainingExample]) -> int:
    """Drop (in place) each negative its teacher scores above every positive of its query; returns how many.

    Such a negative is likely a relevant passage nobody judged (RocketQA's denoising, with
    the teacher's scores for the cross-encoder's).  Needs the ``score`` of every passage.
    """
    dropped = 0
    for ex in examples:
        passages = ex.positive_passages + ex.negative_passages
        if any(p.score is None for p in passages):
            raise ValueError(f"query {ex.query_id}: a passage has no teacher score to denoise by")
        best = max(p.score for p in ex.positive_passages)
        kept = [p for p in ex.negative_passages if p.score <= best]
        dropped += len(ex.negative_passages) - len(kept)
        ex.negative_passages = kept
    return dropped


def fuse_bm25(examples: list[TrainingExample], bm25_scores, alpha: float) -> int:
    """Turn the dense teacher scores already on ``examples`` into a hybrid teacher (in place).

    For each query, over the passages the file gives it, the dense scores and the BM25
    scores (``bm25_scores(query, docids) -> [float]``) are normalised as
    ``pyserini.search.hybrid --normalization`` does, fused as ``alpha * bm25 + dense``
    (its ``--alpha``), and scaled back to the dense scores' range, so the teacher's
    softmax is as sharp as the dense teacher's.  Returns the number of queries fused.
    """
    fused_queries = 0
    for ex in examples:
        passages = ex.positive_passages + ex.negative_passages
        if not passages:
            continue
        dense = [p.score for p in passages]
        if any(s is None for s in dense):
            raise ValueError(f"query {ex.query_id}: a passage has no dense teacher score to fuse with BM25")
        sparse = bm25_scores(ex.query, [p.docid for p in passages])
        scale = max(dense) - min(dense)
        for p, d, s in zip(passages, normalise(dense), normalise(sparse)):
            p.score = round((alpha * s + d) * scale, 5)
        fused_queries += 1
    return fused_queries


class LuceneBM25:
    """BM25 scores of given passages for a query, from a Pyserini Lucene index (Anserini's
    ``computeQueryDocumentScore``, k1 0.9, b 0.4, as ``pyserini.search.lucene --bm25``)."""

    def __init__(self, index_dir: str):
        from pyserini.index.lucene import LuceneIndexReader

        self.reader = LuceneIndexReader(str(index_dir))

    def __call__(self, query: str, docids: list[str]) -> list[float]:
        return [float(self.reader.compute_query_document_score(d, query)) for d in docids]
