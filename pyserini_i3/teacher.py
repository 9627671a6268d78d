"""Teacher scores for distillation: a dense model scores every (query, passage) pair of a training file.

The scores are the teacher's logits, ``q . p / temperature`` (its config's
``score_temperature``), on the scale the student's KL loss compares them with.
A typical use keeps a fine-tuned model close to a strong general-purpose base
(e.g. all-MiniLM-L6-v2 itself) while it learns from new labels.
"""

from __future__ import annotations

from pyserini_i3.data import TrainingExample


def load_teacher(name: str):
    """An I^3 model directory (or ``i3``), or any Hugging Face encoder as a plain dual encoder."""
    from pyserini_i3.defaults import is_i3_encoder, load_model
    from pyserini_i3.model import I3Model

    if is_i3_encoder(name):
        return load_model(name)
    return I3Model.from_backbone(name, variant="de")


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
