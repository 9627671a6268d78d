"""The inference fast path of an ``I3Model``: the same vectors for less work, optionally int8.

Modes (``I3Config.fast_path``, overridden per process by ``$PYSERINI_I3_FAST_PATH``):

* ``off``: the reference computation, ``I3Model.passage_vectors`` / ``query_vectors``
  exactly as in training.
* ``exact``: the same function with less work.  Only position 0 of the interactor's
  output is used, so its last layer computes keys and values for every position but
  queries, attention and feed-forward for position 0 alone; the reconstructor's slots
  are the same for every passage, so its first layer's self-attention over them runs
  once per batch; attention runs as projections plus one
  ``scaled_dot_product_attention`` call.  Vectors equal ``off``'s up to float
  round-off; queries and DE models (no interactor) are bit-identical.
* ``int8``: ``exact`` plus int8 dynamic quantisation of the query and passage
  encoders' ``nn.Linear`` layers (torch's ``quantize_dynamic``: int8 weights per
  output channel, activations quantised on the fly, 8 bits on CPUs with VNNI and 7
  without); the I^3 heads stay float32.  CPU only: on any other device ``int8`` means
  ``exact``.  The int8 copies are made at the first call, kept beside the float32
  weights (which stay untouched) and rebuilt when those change.

On CPU both fast modes also ask glibc's allocator to keep freed memory for reuse
(``mallopt``, process-wide, once), as jemalloc or tcmalloc would.  In training mode
(dropout active) the fast path is off; vectors are float32 whatever the mode.
Measurements and the choice of torch over ONNX Runtime: ``docs/efficiency.md``.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from pyserini_i3.modeling.config import check_fast_path

FAST_PATH_ENV = "PYSERINI_I3_FAST_PATH"  # off | exact | int8: overrides config.fast_path (the CLI route)
ENCODERS = ("passage_encoder", "query_encoder")


class FastPath:
    """The inference routes of one model (``model.fast``); holds its int8 encoder copies."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._int8: dict[str, tuple] = {}  # encoder name -> (key of the float32 weights, int8 copy)

    # ------------------------------------------------------------------ which route
    def mode(self) -> str:
        """The route the next ``encode_queries`` / ``encode_passages`` call takes."""
        model = self.model
        env = os.environ.get(FAST_PATH_ENV, "").strip().lower()
        mode = check_fast_path(env, f"${FAST_PATH_ENV}") if env else model.config.fast_path
        if mode == "off" or model.training:
            return "off"
        if model.device.type != "cpu":
            return "exact"
        keep_freed_memory()
        return mode

    def encoder(self, module: nn.Module, mode: str) -> nn.Module:
        """``module`` itself, or (``int8``) its int8 dynamic-quantised copy, cached."""
        if mode != "int8":
            return module
        name = "passage_encoder" if module is self.model.passage_encoder else "query_encoder"
        key = tuple((p.data_ptr(), p._version) for p in module.parameters())
        cached = self._int8.get(name)
        if cached is None or cached[0] != key:
            cached = (key, quantize_int8(module))
            self._int8[name] = cached
        return cached[1]

    def int8_copies(self) -> dict[str, nn.Module]:
        """The int8 encoder copies made so far, by encoder name (empty until an ``int8`` call)."""
        return {name: copy for name, (_, copy) in self._int8.items()}

    def drop_int8_copies(self) -> None:
        """Forget the int8 copies (the next ``int8`` call makes them again)."""
        self._int8.clear()

    # ------------------------------------------------------------------ the routes
    def query_vectors(self, inputs: dict, mode: str) -> torch.Tensor:
        model = self.model
        hidden = self.encoder(model.query_model(), mode)(**inputs).last_hidden_state
        return model._finish(model._pool(hidden, inputs["attention_mask"]))

    def passage_vectors(self, inputs: dict, mode: str) -> torch.Tensor:
        """``I3Model.passage_vectors`` for inference: the same function."""
        model = self.model
        mask = inputs["attention_mask"]
        hidden = self.encoder(model.passage_encoder, mode)(**inputs).last_hidden_state
        pooled = model._pool(hidden, mask)
        if not model.config.interaction:
            return model._finish(pooled)
        padding = mask == 0
        pseudo = None
        if model.config.reconstructs:
            memory, memory_padding = model._memory(hidden, pooled, padding)
            pseudo = self.reconstruct(model._slots(1).to(hidden.dtype), memory, memory_padding)
        sequence, seq_padding = model._interactor_input(pooled, hidden, padding, pseudo)
        return model._finish(model.interactor.gated(pooled, self.interact(sequence, seq_padding)))

    def reconstruct(self, slots, memory, memory_padding):
        """``model.reconstructor(slots.expand(B), memory, memory_padding)`` with less work.

        The slots are the same for every passage, so the first layer's self-attention
        over them is computed once (``slots`` is [1, m, d]) and shared by the batch.
        """
        keep = None if memory_padding is None else ~memory_padding[:, None, None, :]
        batch = memory.size(0)
        hidden = slots
        for layer in self.model.reconstructor.layers:
            if not plain_post_ln(layer):
                hidden = layer(hidden.expand(batch, -1, -1), memory, memory_key_padding_mask=memory_padding)
                continue
            hidden = layer.norm1(hidden + attention(layer.self_attn, hidden, hidden, None))
            hidden = layer.norm2(hidden.expand(batch, -1, -1) + attention(layer.multihead_attn, hidden, memory, keep))
            hidden = layer.norm3(hidden + layer.linear2(layer.activation(layer.linear1(hidden))))
        return hidden.expand(batch, -1, -1)

    def interact(self, sequence, padding):
        """``model.interactor(sequence, padding)`` (position 0): the last layer for position 0 only."""
        *first, last = self.model.interactor.layers
        for layer in first:
            sequence = layer(sequence, src_key_padding_mask=padding)
        if not plain_post_ln(last):
            return last(sequence, src_key_padding_mask=padding)[:, 0]
        keep = None if padding is None else ~padding[:, None, None, :]
        head = sequence[:, :1]
        head = last.norm1(head + attention(last.self_attn, head, sequence, keep))
        head = last.norm2(head + last.linear2(last.activation(last.linear1(head))))
        return head[:, 0]


