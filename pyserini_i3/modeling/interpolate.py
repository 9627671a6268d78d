"""A trained model pulled back towards its base: its update scaled by a weight (WiSE-FT).

Weight-space interpolation between a fine-tuned model and the model it started from
(Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022) keeps most of what
fine-tuning gained where it trained and most of what the start knew elsewhere.  It applies
to a model whose start *is* its base: a DE, or an I^3 with an identity start
(``interactor_gate`` ``scalar`` or ``linear``, whose untrained passage vectors are the
base's).  With weight ``w``:

* every encoder weight becomes ``base + w * (trained - base)``;
* the gate becomes ``w * gate``, so the interaction's share of the passage vector is
  scaled by ``w``; the interactor and reconstructor stay as trained (they reach the
  vector only through the gate).

``w = 0`` gives the base's vectors exactly, ``w = 1`` the model.  A delta directory (LoRA
adapters over a checksummed base, :mod:`pyserini_i3.modeling.delta`) stays compact: its
adapters' B matrices and its gate are scaled in the files.  The output is an I^3 model
directory like any other, with ``interpolation.json`` saying what it was made from.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

RECORD = "interpolation.json"
GATE_KEYS = ("interactor.gate", "interactor.gate.weight")  # scalar, linear


def check_interpolable(config) -> None:
    """One-line ValueError unless the model's start is its base (a DE or an identity start)."""
    if not config.starts_at_base:
        raise ValueError("interpolation needs a model whose start is its base: a DE or an I^3 with an identity start "
                         "(interactor_gate scalar or linear); this one has interactor_gate none, so its untrained "
                         "heads were random and the base is not on the line between start and end")


def interpolate(model_dir: str | os.PathLike, weight: float, output: str | os.PathLike) -> Path:
    """Write ``model_dir`` with its update over the base scaled by ``weight`` (0..1) to ``output``."""
    from pyserini_i3.modeling.config import I3Config
    from pyserini_i3.modeling.storage import check_model_dir
    from pyserini_i3.utils.files import atomic_dir

    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--weight must be between 0 (the base) and 1 (the model), not {weight}")
    model_dir, output = Path(model_dir), Path(output)
    if output.resolve() == model_dir.resolve():
        raise ValueError(f"--output {output} is the model itself: write the interpolation elsewhere")
    data, fmt = check_model_dir(model_dir)
    check_interpolable(I3Config.from_dict(data))
    with atomic_dir(output) as tmp:  # the output appears whole, or not at all
        for item in model_dir.iterdir():  # config, tokenizer, delta description, training records
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
        if fmt == "delta":
            _scale_delta(model_dir, weight, tmp)
        else:
            _interpolate_full(model_dir, weight, tmp)
        record = {"model": str(model_dir), "weight": weight, "base": data.get("backbone"),
                  "what": "encoders: base + weight * (trained - base); gate: weight * gate"}
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return output


def _scale_gate(heads: dict, weight: float) -> None:
    for key in GATE_KEYS:
        if key in heads:
            heads[key] = heads[key] * weight


def _scale_delta(model_dir: Path, weight: float, out: Path) -> None:
    from safetensors.torch import load_file, save_file

    from pyserini_i3.modeling.delta import ADAPTER_WEIGHTS, HEADS_WEIGHTS

    adapters = load_file(str(model_dir / ADAPTER_WEIGHTS))
    # peft merges W + B A * scaling: scaling every B scales the encoders' update
    adapters = {k: v * weight if ".lora_B." in k else v for k, v in adapters.items()}
    heads = load_file(str(model_dir / HEADS_WEIGHTS))
    _scale_gate(heads, weight)
    save_file(adapters, str(out / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    save_file(heads, str(out / HEADS_WEIGHTS), metadata={"format": "pt"})


def _interpolate_full(model_dir: Path, weight: float, out: Path) -> None:
    import torch

    from pyserini_i3.modeling.backbone import load_pretrained_encoder, resolve_model_path
    from pyserini_i3.modeling.delta import ENCODERS
    from pyserini_i3.modeling.model import I3Model

    model = I3Model.from_pretrained(model_dir)
    base = load_pretrained_encoder(resolve_model_path(model.config.backbone)).state_dict()
    with torch.no_grad():
        for name in ENCODERS:
            encoder = getattr(model, name, None)
            if encoder is None:
                continue
            for key, param in encoder.state_dict().items():
                if key in base and param.is_floating_point():
                    param.copy_(base[key] + weight * (param - base[key]))
        state = {k: v.clone() for k, v in model.state_dict().items() if k in GATE_KEYS}
        _scale_gate(state, weight)
        model.load_state_dict(state, strict=False)
    model.save_pretrained(out)
