"""The inference routes (``I3Model.fast_path``: the explicit ``fast_path=`` argument, else
``config.fast_path``; in Pyserini's commands ``$PYSERINI_I3_FAST_PATH``, read when the encoder is made).

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

import pyserini_i3.modeling.heads as heads_module
import pyserini_i3.modeling.quantize as quantize_module
from helpers import MINILM, PASSAGES, QUERIES, load_offline
from pyserini_i3.modeling.config import I3Config
from pyserini_i3.modeling.model import I3Model

FAST_PATH_ENV = "PYSERINI_I3_FAST_PATH"
TITLES = ["France", None, "Berlin", "Dense", "", "Water", "History"]
LONG = " ".join(["the river runs from the mountain to the ocean and the city"] * 12)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def int8_modules(model: I3Model) -> list[str]:
    return [type(m).__name__ for module in model.int8_copies().values() for m in module.modules()]


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
    texts = PASSAGES + [LONG]
    return (model.encode_passages(texts, titles=TITLES + ["Long"], batch_size=3, fast_path=mode),
            model.encode_queries(QUERIES, batch_size=4, fast_path=mode))


# =========================================================================== configuration
def test_off_by_default_and_saved_in_config_json(tiny, tiny_backbone, tmp_path):
    assert tiny["full"].config.fast_path == "off" and tiny["full"].fast_path() == "off"
    torch.manual_seed(0)
    I3Model.from_backbone(str(tiny_backbone), variant="full", fast_path="int8").save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["fast_path"] == "int8"
    loaded = I3Model.from_pretrained(tmp_path / "m")
    assert loaded.config.fast_path == "int8" and loaded.fast_path() == "int8"
    assert loaded.fast_path("off") == "off" and loaded.fast_path("exact") == "exact"  # the argument wins
    data = json.loads((tmp_path / "m" / "config.json").read_text())
    del data["fast_path"]  # a model directory written before the field existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(data))
    assert I3Model.from_pretrained(tmp_path / "m").fast_path() == "off"


def test_bad_values_fail_in_one_line(tiny, tmp_path, monkeypatch):
    from pyserini_i3.plugin.encoders import I3QueryEncoder

    with pytest.raises(ValueError, match=r"I3Config.fast_path must be one of off, exact, int8, not 'fp8'") as e:
        I3Config(backbone_config=tiny["de"].config.backbone_config, fast_path="fp8")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"^fast_path must be one of off, exact, int8, not 'int4'$"):
        tiny["de"].encode_queries(["x"], fast_path="int4")
    tiny["de"].save_pretrained(tmp_path / "de")
    monkeypatch.setenv(FAST_PATH_ENV, "int4")
    with pytest.raises(ValueError, match=r"\$PYSERINI_I3_FAST_PATH must be one of off, exact, int8, not 'int4'"):
        I3QueryEncoder(str(tmp_path / "de"))


def test_training_mode_turns_it_off(tiny):
    model = tiny["full"]
    model.train()
    try:
        assert model.fast_path("int8") == "off" and model.fast_path("exact") == "off"
    finally:
        model.eval()
    assert model.fast_path("int8") == "int8"


def test_encoding_leaves_the_allocator_alone(tiny, monkeypatch):
    """glibc's allocator tuning is a caller's opt-in (utils.memory), never a side effect of encoding."""
    import pyserini_i3.utils.memory as memory

    def refuse():
        raise AssertionError("encoding tuned the allocator")

    monkeypatch.setattr(memory, "keep_freed_memory", refuse)
    for mode in ("off", "exact", "int8"):
        encode(tiny["full"], mode)
    tiny["full"].drop_int8_copies()


# =========================================================================== off and exact
@pytest.mark.parametrize("variant", ["full", "official", "de", "full-2-layers"])
def test_off_is_the_reference_computation_bit_for_bit(tiny, variant, monkeypatch):
    """``off`` never takes the heads' restated attention, makes no int8 copy, and is what the loss sees."""
    model = tiny[variant]

    def refuse(*_args, **_kwargs):
        raise AssertionError("the off route ran the fast attention")

    monkeypatch.setattr(heads_module, "attention", refuse)
    passages, queries = encode(model)
    assert np.array_equal(encode(model, "off")[0], passages)
    batch = model.tokenize([model.join_title(t, ti) for t, ti in zip(PASSAGES, TITLES)],
                           model.config.passage_max_length)
    with torch.inference_mode():  # the training forward's own call
        reference = model.passage_vectors(batch, fast_path="off")
        alone = model.encode_passages(PASSAGES, titles=TITLES, batch_size=len(PASSAGES))
    np.testing.assert_allclose(alone, reference.numpy(), atol=1e-6, rtol=0)  # padding: round-off only
    assert not model.int8_copies()


@pytest.mark.parametrize("variant", ["full", "official", "de", "full-2-layers"])
def test_exact_gives_the_same_vectors(tiny, variant, monkeypatch):
    model = tiny[variant]
    passages, queries = encode(model)
    calls = []
    attention = heads_module.attention
    monkeypatch.setattr(heads_module, "attention", lambda *a: calls.append(1) or attention(*a))
    fast_passages, fast_queries = encode(model, "exact")
    assert bool(calls) == model.config.interaction  # it did take the restated heads
    assert fast_passages.dtype == np.float32 and fast_passages.shape == passages.shape
    np.testing.assert_allclose(fast_passages, passages, atol=1e-5, rtol=0)
    assert np.array_equal(fast_queries, queries)  # the query side has nothing to restate
    if variant == "de":
        assert np.array_equal(fast_passages, passages)
    assert not model.int8_copies()


