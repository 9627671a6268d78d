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

Reconstructor and interactor have one forward each.  Its ``fast`` option (inference,
``I3Model``'s ``exact`` and ``int8`` routes) computes the same function with less
work, layer by layer where a layer is plain post-LN (else the layer itself runs):
attention as projections plus one ``scaled_dot_product_attention`` call
(:func:`attention`); the reconstructor's first-layer self-attention over the slots,
which are the same for every passage, once per batch; the interactor's last layer
for position 0 only, the one position read.
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

    def forward(self, slots: torch.Tensor, memory: torch.Tensor, memory_padding: torch.Tensor | None = None,
                fast: bool = False):
        """slots [B, m, d], or [1, m, d] for slots shared by the batch; memory [B, n, d]; memory_padding
        [B, n] (True = padding); returns [B, m, d].  ``fast``: see the module's docstring (eval mode)."""
        batch = memory.size(0)
        keep = None if memory_padding is None else ~memory_padding[:, None, None, :]
        hidden = slots
        for layer in self.layers:
            if not (fast and plain_post_ln(layer)):
                hidden = layer(hidden.expand(batch, -1, -1), memory, memory_key_padding_mask=memory_padding)
                continue
            # while ``hidden`` is [1, m, d] (the shared slots) the self-attention runs once
            hidden = layer.norm1(hidden + attention(layer.self_attn, hidden, hidden, None))
            hidden = layer.norm2(hidden.expand(batch, -1, -1) + attention(layer.multihead_attn, hidden, memory, keep))
            hidden = layer.norm3(hidden + layer.linear2(layer.activation(layer.linear1(hidden))))
        return hidden.expand(batch, -1, -1)


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

    def forward(self, hidden: torch.Tensor, padding: torch.Tensor | None = None, fast: bool = False) -> torch.Tensor:
        """hidden [B, n, d]; padding [B, n] (True = padding); returns position 0, [B, d].  ``fast``: the last
        layer computes keys and values for every position but the rest for position 0 only (eval mode)."""
        *first, last = self.layers
        for layer in first:
            hidden = layer(hidden, src_key_padding_mask=padding)
        if not (fast and plain_post_ln(last)):
            return last(hidden, src_key_padding_mask=padding)[:, 0]
        keep = None if padding is None else ~padding[:, None, None, :]
        head = hidden[:, :1]
        head = last.norm1(head + attention(last.self_attn, head, hidden, keep))
        head = last.norm2(head + last.linear2(last.activation(last.linear1(head))))
        return head[:, 0]


def plain_post_ln(layer: nn.Module) -> bool:
    """A torch transformer layer ``fast`` can restate: post-LN, one in-projection, no extra k/v bias."""
    attentions = [getattr(layer, n) for n in ("self_attn", "multihead_attn") if hasattr(layer, n)]
    return not getattr(layer, "norm_first", False) and all(
        a._qkv_same_embed_dim and a.bias_k is None and not a.add_zero_attn and a.in_proj_bias is not None
        for a in attentions
    )


def attention(attn: nn.MultiheadAttention, query: torch.Tensor, memory: torch.Tensor, keep):
    """``attn(query, memory, memory)`` (batch first, eval) as projections + one SDPA call.

    ``keep`` is a boolean mask broadcastable to [B, heads, n_query, n_memory], True
    where attention is allowed (the complement of a key padding mask), or None.  A
    ``query`` of batch 1 against a larger ``memory`` batch is shared by the batch.
    """
    d, h = attn.embed_dim, attn.num_heads
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    q = F.linear(query, weight[:d], bias[:d])
    k, v = F.linear(memory, weight[d:], bias[d:]).chunk(2, dim=-1)
    if q.size(0) != k.size(0):  # one query set shared by the batch
        q = q.expand(k.size(0), -1, -1)

    def split(x):  # [B, n, d] -> [B, h, n, d/h]
        return x.unflatten(-1, (h, d // h)).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=keep)
    return attn.out_proj(out.transpose(1, 2).flatten(2))


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
