"""Interpolating a trained model towards its base (``python -m pyserini_i3 interpolate``)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from helpers import command
from pyserini_i3.modeling.interpolate import interpolate
from pyserini_i3.modeling.model import I3Model

PASSAGES = ["alpha beta gamma delta", "the quick brown fox", "gamma ray bursts in the early universe"]
QUERIES = ["alpha gamma", "fox"]


def _trained(backbone, path, lora: bool = False, **config) -> I3Model:
    """A stand-in for a trained model: the start moved by random amounts (encoders and gate)."""
    torch.manual_seed(0)
    model = I3Model.from_backbone(str(backbone), **config)
    if lora:
        from pyserini_i3.modeling.delta import add_lora

        add_lora(model, 2)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if lora and "lora_B" in name or not lora and name.startswith("passage_encoder.") \
                    or "interactor.gate" in name:
                param.add_(0.05 * torch.randn_like(param))
    model.save_pretrained(path)
    return model


def _vectors(model_dir) -> np.ndarray:
    model = I3Model.from_pretrained(model_dir)
    return np.concatenate([model.encode_passages(PASSAGES), model.encode_queries(QUERIES)])


def _base_vectors(backbone, **config) -> np.ndarray:
    model = I3Model.from_backbone(str(backbone), variant="de", **config)
    return np.concatenate([model.encode_passages(PASSAGES), model.encode_queries(QUERIES)])


@pytest.mark.parametrize("config", [{"variant": "de"}, {"variant": "full", "interactor_gate": "linear"},
                                    {"variant": "full", "interactor_gate": "scalar", "tied_encoders": True}])
def test_weight_0_is_the_base_and_weight_1_the_model(tiny_backbone, tmp_path, config):
    _trained(tiny_backbone, tmp_path / "model", **config)
    model = _vectors(tmp_path / "model")
    base = _base_vectors(tiny_backbone, tied_encoders=config.get("tied_encoders", False))
    assert np.abs(model - base).max() > 1e-3  # training moved it
    interpolate(tmp_path / "model", 0.0, tmp_path / "w0")
    interpolate(tmp_path / "model", 1.0, tmp_path / "w1")
    interpolate(tmp_path / "model", 0.5, tmp_path / "half")
    assert np.abs(_vectors(tmp_path / "w0") - base).max() < 1e-5
    assert np.abs(_vectors(tmp_path / "w1") - model).max() < 1e-5
    half = _vectors(tmp_path / "half")
    assert np.abs(half - base).max() > 1e-4 and np.abs(half - model).max() > 1e-4
    record = json.loads((tmp_path / "half" / "interpolation.json").read_text())
    assert record["weight"] == 0.5 and record["model"] == str(tmp_path / "model")


def test_the_encoder_weights_are_on_the_line_between_base_and_model(tiny_backbone, tmp_path):
    model = _trained(tiny_backbone, tmp_path / "model", variant="full", interactor_gate="linear")
    interpolate(tmp_path / "model", 0.25, tmp_path / "q")
    quarter = I3Model.from_pretrained(tmp_path / "q")
    start = I3Model.from_backbone(str(tiny_backbone), variant="de")
    key = "encoder.layer.0.attention.self.query.weight"
    expected = start.passage_encoder.state_dict()[key] + 0.25 * (
        model.passage_encoder.state_dict()[key] - start.passage_encoder.state_dict()[key])
    assert torch.allclose(quarter.passage_encoder.state_dict()[key], expected, atol=1e-6)
    assert torch.allclose(quarter.interactor.gate.weight, 0.25 * model.interactor.gate.weight, atol=1e-7)
    assert torch.equal(quarter.interactor.layers[0].linear1.weight, model.interactor.layers[0].linear1.weight)


def test_a_delta_directory_stays_compact(tiny_backbone, tmp_path):
    _trained(tiny_backbone, tmp_path / "model", lora=True, variant="full", interactor_gate="linear")
    assert (tmp_path / "model" / "i3_delta.json").is_file()
    model, base = _vectors(tmp_path / "model"), _base_vectors(tiny_backbone)
    interpolate(tmp_path / "model", 0.0, tmp_path / "w0")
    interpolate(tmp_path / "model", 1.0, tmp_path / "w1")
    assert not (tmp_path / "w0" / "model.safetensors").exists() and (tmp_path / "w0" / "i3_delta.json").is_file()
    assert np.abs(_vectors(tmp_path / "w0") - base).max() < 1e-5
    assert np.abs(_vectors(tmp_path / "w1") - model).max() < 1e-5


def _cli(*args) -> subprocess.CompletedProcess:
    return command("interpolate", *args)


def test_models_whose_start_is_not_the_base_and_bad_weights_are_refused_in_one_line(tiny_backbone, tmp_path):
    _trained(tiny_backbone, tmp_path / "plain", variant="full")  # random heads: the start is not the base
    for args, message in [((tmp_path / "plain", "--weight", "0.5", "--output", tmp_path / "out"),
                           "interpolation needs a model whose start is its base"),
                          ((tmp_path / "plain", "--weight", "1.5", "--output", tmp_path / "out"),
                           "--weight must be between 0 (the base) and 1 (the model), not 1.5"),
                          ((tmp_path / "plain", "--weight", "0.5", "--output", tmp_path / "plain"),
                           "is the model itself"),
                          ((tmp_path / "nope", "--weight", "0.5", "--output", tmp_path / "out"),
                           "no such I^3 model directory")]:
        proc = _cli(*args)
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
        assert proc.stderr.startswith("interpolate: ") and message in proc.stderr
    assert not (tmp_path / "out").exists()
    _trained(tiny_backbone, tmp_path / "de", variant="de")
    proc = _cli(tmp_path / "de", "--weight", "0.5", "--output", tmp_path / "out")
    assert proc.returncode == 0 and (tmp_path / "out" / "model.safetensors").is_file()
