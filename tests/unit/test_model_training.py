"""One training step of I3Model.forward on a tiny batch (tiny random BERT, 2 queries x 2 passages)."""

from __future__ import annotations

import pytest
import torch

from pyserini_i3.modeling.model import IGNORE_INDEX, I3Model, I3Output

QUERIES = ["capital of france", "what is dense retrieval"]
PASSAGES = [  # grouped by query: positive first, then a hard negative
    "paris is the capital of france", "berlin is the capital of germany",
    "dense retrieval uses one vector per passage", "the cat sat on the old red book",
]
TEACHER = torch.tensor([[6.0, -2.0], [5.0, 1.0]])  # a cross-encoder's scores, [queries, passages per query]


def make_model(backbone, variant, **options) -> I3Model:
    torch.manual_seed(0)
    return I3Model.from_backbone(str(backbone), variant=variant, **options)


def batch(model: I3Model):
    c = model.config
    return dict(
        query_inputs=model.tokenize(QUERIES, c.query_max_length),
        passage_inputs=model.tokenize(PASSAGES, c.passage_max_length),
        reconstruction_labels=model.reconstruction_labels([QUERIES[0], None, QUERIES[1], None]),
    )


def grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def evaluate(model: I3Model, inputs: dict, **extra) -> I3Output:
    model.eval()
    with torch.no_grad():
        return model(**inputs, **extra)


@pytest.mark.parametrize("variant", ["full", "official", "de"])
def test_one_step_lowers_the_loss_and_reaches_every_head(tiny_backbone, variant):
    model = make_model(tiny_backbone, variant)
    inputs = batch(model)
    before = evaluate(model, inputs, teacher_scores=TEACHER)

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    out = model(**inputs, teacher_scores=TEACHER)
    assert out.scores.shape == (2, 4)
    torch.testing.assert_close(out.loss, before.loss, atol=1e-5, rtol=0)  # no dropout in the tiny config
    out.loss.backward()

    assert grad_norm(model.query_encoder) > 0 and grad_norm(model.passage_encoder) > 0
    if variant == "de":
        assert not hasattr(model, "reconstructor") and not hasattr(model, "interactor")
    else:
        for name in ("reconstructor", "interactor", "vocab_head"):
            assert grad_norm(getattr(model, name)) > 0, name
        if model.config.tie_vocab_head:
            assert model.vocab_head.decoder is None  # the word embeddings serve as the decoder
        else:
            assert model.vocab_head.decoder.weight.grad.norm() > 0
    optimizer.step()
    optimizer.zero_grad()

    after = evaluate(model, inputs, teacher_scores=TEACHER)
    assert after.loss < before.loss, (before.components(), after.components())


@pytest.mark.parametrize("variant", ["full", "official", "de"])
def test_loss_components(tiny_backbone, variant):
    model = make_model(tiny_backbone, variant)
    inputs = batch(model)

    plain = evaluate(model, inputs)
    assert float(plain.contrastive_loss) > 0
    assert float(plain.distillation_loss) == 0.0  # no teacher scores
    if variant == "de":
        assert float(plain.reconstruction_loss) == 0.0  # no reconstructor
    else:
        assert float(plain.reconstruction_loss) > 0
    torch.testing.assert_close(plain.loss, plain.contrastive_loss + plain.reconstruction_loss)

    taught = evaluate(model, inputs, teacher_scores=TEACHER, reconstruction_weight=0.5, distillation_weight=2.0)
    assert float(taught.distillation_loss) > 0
    torch.testing.assert_close(taught.contrastive_loss, plain.contrastive_loss)
    torch.testing.assert_close(taught.reconstruction_loss, plain.reconstruction_loss)
    torch.testing.assert_close(
        taught.loss, taught.contrastive_loss + 0.5 * taught.reconstruction_loss + 2.0 * taught.distillation_loss)
    parts = taught.components()
    assert set(parts) == {"loss", "contrastive", "reconstruction", "distillation"}
    assert all(isinstance(v, float) for v in parts.values())

    # the KL term is the teacher's softmax against the student's over each query's own candidates
    own = torch.stack([taught.scores[i, 2 * i:2 * i + 2] for i in range(2)])
    teacher = torch.softmax(TEACHER, -1)
    kl = (teacher * (teacher.log() - torch.log_softmax(own, -1))).sum(-1).mean()
    torch.testing.assert_close(taught.distillation_loss, kl)

    # contrastive: each query's positive (first of its group) against every passage in the batch
    torch.testing.assert_close(plain.contrastive_loss,
                               torch.nn.functional.cross_entropy(plain.scores, torch.tensor([0, 2])))

    # no target, no reconstruction loss
    no_targets = dict(inputs, reconstruction_labels=model.reconstruction_labels([None, None, "", None]))
    assert float(evaluate(model, no_targets).reconstruction_loss) == 0.0


def test_reconstruction_labels(tiny_backbone):
    model = make_model(tiny_backbone, "full", num_slots=8)
    labels = model.reconstruction_labels(["capital of france", None, "", " ".join(["cat"] * 20)])
    assert labels.shape == (4, 8) and labels.dtype == torch.long
    ids = model.tokenizer("capital of france", add_special_tokens=False)["input_ids"]
    assert labels[0, :len(ids)].tolist() == ids and (labels[0, len(ids):] == IGNORE_INDEX).all()
    assert (labels[1] == IGNORE_INDEX).all() and (labels[2] == IGNORE_INDEX).all()
    assert (labels[3] == model.tokenizer.convert_tokens_to_ids("cat")).all()  # truncated to the slots


def test_reconstruction_loss_trains_the_pseudo_query(tiny_backbone):
    """A few steps on the reconstruction loss alone make the slots predict the target query."""
    model = make_model(tiny_backbone, "full", num_slots=8)
    inputs = batch(model)
    before = evaluate(model, inputs).reconstruction_loss
    model.train()
    optimizer = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("query_encoder")],
                                  lr=3e-3)
    for _ in range(5):
        out = model(**inputs)
        out.reconstruction_loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = evaluate(model, inputs).reconstruction_loss
    assert after < 0.9 * before, (float(before), float(after))


def test_training_input_errors(tiny_backbone):
    model = make_model(tiny_backbone, "full")
    inputs = batch(model)
    inputs["passage_inputs"] = model.tokenize(PASSAGES[:3], 64)
    with pytest.raises(ValueError, match="3 passages for 2 queries"):
        model(**{k: v for k, v in inputs.items() if k != "reconstruction_labels"})
