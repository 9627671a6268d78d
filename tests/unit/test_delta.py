"""The compact model format (LoRA adapters + I^3 heads over a checksummed base).

Training runs use the tiny random BERT of tests/helpers.py, so each takes seconds.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers import PASSAGES, base_args, log, run, write_training_file

LORA = ["--lora-rank", "4", "--learning-rate", "1e-2", "--max-steps", "3"]


@pytest.fixture(scope="module")
def base(tiny_backbone, tmp_path_factory):
    """The module's copy of the tiny base (a test that tampers with it puts it back)."""
    return shutil.copytree(tiny_backbone, tmp_path_factory.mktemp("delta") / "base")


@pytest.fixture(scope="module")
def trained(base):
    """One LoRA run over that base, shared by the tests that read it."""
    data = write_training_file(base.parent / "train.jsonl")
    out = base.parent / "lora"
    run(base_args(base, data, out, *LORA))
    return out


def test_lora_output_stores_only_adapters_and_heads(trained):
    files = {p.name for p in trained.iterdir()}
    assert "model.safetensors" not in files
    assert {"config.json", "adapter_config.json", "adapter_model.safetensors", "i3_heads.safetensors",
            "i3_delta.json"} <= files
    adapters = load_file(str(trained / "adapter_model.safetensors"))
    heads = load_file(str(trained / "i3_heads.safetensors"))
    assert adapters and all("lora_" in k for k in adapters)
    assert heads and all(k.split(".")[0] in ("reconstructor", "interactor", "vocab_head") for k in heads)
    assert log(trained)[-1]["step"] == 3


def test_rebuilt_model_equals_the_trained_one_and_differs_from_the_base(trained, base):
    """Adapters merged at load time give the vectors of the adapter model that training ended with."""
    import json

    from pyserini_i3.modeling.delta import add_lora, load_trainable_state
    from pyserini_i3.modeling.model import I3Model

    rebuilt = I3Model.from_pretrained(trained)
    assert not any("lora_" in k for k in rebuilt.state_dict())  # a plain model: merged, unwrapped
    # the same model, independently: the base, the adapters unmerged, the heads
    args = json.loads((trained / "training_args.json").read_text())
    reference = I3Model.from_backbone(str(base), variant="full", query_max_length=args["query_max_length"],
                                      passage_max_length=args["passage_max_length"])
    add_lora(reference, args["lora_rank"])
    load_trainable_state(reference, trained)
    reference.eval()
    texts = [p for p in PASSAGES if p]
    with torch.inference_mode():
        assert np.abs(rebuilt.encode_passages(texts) - reference.encode_passages(texts)).max() < 1e-5
        assert np.abs(rebuilt.encode_queries(texts) - reference.encode_queries(texts)).max() < 1e-5
    untrained = I3Model.from_backbone(str(base), variant="de")
    assert np.abs(rebuilt.encode_queries(texts) - untrained.encode_queries(texts)).max() > 1e-3


def test_other_base_weights_are_refused_in_one_line(trained, base):
    from pyserini_i3.modeling.model import I3Model

    weights = base / "model.safetensors"
    original = weights.read_bytes()
    state = load_file(str(weights))
    key = next(k for k in state if k.endswith("query.weight"))
    state[key] = state[key] + 1e-3
    save_file(state, str(weights))
    try:
        with pytest.raises(ValueError) as err:
            I3Model.from_pretrained(trained)
    finally:
        weights.write_bytes(original)
    message = str(err.value)
    assert "\n" not in message and "not the ones this encoder was trained on" in message and str(trained) in message


def test_missing_heads_file_is_named(trained, tmp_path):
    from pyserini_i3.modeling.model import I3Model

    copy = shutil.copytree(trained, tmp_path / "lora")
    (copy / "i3_heads.safetensors").unlink()
    with pytest.raises(ValueError, match="i3_heads.safetensors is missing"):
        I3Model.from_pretrained(copy)


def test_lora_run_resumes_to_the_same_model(base, tmp_path):
    data = write_training_file(tmp_path / "train.jsonl")
    steps = ["--lora-rank", "4", "--learning-rate", "1e-2", "--save-steps", "2"]
    run(base_args(base, data, tmp_path / "straight", *steps, "--max-steps", "4"))
    run(base_args(base, data, tmp_path / "cut", *steps, "--max-steps", "4", "--save-total-limit", "5"))
    # resume from the step-2 checkpoint of a finished run: drop its later state and its final model
    cut = tmp_path / "cut"
    for name in ("adapter_model.safetensors", "i3_heads.safetensors", "i3_delta.json"):
        (cut / name).unlink()
    shutil.rmtree(cut / "checkpoint-4")  # the Trainer also checkpoints the last step
    run(base_args(base, data, cut, *steps, "--max-steps", "4", "--resume", "true"))
    for name in ("adapter_model.safetensors", "i3_heads.safetensors"):
        a, b = load_file(str(tmp_path / "straight" / name)), load_file(str(cut / name))
        assert a.keys() == b.keys()
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


def test_lora_on_an_i3_directory_is_refused(trained, tmp_path):
    data = write_training_file(tmp_path / "train.jsonl")
    proc = run(base_args(trained, data, tmp_path / "x", *LORA), check=False)
    assert proc.returncode == 1
    assert "--lora-rank adds adapters to a plain backbone" in proc.stderr.strip().splitlines()[-1]