def test_exact_does_not_depend_on_batching(tiny):
    model = tiny["full"]
    texts = PASSAGES + [LONG]
    together = model.encode_passages(texts, batch_size=len(texts), fast_path="exact")
    alone = np.vstack([model.encode_passages([t], fast_path="exact") for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


def test_the_pseudo_query_is_the_same_on_both_routes(tiny):
    model = tiny["full-2-layers"]
    batch = model.tokenize(PASSAGES, 64)
    with torch.inference_mode():
        v_off, q_off = model.passage_vectors(batch, return_pseudo_query=True, fast_path="off")
        v_fast, q_fast = model.passage_vectors(batch, return_pseudo_query=True, fast_path="exact")
    assert q_fast.shape == q_off.shape
    torch.testing.assert_close(q_fast, q_off, atol=1e-5, rtol=0)
    torch.testing.assert_close(v_fast, v_off, atol=1e-5, rtol=0)


# =========================================================================== int8
def test_int8_is_close_to_float32_and_float32_weights_stay(minilm):
    """Cosine > 0.99 on text with VNNI (8-bit activations). Without VNNI torch's x86 kernels
    need 7-bit activations: measured on an AMD EPYC without it, passages 0.976-0.986 and
    queries (a few tokens, less averaging) 0.950-0.983, the empty string 0.922, so the floors
    are 0.97 / 0.94 / 0.90 there (per-tensor weights would give about 0.92 on average over
    text). The empty strings are left out of the text checks: with one or two tokens mean
    pooling averages no rounding away."""
    from pyserini_i3.modeling.quantize import cpu_has_vnni

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
    try:
        first = model.encode_queries(QUERIES, fast_path="int8")
        copy = model.int8_copies()["query_encoder"]
        assert model.encode_queries(QUERIES, fast_path="int8") is not None
        assert model.int8_copies()["query_encoder"] is copy
        with torch.no_grad():
            weight = model.query_encoder.encoder.layer[0].intermediate.dense.weight
            weight.mul_(2.0)
        try:
            second = model.encode_queries(QUERIES, fast_path="int8")
            assert model.int8_copies()["query_encoder"] is not copy
            assert not np.allclose(first, second)
        finally:
            with torch.no_grad():
                weight.div_(2.0)
    finally:
        model.drop_int8_copies()
    assert not model.int8_copies()


def test_int8_never_quantises_off_the_cpu(tiny, monkeypatch):
    """On a GPU (simulated: the model reports a CUDA device) int8 means exact: nothing is quantised."""
    model = tiny["full"]
    monkeypatch.setattr(type(model), "device", property(lambda self: torch.device("cuda", 0)))
    assert model.fast_path("int8") == "exact"

    def refuse(module):
        raise AssertionError("quantised for a GPU model")

    monkeypatch.setattr(quantize_module, "quantize_int8", refuse)
    batch = model.tokenize(PASSAGES, 64)  # run on the CPU tensors: only the decision is simulated
    with torch.inference_mode():
        passages = model.passage_vectors(batch, fast_path="int8")
        queries = model.query_vectors(batch, fast_path="int8")
    assert passages.dtype == torch.float32 and queries.dtype == torch.float32
    assert not model.int8_copies()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (the simulated check above runs)")
def test_int8_on_a_real_gpu_is_not_quantised(tiny):
    model = tiny["full"].to("cuda")
    try:
        assert model.fast_path("int8") == "exact"
        vectors = model.encode_passages(PASSAGES, fast_path="int8")
        assert vectors.dtype == np.float32 and not model.int8_copies()
    finally:
        tiny["full"].to("cpu")


def test_pyserini_encoders_follow_the_model_directory_and_the_environment(tiny, tiny_backbone, tmp_path, monkeypatch):
    """The model directory's route, unless ``$PYSERINI_I3_FAST_PATH`` (read once, when the encoder is made)
    names another; ``$PYSERINI_I3_KEEP_FREED_MEMORY=1`` opts the process into the allocator tuning."""
    import pyserini_i3.utils.memory as memory
    from pyserini_i3.plugin.encoders import I3DocumentEncoder, I3QueryEncoder

    torch.manual_seed(0)
    I3Model.from_backbone(str(tiny_backbone), variant="full", fast_path="int8").save_pretrained(tmp_path / "i3-int8")
    tiny["full"].save_pretrained(tmp_path / "i3")
    tuned = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: tuned.append(1))
    query = I3QueryEncoder(str(tmp_path / "i3-int8"))
    assert query.fast_path is None and query.model.fast_path(query.fast_path) == "int8"
    vector = query.encode("capital of france")
    assert vector.dtype == np.float32 and vector.shape == (tiny["full"].dim,)
    assert "Int8Linear" in int8_modules(query.model)
    document = I3DocumentEncoder(str(tmp_path / "i3"))
    assert document.model.fast_path(document.fast_path) == "off"
    monkeypatch.setenv(FAST_PATH_ENV, "int8")
    assert document.model.fast_path(document.fast_path) == "off"  # read when the encoder was made, not per call
    monkeypatch.setenv(FAST_PATH_ENV, " INT8 ")  # the command-line route
    document = I3DocumentEncoder(str(tmp_path / "i3"))
    assert document.fast_path == "int8"
    assert document.encode(PASSAGES[:3], titles=TITLES[:3]).dtype == np.float32
    assert "Int8Linear" in int8_modules(document.model)
    assert not tuned
    monkeypatch.setenv("PYSERINI_I3_KEEP_FREED_MEMORY", "1")
    I3DocumentEncoder(str(tmp_path / "i3"))
    assert tuned == [1]
