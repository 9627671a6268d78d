"""Import the authors' released checkpoints (III_finetuned.p, III_distilled.p).

Their layout (a torch state dict, keys optionally prefixed ``module.`` by DDP):
``lm_q.*`` / ``lm_p.*`` (BERT encoders without pooler), ``c_head.{i}.*`` (the
reconstructor: BERT layers with cross-attention), ``d_head.{i}.*`` (the
interactor: BERT layers) and ``cls.predictions.*`` (a BERT MLM head).  We map it
onto the "official" variant: CLS pooling, raw dot product, untied encoders and
vocabulary head, the reconstructor attending to the passage CLS vector, the
interactor over [CLS ; mean(pseudo-query)].

BERT keeps q/k/v projections apart; ``torch.nn.MultiheadAttention`` packs them
into ``in_proj_weight`` in that order, so they are concatenated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from pyserini_i3.modeling.model import I3Model

# BERT layer sub-keys -> torch transformer-layer sub-keys
_ATTENTION = {  # (BERT prefix, torch prefix, LayerNorm target)
    "attention": ("self_attn", "norm1"),
    "crossattention": ("multihead_attn", "norm2"),
}
_FFN_ENCODER = {"intermediate.dense": "linear1", "output.dense": "linear2", "output.LayerNorm": "norm2"}
_FFN_DECODER = {"intermediate.dense": "linear1", "output.dense": "linear2", "output.LayerNorm": "norm3"}
_HEAD = {
    "cls.predictions.transform.dense": "vocab_head.dense",
    "cls.predictions.transform.LayerNorm": "vocab_head.layer_norm",
    "cls.predictions.decoder": "vocab_head.decoder",
}


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint file") from None
    except Exception as exc:  # pickle errors, zip errors, ...
        raise ValueError(f"{path}: not a torch state dict ({type(exc).__name__}: {_one_line(exc)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a torch state dict of tensors")
    return state


def _one_line(exc: Exception, limit: int = 200) -> str:
    """The gist of an exception in one line (torch.load's weights-only errors span many)."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    gist = lines[0] if lines else ""
    return gist if len(gist) <= limit else gist[:limit - 3] + "..."


def _bert_layer(src: dict[str, torch.Tensor], prefix: str, dst_prefix: str, decoder: bool) -> dict:
    out = {}
    for bert_name, (torch_name, norm) in _ATTENTION.items():
        if bert_name == "crossattention" and not decoder:
            continue
        base = f"{prefix}.{bert_name}"
        for kind in ("weight", "bias"):
            out[f"{dst_prefix}.{torch_name}.in_proj_{kind}"] = torch.cat(
                [src[f"{base}.self.{p}.{kind}"] for p in ("query", "key", "value")], dim=0
            )
            out[f"{dst_prefix}.{torch_name}.out_proj.{kind}"] = src[f"{base}.output.dense.{kind}"]
            out[f"{dst_prefix}.{norm}.{kind}"] = src[f"{base}.output.LayerNorm.{kind}"]
    for bert_name, torch_name in (_FFN_DECODER if decoder else _FFN_ENCODER).items():
        for kind in ("weight", "bias"):
            out[f"{dst_prefix}.{torch_name}.{kind}"] = src[f"{prefix}.{bert_name}.{kind}"]
    return out


def _layer_indices(state: dict, head: str) -> list[int]:
    found = {int(m.group(1)) for k in state if (m := re.match(rf"{head}\.(\d+)\.", k))}
    return sorted(found)


def map_official_state_dict(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int, int]:
    """(our state dict, reconstructor layers, interactor layers) from the official layout."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    for needed in ("lm_q.", "lm_p.", "c_head.", "d_head.", "cls.predictions."):
        if not any(k.startswith(needed) for k in state):
            raise ValueError(f"not an I^3 checkpoint in the authors' layout: no '{needed}*' weights")
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(("position_ids", "token_type_ids")):
            continue  # buffers, rebuilt from the config
        for src, dst in (("lm_q.", "query_encoder."), ("lm_p.", "passage_encoder.")):
            if key.startswith(src) and ".pooler." not in key:
                out[dst + key[len(src):]] = value
    c_layers, d_layers = _layer_indices(state, "c_head"), _layer_indices(state, "d_head")
    try:
        for i in c_layers:
            out.update(_bert_layer(state, f"c_head.{i}", f"reconstructor.layers.{i}", decoder=True))
        for i in d_layers:
            out.update(_bert_layer(state, f"d_head.{i}", f"interactor.layers.{i}", decoder=False))
        for src, dst in _HEAD.items():
            out[f"{dst}.weight"] = state[f"{src}.weight"]
            if src != "cls.predictions.decoder":
                out[f"{dst}.bias"] = state[f"{src}.bias"]
        out["vocab_head.bias"] = state["cls.predictions.bias"]
    except KeyError as exc:
        raise ValueError(f"incomplete I^3 checkpoint: missing {exc.args[0]}") from None
    return out, len(c_layers), len(d_layers)


def convert_official(checkpoint, base: str, output: str | os.PathLike | None = None,
                     num_slots: int = 32, query_max_length: int = 32, passage_max_length: int = 140,
                     base_name: str | None = None) -> I3Model:
    """Build our model from an official checkpoint (a path or a loaded state dict).

    ``base`` is the BERT directory (or hub id) it was fine-tuned from: it supplies
    the backbone config and tokenizer only (its weights are not read: the checkpoint
    holds every weight, loaded strictly).  ``base_name`` is what ``config.backbone``
    records (default: ``base``; the released encoders record the hub id rather than
    a cache path).  Defaults follow the authors' scripts (32 slots, query length 32,
    passage length 140).
    """
    from transformers import AutoTokenizer

    from pyserini_i3.modeling.backbone import resolve_model_path
    from pyserini_i3.modeling.config import I3Config

    state = load_state_dict(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    source = str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "checkpoint"
    try:
        mapped, c_layers, d_layers = map_official_state_dict(state)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    path = resolve_model_path(str(base))
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = I3Config.for_backbone(
        str(base_name or base), path, tokenizer, variant="official", num_slots=num_slots,
        reconstructor_layers=c_layers, interactor_layers=d_layers, query_max_length=query_max_length,
        passage_max_length=passage_max_length,
    )
    model = I3Model(config, tokenizer)  # every weight comes from the checkpoint (strict load below)
    model.load_weights(mapped, source=source)
    model.eval()
    if output is not None:
        model.save_pretrained(Path(output))
    return model
