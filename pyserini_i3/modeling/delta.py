"""The compact model format: LoRA adapters and I^3 heads over a checksummed base.

A model trained with ``--lora-rank R`` changes the backbone only through peft's
low-rank adapters, so its directory need not repeat the base weights that an
installed package (or the hub) already carries.  Such a directory holds

    config.json                I3Config, as in every I^3 model directory
    adapter_config.json        peft's LoraConfig
    adapter_model.safetensors  the adapters (peft's state-dict naming)
    i3_heads.safetensors       reconstructor, interactor and vocabulary head
    i3_delta.json              the base (config.backbone) and the SHA-256 of its weights
    tokenizer files

and ``I3Model.from_pretrained`` (:mod:`pyserini_i3.modeling.storage`) rebuilds the full model from it: it loads the base
named in config.json, checks the checksum, adds the adapters and merges them
(peft), then loads the heads.  The result is a plain I^3 model, as fast as any.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
HEADS_WEIGHTS = "i3_heads.safetensors"
ENCODERS = ("passage_encoder", "query_encoder")
# BERT-family layer names: attention projections and both feed-forward matrices
DEFAULT_TARGETS = r".*encoder\.layer\.\d+\..*(query|key|value|dense)$"


def is_head_key(key: str) -> bool:
    """A state-dict key of the I^3 heads (reconstructor, interactor, vocabulary head), not an encoder's."""
    return key.split(".", 1)[0] not in ENCODERS


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 over a module's tensors (names, dtypes, shapes, float32 bytes), file-format independent."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}|{list(t.shape)}|".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def has_lora(model: nn.Module) -> bool:
    return getattr(model, "_lora_config", None) is not None


def add_lora(model: nn.Module, rank: int, alpha: float = 0.0, dropout: float = 0.0,
             target_modules: str = DEFAULT_TARGETS) -> nn.Module:
    """Put trainable LoRA adapters on the encoders; freeze the rest of them; heads stay trainable."""
    from peft import LoraConfig, inject_adapter_in_model

    if rank < 1:
        raise ValueError(f"--lora-rank must be at least 1, not {rank}")
    base_sha = weights_sha256(model.passage_encoder)
    config = LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, lora_dropout=dropout, target_modules=target_modules)
    inject_adapter_in_model(config, model)  # freezes everything but the adapters
    if not any("lora_" in name for name, _ in model.named_parameters()):
        raise ValueError(f"--lora-target-modules {target_modules!r} matches no layer of the encoder")
    for name, param in model.named_parameters():
        if is_head_key(name):
            param.requires_grad_(True)  # reconstructor, interactor, vocabulary head: trained in full
    model._lora_config = config
    model._base_sha256 = base_sha
    return model


def trainable_state(model: nn.Module) -> tuple[dict, dict]:
    """(adapter weights in peft's naming, head weights)."""
    from peft import get_peft_model_state_dict

    adapters = {k: v.detach().contiguous().cpu() for k, v in get_peft_model_state_dict(model).items()}
    heads = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items() if is_head_key(k)}
    return adapters, heads


def save_delta(model: nn.Module, directory: Path) -> dict:
    """Write the adapter and head files; return the delta's description, which the caller
    (:func:`pyserini_i3.modeling.storage.save_model_dir`) writes as ``i3_delta.json``."""
    from safetensors.torch import save_file

    adapters, heads = trainable_state(model)
    model._lora_config.save_pretrained(str(directory))
    save_file(adapters, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    save_file(heads, str(directory / HEADS_WEIGHTS), metadata={"format": "pt"})
    return {
        "format": "i3-lora-delta",
        "base": model.config.backbone,
        "base_weights_sha256": model._base_sha256,
        "files": {"adapters": ADAPTER_WEIGHTS, "adapter_config": ADAPTER_CONFIG, "heads": HEADS_WEIGHTS},
    }


def load_trainable_state(model: nn.Module, directory: Path) -> None:
    """Adapters and heads from ``directory`` into a model that has adapters (resuming training)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    result = set_peft_model_state_dict(model, load_file(str(directory / ADAPTER_WEIGHTS)))
    if getattr(result, "unexpected_keys", None):
        raise ValueError(f"{directory}/{ADAPTER_WEIGHTS}: adapters the model does not have "
                         f"(e.g. {result.unexpected_keys[0]})")
    _load_heads(model, directory)


def _load_heads(model: nn.Module, directory: Path) -> None:
    from safetensors.torch import load_file

    heads = load_file(str(directory / HEADS_WEIGHTS))
    own = {k for k in model.state_dict() if is_head_key(k)}
    if set(heads) != own:
        extra, missing = sorted(set(heads) - own), sorted(own - set(heads))
        raise ValueError(f"{directory}/{HEADS_WEIGHTS}: weights do not match config.json "
                         f"({len(missing)} missing, {len(extra)} unexpected, e.g. {(missing + extra)[0]})")
    model.load_state_dict(heads, strict=False)


def rebuild(model: nn.Module, directory: Path, meta: dict, load_base) -> nn.Module:
    """Fill a freshly built I3Model from a delta directory: base, checksum, adapters merged, heads.

    ``meta`` is the directory's ``i3_delta.json``; ``load_base(name)`` returns the backbone
    module named ``name`` (config.backbone).
    """
    from peft import LoraConfig, inject_adapter_in_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    directory = Path(directory)
    for key in ("adapters", "adapter_config", "heads"):
        if not (directory / meta["files"][key]).is_file():
            raise ValueError(f"{directory}: {meta['files'][key]} is missing (named in its delta description)")
    base = load_base(meta["base"])
    found = weights_sha256(base)
    if found != meta["base_weights_sha256"]:
        raise ValueError(
            f"{directory}: the base weights of {meta['base']} (sha256 {found[:12]}...) are not the ones this "
            f"encoder was trained on ({meta['base_weights_sha256'][:12]}...); it cannot be rebuilt from them")
    for name in ENCODERS:
        encoder = getattr(model, name, None)
        if encoder is not None:
            encoder.load_state_dict(base.state_dict())
    config = LoraConfig.from_pretrained(str(directory))
    inject_adapter_in_model(config, model)
    load_trainable_state(model, directory)
    for parent in list(model.modules()):  # merge W += B A * scale, then put the plain layer back
        for child_name, child in list(parent.named_children()):
            if isinstance(child, BaseTunerLayer):
                child.merge()
                setattr(parent, child_name, child.get_base_layer())
    for param in model.parameters():
        param.requires_grad_(True)
    return model
