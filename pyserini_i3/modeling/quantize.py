"""int8 copies of an ``I3Model``'s encoders, for its ``int8`` inference route (CPU).

torch's dynamic quantisation (``quantize_dynamic``): int8 weights per output channel,
activations quantised on the fly, 8 bits on CPUs with VNNI and 7 without.  The copies
are made at the first ``int8`` call, kept beside the float32 weights (which stay
untouched, and are what the state dict holds) and rebuilt when those change.
The routes themselves (``off``, ``exact``, ``int8``) are ``I3Model.fast_path``; the
measurements and the choice of torch over ONNX Runtime: ``docs/efficiency.md``.
"""

from __future__ import annotations

import torch
from torch import nn


class Int8Copies:
    """One int8 copy per encoder name, rebuilt when the float32 weights it was made from change."""

    def __init__(self):
        self._copies: dict[str, tuple] = {}  # encoder name -> (key of the float32 weights, int8 copy)

    def get(self, name: str, module: nn.Module) -> nn.Module:
        """The int8 copy of ``module`` (made now if there is none or its weights changed)."""
        key = tuple((p.data_ptr(), p._version) for p in module.parameters())
        cached = self._copies.get(name)
        if cached is None or cached[0] != key:
            cached = (key, quantize_int8(module))
            self._copies[name] = cached
        return cached[1]

    def copies(self) -> dict[str, nn.Module]:
        """The copies made so far, by encoder name."""
        return {name: copy for name, (_, copy) in self._copies.items()}

    def clear(self) -> None:
        self._copies.clear()


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
