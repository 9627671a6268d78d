"""The ablation options of issue 12: the identity start (``interactor_gate``: scalar or linear) and the capacity
control (``variant="de-layer"``: the interactor over the passage alone, no pseudo-query)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import MINILM, PASSAGES, QUERIES, load_offline
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.training.batching import Collator, TrainGroups
from pyserini_i3.training.examples import Passage, TrainingExample


def _pair(backbone, **options):
    """(DE, I^3 with ``options``) on the same backbone weights; the I^3 heads drawn with another seed."""
    de = I3Model.from_backbone(str(backbone), variant="de")
    torch.manual_seed(7)
    return de, I3Model.from_backbone(str(backbone), **options)


def _gate_values(model) -> torch.Tensor:
    gate = model.interactor.gate
    return (gate.weight if isinstance(gate, torch.nn.Linear) else gate).detach()


@pytest.mark.parametrize("gate", ["scalar", "linear"])
@pytest.mark.parametrize("variant", ["full", "official"])
@pytest.mark.parametrize("fast_path", ["off", "exact"])
def test_identity_start_equals_the_de_before_training(tiny_backbone, variant, fast_path, gate):
    de, gated = _pair(tiny_backbone, variant=variant, interactor_gate=gate,
                      pooling="cls" if variant == "official" else None)
    assert not _gate_values(gated).any()
    np.testing.assert_allclose(gated.encode_passages(PASSAGES, fast_path=fast_path),
                               de.encode_passages(PASSAGES, fast_path=fast_path), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(gated.encode_queries(QUERIES, fast_path=fast_path),
                                  de.encode_queries(QUERIES, fast_path=fast_path))
    # without the gate, the random interactor moves every passage vector
    _, plain = _pair(tiny_backbone, variant=variant)
    assert np.abs(plain.encode_passages(PASSAGES, fast_path=fast_path)
                  - de.encode_passages(PASSAGES, fast_path=fast_path)).max() > 1e-2


@pytest.mark.parametrize("gate", ["scalar", "linear"])
def test_identity_start_on_minilm_equals_the_zero_shot_base(gate):
    de = load_offline(I3Model.from_backbone, MINILM, variant="de")
    torch.manual_seed(3)
    gated = load_offline(I3Model.from_backbone, MINILM, variant="full", interactor_gate=gate)
    np.testing.assert_allclose(gated.encode_passages(PASSAGES), de.encode_passages(PASSAGES), atol=1e-6, rtol=0)


@pytest.mark.parametrize("gate", ["scalar", "linear"])
def test_the_gate_learns_from_zero(tiny_backbone, gate):
    _, model = _pair(tiny_backbone, interactor_gate=gate)
    queries, passages = ["capital of france", "dense retrieval"], [
        "paris is the capital of france", "the cat sat", "dense retrieval uses one vector", "old red book"]
    inputs = dict(query_inputs=model.tokenize(queries, 16), passage_inputs=model.tokenize(passages, 32),
                  reconstruction_labels=model.reconstruction_labels([queries[0], None, queries[1], None]))
    model.train()
    out = model(**inputs)
    out.loss.backward()
    grad = model.interactor.gate.weight.grad if gate == "linear" else model.interactor.gate.grad
    assert float(grad.abs().max()) > 0.0
    # at g = 0 the contrastive loss cannot reach the interactor; the reconstruction loss still trains R
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0 for p in model.interactor.layers.parameters())
    assert any(p.grad is not None and float(p.grad.abs().max()) > 0 for p in model.reconstructor.parameters())
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert _gate_values(model).any()
    # after one step the contrastive loss reaches the interactor through the gate
    model.zero_grad()
    model(**inputs).loss.backward()
    assert any(p.grad is not None and float(p.grad.abs().max()) > 0 for p in model.interactor.layers.parameters())


def test_gate_configs_saved_before_linear_existed_still_load(tiny_backbone, tmp_path):
    from pyserini_i3.modeling.config import I3Config

    assert I3Config(interactor_gate=True).interactor_gate == "scalar"
    assert I3Config(interactor_gate=False).interactor_gate == "none"
    assert I3Config(interactor_gate="true").interactor_gate == "scalar"
    _, model = _pair(tiny_backbone, interactor_gate="linear")
    model.save_pretrained(tmp_path / "m")
    again = I3Model.from_pretrained(tmp_path / "m")
    assert again.config.interactor_gate == "linear" and isinstance(again.interactor.gate, torch.nn.Linear)
    np.testing.assert_array_equal(again.encode_passages(PASSAGES), model.encode_passages(PASSAGES))


def test_de_layer_has_an_interactor_and_no_pseudo_query(tiny_backbone):
    de, layer = _pair(tiny_backbone, variant="de-layer")
    assert layer.reconstructor is None and layer.vocab_head is None and len(layer.interactor.layers) == 1
    assert not any(k.startswith(("reconstructor.", "vocab_head.")) for k in layer.state_dict())
    assert layer.config.reconstructs is False and layer.config.interaction is True
    assert np.abs(layer.encode_passages(PASSAGES) - de.encode_passages(PASSAGES)).max() > 1e-2
    np.testing.assert_array_equal(layer.encode_queries(QUERIES), de.encode_queries(QUERIES))
    # the interactor sees [p ; H_p[1:]]: a passage vector depends on its own tokens, not on padding
    one = layer.encode_passages(PASSAGES[:1])
    np.testing.assert_allclose(layer.encode_passages(PASSAGES)[:1], one, atol=1e-6, rtol=0)


def test_de_layer_training_batches_carry_no_reconstruction_targets(tiny_backbone):
    _, layer = _pair(tiny_backbone, variant="de-layer")
    example = TrainingExample("1", "capital of france", [Passage("p", "", "paris is the capital", None, "paris")],
                              [Passage("n", "", "the cat sat")])
    batch = Collator(layer, 16, 32)([TrainGroups([example], 2).group(0, 0)])
    assert "reconstruction_labels" not in batch
    out = layer(**batch, reconstruction_labels=layer.reconstruction_labels(["paris", None]))
    assert float(out.reconstruction_loss) == 0.0
