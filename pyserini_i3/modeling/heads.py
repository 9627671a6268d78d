"""The two small modules I^3 adds on the passage side, and the vocabulary head.

Both are stacks of standard post-LayerNorm transformer layers (``torch.nn``'s,
which have the same arithmetic as a BERT layer and run on any backbone):

* ``Reconstructor`` (the pseudo-query generator R): a non-autoregressive decoder
  over m query slots that self-attends over the slots and cross-attends to the
  passage (all token states, or the pooled vector).
* ``Interactor`` (I): an encoder over the passage and the pseudo-query; its
  output at position 0 is the query-aware passage vector.
* ``VocabHead``: the MLM-head shape (dense, activation, LayerNorm, decoder) that
  turns slot states into token logits for the reconstruction loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def activation(name: str):
    """A ``torch.nn`` transformer-layer activation for a Hugging Face ``hidden_act``."""
    if name in ("gelu", "relu"):
        return name  # strings keep torch's fused inference path
    from transformers.activations import ACT2FN

    return ACT2FN[name]


def _layer_kwargs(bb) -> dict:
    return dict(
        d_model=bb.hidden_size,
        nhead=bb.num_attention_heads,
        dim_feedforward=getattr(bb, "intermediate_size", 4 * bb.hidden_size),
        dropout=getattr(bb, "hidden_dropout_prob", 0.1),
        activation=activation(getattr(bb, "hidden_act", "gelu")),
        layer_norm_eps=getattr(bb, "layer_norm_eps", 1e-12),
        batch_first=True,
        norm_first=False,
    )


class Reconstructor(nn.Module):
    def __init__(self, backbone_config, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerDecoderLayer(**_layer_kwargs(backbone_config)) for _ in range(num_layers)
        )

    def forward(self, slots: torch.Tensor, memory: torch.Tensor, memory_padding: torch.Tensor | None = None):
        """slots [B, m, d]; memory [B, n, d]; memory_padding [B, n] (True = padding)."""
        hidden = slots
        for layer in self.layers:
            hidden = layer(hidden, memory, memory_key_padding_mask=memory_padding)
        return hidden


class Interactor(nn.Module):
    """``gate`` (``I3Model``'s identity start, see :meth:`gated`): ``"none"``, a scalar ``gate``
    initialised to 0 (``"scalar"``) or a d x d ``gate`` projection initialised to 0 (``"linear"``)."""

    def __init__(self, backbone_config, num_layers: int, gate: str = "none"):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(**_layer_kwargs(backbone_config)) for _ in range(num_layers)
        )
        self.gate: nn.Parameter | nn.Linear | None = None
        if gate == "scalar":
            self.gate = nn.Parameter(torch.zeros(()))
        elif gate == "linear":
            self.gate = nn.Linear(backbone_config.hidden_size, backbone_config.hidden_size, bias=False)
        self.zero_gate()

    def zero_gate(self) -> None:
        """Set the gate to 0 (the identity start); ``I3Model`` calls it again after initialising the heads."""
        if isinstance(self.gate, nn.Linear):
            nn.init.zeros_(self.gate.weight)
        elif self.gate is not None:
            nn.init.zeros_(self.gate)

    def gated(self, pooled: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """``output`` itself, or ``pooled + gate * (output - pooled)`` (scalar) / ``pooled + gate(output -
        pooled)`` (linear): ``pooled`` while the gate is 0."""
        if self.gate is None:
            return output
        if isinstance(self.gate, nn.Linear):
            return pooled + self.gate(output - pooled)
        return pooled + self.gate.to(output.dtype) * (output - pooled)

    def forward(self, hidden: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        """hidden [B, n, d]; padding [B, n] (True = padding); returns position 0, [B, d]."""
        for layer in self.layers:
            hidden = layer(hidden, src_key_padding_mask=padding)
        return hidden[:, 0]


class VocabHead(nn.Module):
    """dense -> activation -> LayerNorm -> decoder (+ bias); decoder tied or own."""

    def __init__(self, backbone_config, tied: bool):
        super().__init__()
        d, vocab = backbone_config.hidden_size, backbone_config.vocab_size
        self.dense = nn.Linear(d, d)
        act = getattr(backbone_config, "hidden_act", "gelu")
        self.act = F.gelu if act == "gelu" else activation(act)
        self.layer_norm = nn.LayerNorm(d, eps=getattr(backbone_config, "layer_norm_eps", 1e-12))
        self.decoder = None if tied else nn.Linear(d, vocab, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, hidden: torch.Tensor, tied_weight: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.layer_norm(self.act(self.dense(hidden)))
        weight = self.decoder.weight if self.decoder is not None else tied_weight
        return F.linear(hidden, weight, self.bias)


def init_like_bert(module: nn.Module, std: float) -> None:
    """BERT's initialisation (normal(0, std) weights, zero biases, unit LayerNorm)."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.MultiheadAttention):
            nn.init.normal_(sub.in_proj_weight, std=std)
            nn.init.zeros_(sub.in_proj_bias)
    if isinstance(module, VocabHead):
        nn.init.zeros_(module.bias)
