"""What the pseudo-query says: the reconstructor's slots read through the vocabulary head.

Each of the ``m`` slots gives a distribution over the backbone's vocabulary
(:meth:`I3Model.reconstruction_logits <pyserini_i3.modeling.model.I3Model.reconstruction_logits>`).
Two readings of them:

* ``slots``: the top token of each slot, in slot order; ``text`` reads them as a query (special tokens
  dropped, a token that the next slot repeats kept once, word pieces joined);
* ``terms``: the top-``k`` tokens of the slots' pooled distribution (the mean of their softmaxes: what
  the ``bag`` reconstruction loss trains), with their probabilities; special tokens never count.

``content_only`` keeps, among the terms, only what BM25 can use as a word: whole-word tokens (no ``##``
continuation piece) of two characters or more, with a letter or digit, that Lucene's English analyzer
(Pyserini's default) does not drop as a stop word.  Those are the terms ``python -m pyserini_i3 expand``
appends to a passage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET: what Pyserini's default BM25 analyzer drops
LUCENE_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split())
_WORD_START = ("\u2581", "\u0120")  # SentencePiece's and byte-level BPE's word-start markers


@dataclass(frozen=True)
class PseudoQuery:
    """One passage's pseudo-query, decoded."""

    slots: list[str]  # the top token of each slot, in order (special tokens included)
    text: str  # the slots read as a query
    terms: list[tuple[str, float]]  # the top terms of the pooled distribution, with their probabilities

    def to_dict(self) -> dict:
        return {"pseudo_query": self.text, "slots": self.slots,
                "terms": [{"term": t, "p": round(p, 6)} for t, p in self.terms]}


@dataclass(frozen=True)
class Vocabulary:
    """Per token id: its text as a term, whether it is special, whether BM25 would index it as a word."""

    terms: list[str]
    special: torch.Tensor  # [V] bool
    content: torch.Tensor  # [V] bool


def _is_placeholder(token: str) -> bool:
    return (token.startswith("[") and token.endswith("]")) or (token.startswith("<") and token.endswith(">"))


@lru_cache(maxsize=4)
def vocabulary(tokenizer) -> Vocabulary:
    """The :class:`Vocabulary` of a Hugging Face tokenizer (cached)."""
    size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
    tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
    specials = set(tokenizer.all_special_tokens)
    marked = any(t.startswith(_WORD_START) for t in tokens if t)
    terms, special, content = [], [], []
    for token in tokens:
        token = token or ""
        is_special = token in specials or _is_placeholder(token) or not token
        if marked:  # SentencePiece / BPE: a word starts with the marker
            whole, term = token.startswith(_WORD_START), token.lstrip("".join(_WORD_START))
        else:  # WordPiece: a continuation starts with ##
            whole, term = not token.startswith("##"), token
        terms.append(term)
        special.append(is_special)
        content.append(not is_special and whole and len(term) > 1 and any(c.isalnum() for c in term)
                       and term.lower() not in LUCENE_STOP_WORDS)
    return Vocabulary(terms, torch.tensor(special), torch.tensor(content))


def read_slots(tokenizer, slots: list[str]) -> str:
    """The slots' top tokens as a query: special tokens dropped, consecutive repeats kept once, pieces joined."""
    specials = set(tokenizer.all_special_tokens)
    kept: list[str] = []
    for token in slots:
        if token in specials or _is_placeholder(token) or (kept and kept[-1] == token):
            continue
        kept.append(token)
    return tokenizer.convert_tokens_to_string(kept).strip()


def check_decodable(model) -> None:
    """ValueError (one line) unless ``model`` has a reconstructor and a vocabulary head to decode."""
    if getattr(model, "reconstructor", None) is None or getattr(model, "vocab_head", None) is None:
        kind = "DE" if not model.config.interaction else "interactor-only (de-layer)"
        raise ValueError(f"this model ({kind}) has no reconstructor and vocabulary head: it computes no "
                         "pseudo-query to decode")


@torch.inference_mode()
def decode(model, texts: list[str], max_length: int, k: int = 20, content_only: bool = False,
           batch_size: int = 32, show_progress: bool = False) -> list[PseudoQuery]:
    """The :class:`PseudoQuery` of each passage text (already joined with its title); ``model`` an ``I3Model``.

    ValueError (one line) for a model with no reconstructor or no vocabulary head (DE, de-layer)."""
    check_decodable(model)
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    tokenizer = model._require_tokenizer()
    vocab = vocabulary(tokenizer)
    out: list[PseudoQuery | None] = [None] * len(texts)
    allowed = (vocab.content if content_only else ~vocab.special).to(model.device)
    for idx, batch in model.batches(texts, max_length, batch_size, show_progress, "pseudo-queries"):
        with model.autocast():
            _, pseudo = model.passage_vectors(batch, return_pseudo_query=True)
            logits = model.reconstruction_logits(pseudo)
        probs = logits.float().softmax(-1)  # [b, m, V]
        kept = allowed[:probs.size(-1)]
        pooled = probs.mean(1).masked_fill(~kept, -1.0)  # probabilities are >= 0: -1 never ranks
        top_p, top_i = pooled.topk(min(k, int(kept.sum())), dim=-1)
        slot_ids = probs.argmax(-1).tolist()
        for row, i in enumerate(idx):
            slots = tokenizer.convert_ids_to_tokens(slot_ids[row])
            terms = [(vocab.terms[t], p) for t, p in zip(top_i[row].tolist(), top_p[row].tolist())]
            out[i] = PseudoQuery(slots, read_slots(tokenizer, slots), terms)
    return out


def expansion(query: PseudoQuery, max_repeat: int = 1) -> str:
    """The terms of ``query`` as text to append to its passage: each term once, or (``max_repeat`` > 1) repeated
    in proportion to its probability, the top term ``max_repeat`` times and every term at least once."""
    if max_repeat < 1:
        raise ValueError(f"max_repeat must be at least 1, not {max_repeat}")
    if not query.terms:
        return ""
    top = query.terms[0][1] or 1.0
    return " ".join(" ".join([term] * max(1, round(max_repeat * p / top))) for term, p in query.terms)
