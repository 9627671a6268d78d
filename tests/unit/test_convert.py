"""The converter of the authors' released checkpoints (III_finetuned.p, III_distilled.p).

A synthetic state dict in the official layout (random tensors, fixed seed, tiny
BERT shapes) is converted, and the converted model's passage and query vectors
are checked against an independent reference forward written below with plain
torch ops from the design page's "official" column:

* embeddings: LayerNorm(word + position + token type 0);
* BERT layer: post-LN multi-head attention (+ cross-attention for c_head), GELU FFN;
* slots: the tokenizer's encoding of 32 [MASK] tokens truncated to 32
  ([CLS] + 30 [MASK] + [SEP]), embedded by lm_p's embeddings;
* c_head: self-attention over the slots (no mask), cross-attention to p_cls only;
* d_head over [p_cls ; mean(slot states)], output at position 0;
* query vector: lm_q's CLS state; raw dot product, no normalisation.

Nothing here calls our model code or transformers' BertLayer for the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import OFFICIAL_SHAPES, PASSAGES, QUERIES, command, official_state_dict
from helpers import vocab_size as _vocab_size
from pyserini_i3.__main__ import main as cli_main
from pyserini_i3.modeling.convert import convert_official, map_official_state_dict
from pyserini_i3.modeling.model import I3Model

D, HEADS, FFN, LAYERS, MAX_POS, EPS = OFFICIAL_SHAPES  # the tiny BERT of helpers.write_tiny_bert


# --------------------------------------------------------------------------- reference forward
def _ln(x, s, name):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * s[f"{name}.weight"] + s[f"{name}.bias"]


def _lin(x, s, name):
    return x @ s[f"{name}.weight"].T + s[f"{name}.bias"]


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _attention(x, memory, s, name):
    """Post-LN BERT attention block: LN(x + dense(MHA(x, memory)))."""
    n, m, dh = x.size(0), memory.size(0), D // HEADS
    q = _lin(x, s, f"{name}.self.query").view(n, HEADS, dh).transpose(0, 1)
    k = _lin(memory, s, f"{name}.self.key").view(m, HEADS, dh).transpose(0, 1)
    v = _lin(memory, s, f"{name}.self.value").view(m, HEADS, dh).transpose(0, 1)
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1)
    context = (weights @ v).transpose(0, 1).reshape(n, D)
    return _ln(x + _lin(context, s, f"{name}.output.dense"), s, f"{name}.output.LayerNorm")


def _layer(x, s, name, cross_memory=None):
    x = _attention(x, x, s, f"{name}.attention")
    if cross_memory is not None:
        x = _attention(x, cross_memory, s, f"{name}.crossattention")
    h = _gelu(_lin(x, s, f"{name}.intermediate.dense"))
    return _ln(x + _lin(h, s, f"{name}.output.dense"), s, f"{name}.output.LayerNorm")


def _embed(ids, s, lm):
    ids = torch.as_tensor(ids)
    x = (s[f"{lm}.embeddings.word_embeddings.weight"][ids]
         + s[f"{lm}.embeddings.position_embeddings.weight"][torch.arange(len(ids))]
         + s[f"{lm}.embeddings.token_type_embeddings.weight"][0])
    return _ln(x, s, f"{lm}.embeddings.LayerNorm")


def _encode(ids, s, lm):
    x = _embed(ids, s, lm)
    for i in range(LAYERS):
        x = _layer(x, s, f"{lm}.encoder.layer.{i}")
    return x


def _heads(s, prefix):
    return sorted({int(k.split(".")[1]) for k in s if k.startswith(prefix + ".")})


def reference_passage(ids, slot_ids, s):
    """(passage vector [d], slot states [m, d]) for one unpadded passage."""
    p = _encode(ids, s, "lm_p")[0]
    slots = _embed(slot_ids, s, "lm_p")
    for i in _heads(s, "c_head"):
        slots = _layer(slots, s, f"c_head.{i}", cross_memory=p.unsqueeze(0))
    x = torch.stack([p, slots.mean(0)])
    for i in _heads(s, "d_head"):
        x = _layer(x, s, f"d_head.{i}")
    return x[0], slots


def reference_query(ids, s):
    return _encode(ids, s, "lm_q")[0]


def reference_logits(slots, s):
    h = _gelu(_lin(slots, s, "cls.predictions.transform.dense"))
    h = _ln(h, s, "cls.predictions.transform.LayerNorm")
    return h @ s["cls.predictions.decoder.weight"].T + s["cls.predictions.bias"]


def reference_vectors(tokenizer, s, passages, queries):
    slot_ids = tokenizer(" ".join(["[MASK]"] * 32), truncation=True, max_length=32)["input_ids"]
    assert len(slot_ids) == 32 and slot_ids[0] == tokenizer.cls_token_id and slot_ids[-1] == tokenizer.sep_token_id
    with torch.no_grad():
        p = torch.stack([reference_passage(tokenizer(t, truncation=True, max_length=140)["input_ids"], slot_ids, s)[0]
                         for t in passages])
        q = torch.stack([reference_query(tokenizer(t, truncation=True, max_length=32)["input_ids"], s)
                         for t in queries])
    return p.numpy(), q.numpy(), slot_ids


# --------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def tokenizer(tiny_backbone):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab=str(tiny_backbone / "vocab.txt"), do_lower_case=True)


@pytest.fixture(scope="module")
def state(tiny_backbone):
    return official_state_dict(_vocab_size(tiny_backbone))


@pytest.fixture(scope="module")
def reference(tokenizer, state):
    return reference_vectors(tokenizer, state, PASSAGES, QUERIES)


def test_reference_is_not_trivial(reference):
    p, q, _ = reference
    assert np.isfinite(p).all() and np.isfinite(q).all()
    assert np.abs(p - p[0]).max() > 1e-2  # passages differ from each other
    assert np.abs(p.mean(0)).max() < 10 and np.abs(p).max() > 0.1


@pytest.mark.parametrize("prefix, c_layers, d_layers", [("", 1, 1), ("module.", 1, 1), ("module.", 2, 3)])
def test_converted_model_matches_reference_forward(tiny_backbone, tokenizer, prefix, c_layers, d_layers):
    s = official_state_dict(_vocab_size(tiny_backbone), c_layers=c_layers, d_layers=d_layers, prefix=prefix, seed=1)
    model = convert_official(s, str(tiny_backbone))
    plain = {k[len(prefix):]: v for k, v in s.items()}
    ref_p, ref_q, slot_ids = reference_vectors(tokenizer, plain, PASSAGES, QUERIES)

    c = model.config
    expected = ("official", "cls", False, False, False)
    assert (c.variant, c.pooling, c.normalize, c.tied_encoders, c.tie_vocab_head) == expected
    assert (c.reconstructor_attends_to, c.interactor_input) == ("cls", "cls+pseudo-mean")
    assert (c.reconstructor_layers, c.interactor_layers, c.num_slots) == (c_layers, d_layers, 32)
    assert (c.query_max_length, c.passage_max_length) == (32, 140)
    assert c.slot_token_ids() == slot_ids

    np.testing.assert_allclose(model.encode_passages(PASSAGES, batch_size=3), ref_p, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.encode_queries(QUERIES, batch_size=4), ref_q, atol=1e-5, rtol=0)

    # the vocabulary head is the MLM head: same logits on the reconstructed slots
    text = PASSAGES[2]
    with torch.no_grad():
        _, ref_slots = reference_passage(tokenizer(text)["input_ids"], slot_ids, plain)
        _, pseudo = model.passage_vectors(model.tokenize([text], 140), return_pseudo_query=True)
        np.testing.assert_allclose(pseudo[0].numpy(), ref_slots.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(model.reconstruction_logits(pseudo)[0].numpy(),
                                   reference_logits(ref_slots, plain).numpy(), atol=1e-4, rtol=0)


def test_prefix_does_not_change_the_result(tiny_backbone):
    vocab = _vocab_size(tiny_backbone)
    a, _, _ = map_official_state_dict(official_state_dict(vocab, prefix=""))
    b, _, _ = map_official_state_dict(official_state_dict(vocab, prefix="module."))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_converter_rejects_wrong_layouts(tiny_backbone, state):
    no_heads = {k: v for k, v in state.items() if k.startswith(("lm_q.", "lm_p."))}
    with pytest.raises(ValueError, match=r"no 'c_head\.\*' weights") as exc:
        convert_official(no_heads, str(tiny_backbone))
    assert "\n" not in str(exc.value)
    partial = dict(state)
    del partial["d_head.0.output.dense.bias"]
    with pytest.raises(ValueError, match=r"missing d_head\.0\.output\.dense\.bias") as exc:
        convert_official(partial, str(tiny_backbone))
    assert "\n" not in str(exc.value)
    partial = dict(state)
    del partial["lm_p.encoder.layer.1.output.LayerNorm.weight"]
    with pytest.raises(ValueError, match=r"passage_encoder\.encoder\.layer\.1\.output\.LayerNorm\.weight") as exc:
        convert_official(partial, str(tiny_backbone))
    assert "\n" not in str(exc.value)


# --------------------------------------------------------------------------- the command line
def _run_cli(*args):
    return command("convert-official", *args)


def test_cli_converts_and_the_directory_loads(tmp_path, tiny_backbone, state, reference):
    ckpt = tmp_path / "III_finetuned.p"
    torch.save({"module." + k: v for k, v in state.items()}, ckpt)
    out = tmp_path / "i3-official"
    result = _run_cli(ckpt, "--base", tiny_backbone, "--output", out)
    assert result.returncode == 0, result.stderr
    assert "official variant" in result.stdout
    model = I3Model.from_pretrained(out)
    ref_p, ref_q, _ = reference
    np.testing.assert_allclose(model.encode_passages(PASSAGES), ref_p, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.encode_queries(QUERIES), ref_q, atol=1e-5, rtol=0)


def _one_line_error(capsys, argv):
    assert cli_main(["convert-official", *map(str, argv)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("convert-official: ") and "\n" not in err, err
    return err


def test_cli_one_line_error_on_a_file_that_is_not_a_state_dict(tmp_path, capsys, tiny_backbone):
    text = tmp_path / "notes.p"  # JSON: torch.load's weights-only unpickler answers in many lines
    text.write_text('{"lm_q.embeddings.word_embeddings.weight": [0.1, 0.2]}\n')
    err = _one_line_error(capsys, [text, "--base", tiny_backbone, "--output", tmp_path / "out"])
    assert "not a torch state dict" in err and "notes.p" in err
    assert not (tmp_path / "out").exists()


def test_cli_one_line_errors_in_process(tmp_path, capsys, tiny_backbone, state):
    not_tensors = tmp_path / "list.p"
    torch.save([1, 2, 3], not_tensors)
    assert "not a torch state dict" in _one_line_error(capsys, [not_tensors, "--base", tiny_backbone,
                                                                "--output", tmp_path / "o1"])
    no_heads = tmp_path / "encoders_only.p"
    torch.save({k: v for k, v in state.items() if k.startswith(("lm_q.", "lm_p."))}, no_heads)
    err = _one_line_error(capsys, [no_heads, "--base", tiny_backbone, "--output", tmp_path / "o2"])
    assert "c_head" in err and "encoders_only.p" in err
    err = _one_line_error(capsys, [tmp_path / "missing.p", "--base", tiny_backbone, "--output", tmp_path / "o3"])
    assert "no such checkpoint file" in err
    for name in ("o1", "o2", "o3"):
        assert not (tmp_path / name).exists()


def test_the_base_needs_no_weights(tmp_path, tiny_backbone, state, reference):
    """The checkpoint holds every weight: a base with config.json and tokenizer files only is enough
    (the released encoders download no base weights)."""
    base = tmp_path / "config-and-tokenizer"
    base.mkdir()
    for item in tiny_backbone.iterdir():
        if item.suffix not in (".safetensors", ".bin"):
            (base / item.name).write_bytes(item.read_bytes())
    model = convert_official(state, str(base), base_name="someone/bert-base")
    assert model.config.backbone == "someone/bert-base"
    ref_p, ref_q, _ = reference
    np.testing.assert_allclose(model.encode_passages(PASSAGES), ref_p, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.encode_queries(QUERIES), ref_q, atol=1e-5, rtol=0)