def plain_post_ln(layer: nn.Module) -> bool:
    """A torch transformer layer the fast path can restate: post-LN, one in-projection, no extra k/v bias."""
    attentions = [getattr(layer, n) for n in ("self_attn", "multihead_attn") if hasattr(layer, n)]
    return not getattr(layer, "norm_first", False) and all(
        a._qkv_same_embed_dim and a.bias_k is None and not a.add_zero_attn and a.in_proj_bias is not None
        for a in attentions
    )


def attention(attn: nn.MultiheadAttention, query: torch.Tensor, memory: torch.Tensor, keep):
    """``attn(query, memory, memory)`` (batch first, eval) as projections + one SDPA call.

    ``keep`` is a boolean mask broadcastable to [B, heads, n_query, n_memory], True
    where attention is allowed (the complement of a key padding mask), or None.
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


_ALLOCATOR_TUNED = False


def keep_freed_memory() -> None:
    """glibc only, once per process: serve blocks below 1 GiB from the heap and never trim it
    below 1 GiB, so that freed activations are reused instead of mapped and faulted in again."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - another libc
        pass


def cpu_has_vnni() -> bool:
    """AVX-512 VNNI / AVX-VNNI: int8 dot products accumulate in int32, no 16-bit saturation."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def quantize_int8(module: nn.Module) -> nn.Module:
    """An int8 dynamic-quantised copy of ``module``'s ``nn.Linear`` layers (CPU; float32 in and out).

    Weights: int8 per output channel.  Activations: quantised per tensor on the fly,
    with all 8 bits on a CPU with VNNI; without it torch's x86 kernels need 7 bits
    (``reduce_range``), since they can saturate 16-bit sums.
    """
    import warnings

    try:
        import torch.ao.nn.quantized.dynamic as nnqd
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - torch 2.13 has it
        raise RuntimeError(f"fast path int8 needs torch.ao.quantization.quantize_dynamic: {exc}") from None
    reduce_range = not cpu_has_vnni()

    class Int8Linear(nnqd.Linear):
        def forward(self, x):
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=reduce_range)
            return y.to(x.dtype)

    with torch.inference_mode(False), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that torchao is its successor
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                mapping={nn.Linear: Int8Linear}, inplace=False).eval()
