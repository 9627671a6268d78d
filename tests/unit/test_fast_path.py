"""The inference fast path (``I3Config.fast_path`` / ``$PYSERINI_I3_FAST_PATH``).

* ``off`` (the default) is the reference computation, bit for bit;
* ``exact`` gives the same vectors up to float round-off (queries and DE: bit for bit);
* ``int8`` quantises the encoders on CPU only, keeps the float32 weights untouched,
  returns float32 vectors within cosine 0.99 of float32 (checked on all-MiniLM-L6-v2).

Fast checks only: timings belong to ``benchmarks/efficiency.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import MINILM, PASSAGES, QUERIES, load_offline
from pyserini_i3.modeling.config import I3Config
from pyserini_i3.modeling.fast_path import FAST_PATH_ENV
from pyserini_i3.modeling.model import I3Model

TITLES = ["France", None, "Berlin", "Dense", "", "Water", "History"]
LONG = " ".join(["the river runs from the mountain to the ocean and the city"] * 12)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def int8_modules(model: I3Model) -> list[str]:
    return [type(m).__name__ for module in model.fast.int8_copies().values() for m in module.modules()]


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(FAST_PATH_ENV, raising=False)


@pytest.fixture(scope="module")
def tiny(tiny_backbone):
    torch.manual_seed(0)
    models = {v: I3Model.from_backbone(str(tiny_backbone), variant=v) for v in ("full", "official", "de")}
    torch.manual_seed(1)
    models["full-2-layers"] = I3Model.from_backbone(str(tiny_backbone), pooling="mean", normalize=True,
                                                    reconstructor_layers=2, interactor_layers=2, num_slots=8)
    return models


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    return load_offline(I3Model.from_backbone, MINILM)


def encode(model: I3Model, mode: str | None = None):
    previous = model.config.fast_path
    if mode is not None:
        model.config.fast_path = mode
    try:
        texts = PASSAGES + [LONG]
        return (model.encode_passages(texts, titles=TITLES + ["Long"], batch_size=3),
                model.encode_queries(QUERIES, batch_size=4))
    finally:
        model.config.fast_path = previous


# =========================================================================== configuration
def test_off_by_default_and_saved_in_config_json(tiny, tmp_path):
    model = tiny["full"]
    assert model.config.fast_path == "off" and model.fast_path() == "off"
    model.config.fast_path = "int8"
    try:
        model.save_pretrained(tmp_path / "m")
    finally:
        model.config.fast_path = "off"
    assert json.loads((tmp_path / "m" / "config.json").read_text())["fast_path"] == "int8"
    loaded = I3Model.from_pretrained(tmp_path / "m")
    assert loaded.config.fast_path == "int8" and loaded.fast_path() == "int8"
    data = json.loads((tmp_path / "m" / "config.json").read_text())
    del data["fast_path"]  # a model directory written before the field existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(data))
    assert I3Model.from_pretrained(tmp_path / "m").fast_path() == "off"


def test_bad_values_fail_in_one_line(tiny, monkeypatch):
    with pytest.raises(ValueError, match=r"I3Config.fast_path must be one of off, exact, int8, not 'fp8'") as e:
        I3Config(backbone_config=tiny["de"].config.backbone_config, fast_path="fp8")
    assert "\n" not in str(e.value)
    monkeypatch.setenv(FAST_PATH_ENV, "int4")
    with pytest.raises(ValueError, match=r"\$PYSERINI_I3_FAST_PATH must be one of off, exact, int8, not 'int4'"):
        tiny["de"].encode_queries(["x"])


def test_environment_variable_overrides_the_model_directory(tiny, monkeypatch):
    model = tiny["de"]
    monkeypatch.setenv(FAST_PATH_ENV, "INT8 ")
    assert model.fast_path() == "int8"
    model.config.fast_path = "int8"
    try:
        monkeypatch.setenv(FAST_PATH_ENV, "off")
        assert model.fast_path() == "off"
        monkeypatch.setenv(FAST_PATH_ENV, "")
        assert model.fast_path() == "int8"
    finally:
        model.config.fast_path = "off"


def test_training_mode_turns_it_off(tiny):
    model = tiny["full"]
    model.config.fast_path = "int8"
    model.train()
    try:
        assert model.fast_path() == "off"
    finally:
        model.eval()
        model.config.fast_path = "off"
    assert model.fast_path() == "off"


# =========================================================================== off and exact
@pytest.mark.parametrize("variant", ["full", "official", "de", "full-2-layers"])
def test_off_is_the_reference_computation_bit_for_bit(tiny, variant, monkeypatch):
    model = tiny[variant]
    calls = []
    monkeypatch.setattr(model.fast, "passage_vectors", lambda *a: calls.append(a))
    monkeypatch.setattr(model.fast, "query_vectors", lambda *a: calls.append(a))
    passages, queries = encode(model)
    assert not calls
    texts = [model.join_title(t, ti) for t, ti in zip(PASSAGES + [LONG], TITLES + ["Long"])]
    reference = model._encode(texts, model.config.passage_max_length, 3, model.passage_vectors, False, "")
    assert np.array_equal(passages, reference)
    assert np.array_equal(queries, model._encode(QUERIES, model.config.query_max_length, 4,
                                                 model.query_vectors, False, ""))
    monkeypatch.setenv(FAST_PATH_ENV, "off")
    assert np.array_equal(encode(model, "int8")[0], passages)


@pytest.mark.parametrize("variant", ["full", "official", "de", "full-2-layers"])
def test_exact_gives_the_same_vectors(tiny, variant):
    model = tiny[variant]
    passages, queries = encode(model)
    fast_passages, fast_queries = encode(model, "exact")
    assert fast_passages.dtype == np.float32 and fast_passages.shape == passages.shape
    np.testing.assert_allclose(fast_passages, passages, atol=1e-5, rtol=0)
    assert np.array_equal(fast_queries, queries)  # the query side has nothing to restate
    if variant == "de":
        assert np.array_equal(fast_passages, passages)
    assert not model.fast.int8_copies()


def test_exact_does_not_depend_on_batching(tiny):
    model = tiny["full"]
    model.config.fast_path = "exact"
    try:
        texts = PASSAGES + [LONG]
        together = model.encode_passages(texts, batch_size=len(texts))
        alone = np.vstack([model.encode_passages([t]) for t in texts])
    finally:
        model.config.fast_path = "off"
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


# =========================================================================== int8
def test_int8_is_close_to_float32_and_float32_weights_stay(minilm):
    """Cosine > 0.99 on text with VNNI (8-bit activations). Without VNNI torch's x86 kernels
    need 7-bit activations: measured on an AMD EPYC without it, passages 0.976-0.986 and
    queries (a few tokens, less averaging) 0.950-0.983, the empty string 0.922, so the floors
    are 0.97 / 0.94 / 0.90 there (per-tensor weights would give about 0.92 on average over
    text). The empty strings are left out of the text checks: with one or two tokens mean
    pooling averages no rounding away."""
    from pyserini_i3.modeling.fast_path import cpu_has_vnni

    vnni = cpu_has_vnni()
    passage_floor, query_floor, any_floor = (0.99, 0.99, 0.95) if vnni else (0.97, 0.94, 0.90)
    before = {k: v.clone() for k, v in minilm.state_dict().items()}
    passages, queries = encode(minilm)
    int8_passages, int8_queries = encode(minilm, "int8")
    assert int8_passages.dtype == np.float32 and int8_queries.dtype == np.float32
    assert int8_passages.shape == passages.shape and int8_queries.shape == queries.shape
    text_passages = [i for i, t in enumerate(PASSAGES + [LONG]) if t]
    text_queries = [i for i, t in enumerate(QUERIES) if t]
    assert cosines(int8_passages[text_passages], passages[text_passages]).min() > passage_floor
    assert cosines(int8_queries[text_queries], queries[text_queries]).min() > query_floor
    assert cosines(int8_passages, passages).min() > any_floor
    assert not np.array_equal(int8_passages, passages)  # it did run quantised
    assert "Int8Linear" in int8_modules(minilm)
    after = minilm.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.dtype == torch.float32 for p in minilm.parameters())
    assert encode(minilm)[0].tobytes() == passages.tobytes()  # off again: the float32 model, unchanged


def test_int8_copy_is_rebuilt_when_the_weights_change(tiny):
    model = tiny["de"]
    model.config.fast_path = "int8"
    try:
        first = model.encode_queries(QUERIES)
        copy = model.fast.int8_copies()["query_encoder"]
        assert model.encode_queries(QUERIES) is not None and model.fast.int8_copies()["query_encoder"] is copy
        with torch.no_grad():
            weight = model.query_encoder.encoder.layer[0].intermediate.dense.weight
            weight.mul_(2.0)
        try:
            second = model.encode_queries(QUERIES)
            assert model.fast.int8_copies()["query_encoder"] is not copy
            assert not np.allclose(first, second)
        finally:
            with torch.no_grad():
                weight.div_(2.0)
    finally:
        model.config.fast_path = "off"
        model.fast.drop_int8_copies()


def test_int8_never_quantises_off_the_cpu(tiny, monkeypatch):
    """On a GPU (simulated: the model reports a CUDA device) int8 means exact: nothing is quantised."""
    import pyserini_i3.modeling.fast_path as fast_path_module

    model = tiny["full"]
    model.config.fast_path = "int8"
    try:
        monkeypatch.setattr(type(model), "device", property(lambda self: torch.device("cuda", 0)))
        mode = model.fast_path()
        assert mode == "exact"

        def refuse(module):
            raise AssertionError("quantised for a GPU model")

        monkeypatch.setattr(fast_path_module, "quantize_int8", refuse)
        batch = model.tokenize(PASSAGES, 64)  # run on the CPU tensors: only the decision is simulated
        with torch.inference_mode():
            passages = model.fast.passage_vectors(batch, mode)
            queries = model.fast.query_vectors(batch, mode)
        assert passages.dtype == torch.float32 and queries.dtype == torch.float32
    finally:
        model.config.fast_path = "off"
    assert not model.fast.int8_copies()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (the simulated check above runs)")
def test_int8_on_a_real_gpu_is_not_quantised(tiny):
    model = tiny["full"].to("cuda")
    model.config.fast_path = "int8"
    try:
        assert model.fast_path() == "exact"
        vectors = model.encode_passages(PASSAGES)
        assert vectors.dtype == np.float32 and not model._int8_cache
    finally:
        model.config.fast_path = "off"
        tiny["full"].to("cpu")


def test_pyserini_encoders_follow_the_model_directory(tiny, tmp_path, monkeypatch):
    from pyserini_i3.plugin.encoders import I3DocumentEncoder, I3QueryEncoder

    model = tiny["full"]
    model.config.fast_path = "int8"
    try:
        model.save_pretrained(tmp_path / "i3-int8")
    finally:
        model.config.fast_path = "off"
    model.save_pretrained(tmp_path / "i3")
    query = I3QueryEncoder(str(tmp_path / "i3-int8"))
    assert query.model.fast_path() == "int8"
    vector = query.encode("capital of france")
    assert vector.dtype == np.float32 and vector.shape == (model.dim,)
    assert "Int8Linear" in int8_modules(query.model)
    document = I3DocumentEncoder(str(tmp_path / "i3"))
    assert document.model.fast_path() == "off"
    monkeypatch.setenv(FAST_PATH_ENV, "int8")  # the command-line route
    assert document.model.fast_path() == "int8"
    assert document.encode(PASSAGES[:3], titles=TITLES[:3]).dtype == np.float32
