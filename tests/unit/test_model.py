"""I3Model inference, persistence, configuration, input checks and backbone resolution.

Most checks run on a tiny random BERT written to disk (hidden 32, 2 layers); the
real all-MiniLM-L6-v2 is loaded once, for the comparison with sentence-transformers.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import MINILM, PASSAGES, QUERIES, load_offline
from pyserini_i3.modeling.backbone import resolve_model_path
from pyserini_i3.modeling.config import I3Config
from pyserini_i3.modeling.model import I3Model

VARIANTS = ("full", "official", "de")
LONG_PASSAGE = " ".join(["the river runs from the mountain to the ocean and the city"] * 12)  # ~140 pieces
LONG_QUERY = " ".join(["what is the capital of the country of the king"] * 6)  # > 32 pieces


def as_json(config) -> dict:
    return json.loads(config.to_json_string(use_diff=False))


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert message and "\n" not in message, f"not a one-line message: {message!r}"
    return message


@pytest.fixture(scope="module")
def tiny_models(tiny_backbone):
    torch.manual_seed(0)
    return {v: I3Model.from_backbone(str(tiny_backbone), variant=v) for v in VARIANTS}


@pytest.fixture(scope="module")
def tiny_mean_normalized(tiny_backbone):
    """The full variant with the other pooling and normalisation, untied vocabulary head."""
    torch.manual_seed(1)
    return I3Model.from_backbone(str(tiny_backbone), pooling="mean", normalize=True, tie_vocab_head=False,
                                 reconstructor_layers=2, interactor_layers=2, num_slots=8)


def all_tiny(tiny_models, tiny_mean_normalized):
    return {**tiny_models, "full-mean-norm": tiny_mean_normalized}


# =========================================================================== DE mode = sentence-transformers
@pytest.fixture(scope="module")
def minilm_de():
    return load_offline(I3Model.from_backbone, MINILM, variant="de")


@pytest.fixture(scope="module")
def sentence_transformer(minilm_path):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(minilm_path), device="cpu")


def test_de_mode_picks_up_pooling_and_normalisation_from_the_sentence_transformers_files(minilm_de):
    c = minilm_de.config
    assert (c.interaction, c.pooling, c.normalize, c.passage_max_length) == (False, "mean", True, 256)
    assert c.query_max_length == 32
    assert not hasattr(minilm_de, "reconstructor") and not hasattr(minilm_de, "interactor")


def test_de_passages_equal_sentence_transformers(minilm_de, sentence_transformer):
    texts = PASSAGES + [LONG_PASSAGE]
    assert len(minilm_de.tokenizer(LONG_PASSAGE)["input_ids"]) > 64  # a real length, still under 256
    ours = minilm_de.encode_passages(texts, batch_size=3)
    theirs = sentence_transformer.encode(texts, batch_size=3, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_de_queries_equal_sentence_transformers(minilm_de, sentence_transformer):
    ours = minilm_de.encode_queries(QUERIES)
    theirs = sentence_transformer.encode(QUERIES, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    # long queries: ours stops at config.query_max_length=32 tokens; so does sentence-transformers when told
    assert len(minilm_de.tokenizer(LONG_QUERY)["input_ids"]) > 40
    old = sentence_transformer.max_seq_length
    try:
        sentence_transformer.max_seq_length = 32
        theirs = sentence_transformer.encode([LONG_QUERY, QUERIES[0]], convert_to_numpy=True)
    finally:
        sentence_transformer.max_seq_length = old
    np.testing.assert_allclose(minilm_de.encode_queries([LONG_QUERY, QUERIES[0]]), theirs, atol=1e-5, rtol=0)


def test_de_minilm_vectors_do_not_depend_on_batching(minilm_de):
    texts = PASSAGES
    alone = np.concatenate([minilm_de.encode_passages([t]) for t in texts])
    np.testing.assert_allclose(minilm_de.encode_passages(texts, batch_size=64), alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(minilm_de.encode_passages(texts[::-1], batch_size=3)[::-1], alone, atol=1e-5, rtol=0)
    q_alone = np.concatenate([minilm_de.encode_queries([t]) for t in QUERIES])
    np.testing.assert_allclose(minilm_de.encode_queries(QUERIES[::-1], batch_size=2)[::-1], q_alone, atol=1e-5, rtol=0)


# =========================================================================== batching, padding, isolation
@pytest.mark.parametrize("name", [*VARIANTS, "full-mean-norm"])
def test_vectors_do_not_depend_on_batch_size_order_or_padding(name, tiny_models, tiny_mean_normalized):
    model = all_tiny(tiny_models, tiny_mean_normalized)[name]
    texts = PASSAGES + [LONG_PASSAGE]
    alone = np.concatenate([model.encode_passages([t], batch_size=1) for t in texts])
    assert np.abs(alone - alone[0]).max() > 1e-3  # the vectors say something about the text
    for batch_size in (2, 3, 64):
        np.testing.assert_allclose(model.encode_passages(texts, batch_size=batch_size), alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.encode_passages(texts[::-1], batch_size=3)[::-1], alone, atol=1e-5, rtol=0)

    # explicit padding well past every length, straight into the passage forward
    tok = model.tokenizer(texts, padding="max_length", max_length=200, truncation=True, return_tensors="pt")
    assert (tok["attention_mask"] == 0).any(dim=1).all()
    with torch.no_grad():
        padded = model.passage_vectors(dict(tok)).numpy()
    np.testing.assert_allclose(padded, alone, atol=1e-5, rtol=0)

    q_alone = np.concatenate([model.encode_queries([t]) for t in QUERIES])
    for batch_size in (2, 64):
        np.testing.assert_allclose(model.encode_queries(QUERIES, batch_size=batch_size), q_alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.encode_queries(QUERIES[::-1], batch_size=4)[::-1], q_alone, atol=1e-5, rtol=0)
    tok = model.tokenizer(QUERIES, padding="max_length", max_length=32, truncation=True, return_tensors="pt")
    with torch.no_grad():
        np.testing.assert_allclose(model.query_vectors(dict(tok)).numpy(), q_alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["full", "official"])
def test_a_passage_vector_depends_on_that_passage_only(name, tiny_models):
    model = tiny_models[name]
    target = PASSAGES[2]
    alone = model.encode_passages([target])[0]
    for others in (PASSAGES[:2], [LONG_PASSAGE, "", "cat"], ["dog"] * 5):
        among = model.encode_passages(others + [target] + others, batch_size=64)
        np.testing.assert_allclose(among[len(others)], alone, atol=1e-5, rtol=0)
    assert np.abs(model.encode_passages([PASSAGES[1]])[0] - alone).max() > 1e-3


@pytest.mark.parametrize("name", ["full", "official", "full-mean-norm"])
def test_query_side_never_runs_the_reconstructor_or_interactor(name, tiny_models, tiny_mean_normalized):
    model = all_tiny(tiny_models, tiny_mean_normalized)[name]
    calls = {"reconstructor": 0, "interactor": 0, "vocab_head": 0, "passage_encoder": 0}
    modules = {k: getattr(model, k) for k in calls if getattr(model, k, None) is not None}
    assert {"reconstructor", "interactor", "passage_encoder"} <= set(modules)

    def counter(key):
        def hook(*_):
            calls[key] += 1
        return hook

    handles = [m.register_forward_hook(counter(k)) for k, m in modules.items()]
    try:
        queries = model.encode_queries(QUERIES, batch_size=2)
        assert calls == dict.fromkeys(calls, 0), calls  # untied: not even the passage encoder
        model.encode_passages(PASSAGES, batch_size=2)
        assert calls["reconstructor"] > 0 and calls["interactor"] > 0 and calls["passage_encoder"] > 0
        assert calls["vocab_head"] == 0  # the vocabulary head only serves the training loss
    finally:
        for h in handles:
            h.remove()

    # and the query vectors do not change when the passage-side heads do
    changed = copy.deepcopy(model)
    with torch.no_grad():
        for module in (changed.reconstructor, changed.interactor):
            for p in module.parameters():
                p.add_(torch.randn_like(p))
    np.testing.assert_array_equal(changed.encode_queries(QUERIES, batch_size=2), queries)
    assert np.abs(changed.encode_passages(PASSAGES[:2]) - model.encode_passages(PASSAGES[:2])).max() > 1e-3


def test_de_mode_passage_vector_is_the_pooled_encoder_output(tiny_models):
    model = tiny_models["de"]
    tok = model.tokenize(PASSAGES[:3], 64)
    with torch.no_grad():
        cls = model.passage_encoder(**tok).last_hidden_state[:, 0].numpy()
    np.testing.assert_allclose(model.encode_passages(PASSAGES[:3]), cls, atol=1e-6, rtol=0)


# =========================================================================== save / load
@pytest.mark.parametrize("name", [*VARIANTS, "full-mean-norm"])
def test_vectors_are_identical_after_save_and_load(name, tiny_models, tiny_mean_normalized, tmp_path):
    model = all_tiny(tiny_models, tiny_mean_normalized)[name]
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "i3"
    loaded = I3Model.from_pretrained(tmp_path / "m")
    assert not loaded.training
    assert as_json(loaded.config) == as_json(model.config)
    mine, theirs = model.state_dict(), loaded.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    texts = PASSAGES + [LONG_PASSAGE]
    np.testing.assert_allclose(loaded.encode_passages(texts, batch_size=3),
                               model.encode_passages(texts, batch_size=3), atol=1e-6, rtol=0)
    np.testing.assert_allclose(loaded.encode_queries(QUERIES, batch_size=3),
                               model.encode_queries(QUERIES, batch_size=3), atol=1e-6, rtol=0)


# =========================================================================== configuration
OPTIONS = [
    dict(tied_encoders=True),
    dict(tied_encoders=False),
    dict(pooling="mean"),
    dict(pooling="cls"),
    dict(reconstructor_layers=2),
    dict(num_slots=5),
    dict(reconstructor_attends_to="cls"),
    dict(reconstructor_attends_to="tokens"),
    dict(interactor_layers=3),
    dict(interactor_input="cls+pseudo-mean"),
    dict(interactor_input="tokens+pseudo"),
    dict(vocab_head=False),
    dict(tie_vocab_head=False),
    dict(tie_vocab_head=True),
    dict(normalize=True),
    dict(score_temperature=0.07),
    dict(interaction=False),
    dict(variant="de"),
    dict(variant="official"),
    dict(variant="official", tied_encoders=True, pooling="mean", normalize=True, num_slots=6),
    dict(variant="de-layer"),
    dict(interactor_input="tokens"),
    dict(interactor_gate="scalar"),
    dict(variant="official", interactor_gate="scalar"),
    dict(interactor_gate="linear"),
    dict(variant="de-layer", interactor_gate="linear"),
    dict(slot_format="cls-mask-sep"),
    dict(query_max_length=16, passage_max_length=64),
]


def _structure(model: I3Model) -> dict:
    c = model.config
    out = dict(query_encoder=hasattr(model, "query_encoder"), interaction=hasattr(model, "interactor"))
    if out["interaction"]:
        out.update(i_layers=len(model.interactor.layers), vocab_head=model.vocab_head is not None)
        if model.interactor.gate is not None:
            out["gate"] = "linear" if isinstance(model.interactor.gate, torch.nn.Linear) else "scalar"
        if model.reconstructor is not None:
            out.update(r_layers=len(model.reconstructor.layers), slots=model.slot_ids.numel())
        if model.vocab_head is not None:
            out["own_decoder"] = model.vocab_head.decoder is not None
    expected = dict(query_encoder=not c.tied_encoders, interaction=c.interaction)
    if c.interaction:
        expected.update(i_layers=c.interactor_layers, vocab_head=c.vocab_head and c.reconstructs)
        if c.interactor_gate != "none":
            expected["gate"] = c.interactor_gate
        if c.reconstructs:
            expected.update(r_layers=c.reconstructor_layers, slots=c.num_slots)
        if c.vocab_head and c.reconstructs:
            expected["own_decoder"] = not c.tie_vocab_head
    assert out == expected
    return out


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_option_round_trips(options, tiny_backbone, tmp_path):
    torch.manual_seed(0)
    model = I3Model.from_backbone(str(tiny_backbone), **options)
    for key, value in options.items():
        assert getattr(model.config, key) == value, key
    structure = _structure(model)
    model.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["model_type"] == "i3"
    for key, value in options.items():
        assert saved[key] == value, key
    loaded = I3Model.from_pretrained(tmp_path / "m")
    for key, value in options.items():
        assert getattr(loaded.config, key) == value, key
    assert as_json(loaded.config) == as_json(model.config)
    assert _structure(loaded) == structure
    np.testing.assert_allclose(loaded.encode_passages(PASSAGES[:3]), model.encode_passages(PASSAGES[:3]),
                               atol=1e-6, rtol=0)
    np.testing.assert_allclose(loaded.encode_queries(QUERIES[:3]), model.encode_queries(QUERIES[:3]),
                               atol=1e-6, rtol=0)


def test_config_round_trips_without_a_model():
    for options in OPTIONS:
        config = I3Config(**options)
        again = I3Config.from_dict(json.loads(config.to_json_string()))
        assert as_json(again) == as_json(config), options
    # explicit values beat the preset, and survive
    config = I3Config(variant="official", reconstructor_attends_to="tokens", interactor_input="tokens+pseudo")
    again = I3Config.from_dict(config.to_dict())
    assert (again.reconstructor_attends_to, again.interactor_input, again.variant) == ("tokens", "tokens+pseudo",
                                                                                       "official")


def test_defaults_are_the_full_variant(tiny_backbone):
    c = I3Config()
    assert c.model_type == "i3"
    full = ("full", True, 1, 1, 32)
    assert (c.variant, c.interaction, c.reconstructor_layers, c.interactor_layers, c.num_slots) == full
    assert (c.reconstructor_attends_to, c.interactor_input, c.slot_format) == ("tokens", "tokens+pseudo", "mask")
    assert (c.tied_encoders, c.vocab_head, c.tie_vocab_head, c.query_max_length) == (False, True, True, 32)
    official = I3Config(variant="official")
    assert (official.reconstructor_attends_to, official.interactor_input, official.slot_format) == (
        "cls", "cls+pseudo-mean", "cls-mask-sep")
    assert (official.pooling, official.normalize, official.tie_vocab_head) == ("cls", False, False)
    assert I3Config(variant="de").interaction is False

    model = I3Model.from_backbone(str(tiny_backbone))
    c = model.config
    assert (c.variant, c.interaction, c.reconstructor_layers, c.interactor_layers, c.num_slots) == full
    assert (c.pooling, c.normalize) == ("cls", False)  # a plain BERT directory: no sentence-transformers hints
    assert _structure(model) == dict(query_encoder=True, interaction=True, r_layers=1, i_layers=1, slots=32,
                                     vocab_head=True, own_decoder=False)
    assert model.slot_ids.tolist() == [model.tokenizer.mask_token_id] * 32
    official = I3Model.from_backbone(str(tiny_backbone), variant="official")
    tok = model.tokenizer
    assert official.slot_ids.tolist() == [tok.cls_token_id] + [tok.mask_token_id] * 30 + [tok.sep_token_id]


BAD_OPTIONS = [
    (dict(variant="colbert"), "variant"),
    (dict(pooling="max"), "pooling"),
    (dict(reconstructor_attends_to="all"), "reconstructor_attends_to"),
    (dict(interactor_input="pseudo"), "interactor_input"),
    (dict(interactor_gate="yes"), "interactor_gate"),
    (dict(slot_format="masks"), "slot_format"),
    (dict(reconstructor_layers=0), "reconstructor_layers"),
    (dict(interactor_layers=-1), "interactor_layers"),
    (dict(num_slots=0), "num_slots"),
    (dict(variant="official", num_slots=2), "num_slots"),
    (dict(score_temperature=0), "score_temperature"),
    (dict(score_temperature=-1.0), "score_temperature"),
    (dict(query_max_length=4), "query_max_length"),
    (dict(passage_max_length=7), "passage_max_length"),
    (dict(reconstructor_layers="two"), "reconstructor_layers"),
    (dict(reconstructor_layers=1.5), "reconstructor_layers"),
    (dict(num_slots=None), "num_slots"),
    (dict(score_temperature="hot"), "score_temperature"),
    (dict(passage_max_length="long"), "passage_max_length"),
    (dict(normalize="no"), "normalize"),
    (dict(tied_encoders="false"), "tied_encoders"),
]


@pytest.mark.parametrize("options, name", BAD_OPTIONS, ids=lambda x: repr(x) if isinstance(x, dict) else None)
def test_bad_option_values_give_one_line_errors(options, name):
    with pytest.raises((ValueError, TypeError)) as exc:
        I3Config(**options)
    assert name in one_line(exc)


def test_bad_option_values_through_from_backbone(tiny_backbone):
    with pytest.raises(ValueError) as exc:
        I3Model.from_backbone(str(tiny_backbone), interactor_input="everything")
    assert "interactor_input" in one_line(exc)


# =========================================================================== loading what is not an I^3 model
@pytest.fixture(scope="module")
def saved_full(tiny_models, tmp_path_factory):
    return tiny_models["full"].save_pretrained(tmp_path_factory.mktemp("saved") / "full")


def _copy(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def _edit_config(directory: Path, **changes):
    file = directory / "config.json"
    data = json.loads(file.read_text())
    data.update(changes)
    file.write_text(json.dumps(data))


def _load_error(directory) -> str:
    with pytest.raises(ValueError) as exc:
        I3Model.from_pretrained(directory)
    return one_line(exc)


def test_loading_a_directory_without_config_json(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert "no config.json" in _load_error(tmp_path)


def test_loading_a_plain_bert_directory(tiny_backbone):
    message = _load_error(tiny_backbone)
    assert "'bert'" in message and "not an I^3 model" in message


def test_loading_a_missing_path(tmp_path):
    assert "not a model directory" in _load_error(tmp_path / "nowhere")


def test_loading_weights_that_do_not_match_the_config(saved_full, tmp_path):
    d = _copy(saved_full, tmp_path)
    _edit_config(d, interactor_layers=2)
    message = _load_error(d)
    assert "weights do not match config.json" in message and "missing" in message and "interactor.layers.1." in message


def test_loading_with_a_tensor_dropped(saved_full, tmp_path):
    from safetensors.torch import load_file, save_file

    d = _copy(saved_full, tmp_path)
    state = load_file(str(d / "model.safetensors"))
    del state["reconstructor.layers.0.linear1.weight"]
    save_file(state, str(d / "model.safetensors"))
    message = _load_error(d)
    assert "1 missing" in message and "reconstructor.layers.0.linear1.weight" in message


def test_loading_with_extra_or_reshaped_tensors(saved_full, tmp_path):
    d = _copy(saved_full, tmp_path)
    _edit_config(d, vocab_head=False)
    message = _load_error(d)
    assert "unexpected" in message and "vocab_head." in message

    d = _copy(saved_full, tmp_path / "b")
    data = json.loads((d / "config.json").read_text())
    data["backbone_config"]["intermediate_size"] = 48
    (d / "config.json").write_text(json.dumps(data))
    message = _load_error(d)
    assert "different shape" in message and "vs [48" in message


def test_loading_broken_files(saved_full, tmp_path):
    d = _copy(saved_full, tmp_path / "a")
    (d / "model.safetensors").unlink()
    assert "no model.safetensors" in _load_error(d)

    d = _copy(saved_full, tmp_path / "b")
    (d / "config.json").write_text("{not json")
    assert "not a readable JSON config" in _load_error(d)

    d = _copy(saved_full, tmp_path / "c")
    _edit_config(d, pooling="max")
    message = _load_error(d)
    assert "config.json" in message and "pooling" in message


# =========================================================================== bad input
def test_bad_input(tiny_models):
    model = tiny_models["full"]
    for fn, what in ((model.encode_queries, "queries"), (model.encode_passages, "texts")):
        with pytest.raises(ValueError) as exc:
            fn([])
        assert "empty" in one_line(exc)
        with pytest.raises(TypeError) as exc:
            fn(["fine", "also fine", 3])
        assert f"{what}[2]" in one_line(exc) and "int" in str(exc.value)
        with pytest.raises(TypeError) as exc:
            fn(["fine", None])
        assert f"{what}[1]" in one_line(exc)
        with pytest.raises(TypeError):
            fn("a string, not a list")
        for too_short in (7, 0, -1):
            with pytest.raises(ValueError) as exc:
                fn(["fine"], max_length=too_short)
            assert "at least 8" in one_line(exc)
        with pytest.raises(ValueError) as exc:
            fn(["fine"], max_length=100_000)
        assert "positions" in one_line(exc)
        with pytest.raises(ValueError) as exc:
            fn(["fine"], batch_size=0)
        one_line(exc)
        fn(["fine"], max_length=8)  # the minimum is allowed


@pytest.mark.parametrize("name", VARIANTS)
def test_empty_strings_are_encoded(name, tiny_models):
    model = tiny_models[name]
    for vectors in (model.encode_queries(["", ""]), model.encode_passages(["", "", "cat"]),
                    model.encode_passages([""], titles=[""])):
        assert vectors.dtype == np.float32 and vectors.shape[1] == model.dim
        assert np.isfinite(vectors).all()


def test_titles(tiny_models):
    model = tiny_models["full"]
    texts = ["paris is the capital of france", "the cat sat"]
    with pytest.raises(ValueError) as exc:
        model.encode_passages(texts, titles=["only one"])
    assert "titles" in one_line(exc)
    with pytest.raises(ValueError) as exc:
        model.encode_passages(texts, titles="paris")
    assert "titles" in one_line(exc)
    with pytest.raises(TypeError) as exc:
        model.encode_passages(texts, titles=["paris", 7])
    assert "titles[1]" in one_line(exc)
    # title [SEP] text; no title, no separator
    with_titles = model.encode_passages(texts, titles=["france", None])
    joined = model.encode_passages(["france [SEP] paris is the capital of france", "the cat sat"])
    np.testing.assert_allclose(with_titles, joined, atol=1e-5, rtol=0)
    assert np.abs(with_titles[0] - model.encode_passages(texts[:1])[0]).max() > 1e-4


def test_long_queries_are_truncated_at_query_max_length(tiny_models):
    model = tiny_models["full"]
    ids = model.tokenizer(LONG_QUERY, add_special_tokens=False)["input_ids"]
    assert len(ids) > 40
    head = model.tokenizer.decode(ids[:30])  # 30 pieces + [CLS] + [SEP] = 32
    np.testing.assert_allclose(model.encode_queries([LONG_QUERY]), model.encode_queries([head]), atol=1e-5, rtol=0)
    assert np.abs(model.encode_queries([LONG_QUERY], max_length=64) - model.encode_queries([head])).max() > 1e-4


# =========================================================================== backbone resolution
def test_hub_id_resolves_offline_to_the_bundled_copy(monkeypatch, tmp_path, minilm_path):
    import time

    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # not cached: the package
    start = time.monotonic()
    assert Path(resolve_model_path(MINILM)).resolve() == minilm_path.resolve()
    assert time.monotonic() - start < 5  # no hub retries

    with pytest.raises(ValueError) as exc:
        resolve_model_path("someone/not-bundled-model")
    assert "HF_HUB_OFFLINE" in one_line(exc)


def test_non_existent_local_paths(tmp_path, tiny_backbone):
    for path in (str(tmp_path / "no-such-model"), "./no-such-model-dir", "~/no-such-model-dir"):
        with pytest.raises(ValueError) as exc:
            resolve_model_path(path)
        assert "not a model directory" in one_line(exc)
    with pytest.raises(ValueError) as exc:
        I3Model.from_backbone(str(tmp_path / "no-such-model"))
    assert "no-such-model" in one_line(exc)
    with pytest.raises(ValueError) as exc:
        resolve_model_path(str(tiny_backbone / "vocab.txt"))  # a file, not a directory
    one_line(exc)
