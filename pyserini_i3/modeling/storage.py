"""What an I^3 model directory is: the one place that decides it.

A model directory holds ``config.json`` with ``"model_type": "i3"``, the tokenizer
files, and its weights in one of two formats:

* ``full``: ``model.safetensors``, every tensor of the model;
* ``delta``: the compact format of :mod:`pyserini_i3.modeling.delta` (LoRA adapters
  and the I^3 heads over a checksummed base), marked by ``i3_delta.json``.

Module-level imports are the standard library only, so this file answers "is this
an I^3 model, of which dimension" without loading torch (``setup.py`` runs it with
``runpy`` at build time).  Saving and loading the weights are below, lazily.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MODEL_TYPE = "i3"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DELTA_FILE = "i3_delta.json"


def read_config_json(path: str | os.PathLike) -> dict | None:
    """The parsed ``config.json`` of a directory, or None if there is none."""
    file = Path(path) / CONFIG_NAME
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{file}: not a readable JSON config ({exc})") from None


def is_i3_model_dir(path: str | os.PathLike) -> bool:
    """True for a directory whose config.json says ``"model_type": "i3"`` (cheap: reads the config only)."""
    try:
        data = read_config_json(path) if Path(path).is_dir() else None
    except ValueError:
        return False
    return bool(data) and data.get("model_type") == MODEL_TYPE


def model_format(path: str | os.PathLike) -> str | None:
    """``"full"``, ``"delta"`` or None (no weights) for a directory's weight files."""
    path = Path(path)
    if (path / WEIGHTS_NAME).is_file():
        return "full"
    if (path / DELTA_FILE).is_file():
        return "delta"
    return None


def check_model_dir(path: str | os.PathLike, name: str | None = None) -> tuple[dict, str]:
    """(config.json's data, weight format) of an I^3 model directory; else ValueError in one line.

    ``name`` is how the user called it (defaults to the path), used in the message.
    """
    path = Path(path)
    name = str(name if name is not None else path)
    if not path.is_dir():
        raise ValueError(f"{name}: no such I^3 model directory")
    data = read_config_json(path)
    if data is None:
        raise ValueError(f"{name}: not an I^3 model directory (no config.json)")
    if data.get("model_type") != MODEL_TYPE:
        raise ValueError(f"{name}: config.json has model_type {data.get('model_type')!r}, not 'i3': not an I^3 "
                         "model (start one from a plain encoder with I3Model.from_backbone)")
    fmt = model_format(path)
    if fmt is None:
        raise ValueError(f"{name}: no {WEIGHTS_NAME} (nor {DELTA_FILE}) next to config.json")
    return data, fmt


def model_dimension(path: str | os.PathLike, name: str | None = None) -> int:
    """The vector dimension of the model in ``path`` without loading its weights."""
    data, _ = check_model_dir(path, name)
    try:
        return int(data["backbone_config"]["hidden_size"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name or path}/{CONFIG_NAME}: no backbone_config.hidden_size") from None


def save_model_dir(model, target: str | os.PathLike, state_dict: dict | None = None) -> Path:
    """Write ``model`` (an ``I3Model``) to ``target``: config.json, weights, tokenizer files.

    ``state_dict`` (the full format only) replaces the model's own, as in transformers'
    ``save_pretrained``: what a sharded engine (DeepSpeed ZeRO-3) gathered for saving.

    Files land whole (:func:`~pyserini_i3.utils.files.atomic_dir`, merged into the
    directory, so its other files, e.g. training logs, stay).  A model with LoRA
    adapters writes the delta format instead of model.safetensors; the other
    format's marker is removed (it would win at load time).
    """
    from safetensors.torch import save_file

    from pyserini_i3.modeling.delta import has_lora, save_delta
    from pyserini_i3.utils.files import atomic_dir

    target = Path(target)
    compact = has_lora(model)
    with atomic_dir(target, merge=True) as tmp:
        model.config.save_pretrained(tmp)
        if compact:  # trained with adapters: store only what training added
            (tmp / DELTA_FILE).write_text(json.dumps(save_delta(model, tmp), indent=2) + "\n")
        else:
            state = model.state_dict() if state_dict is None else state_dict
            state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
            save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(tmp)
        (target / (WEIGHTS_NAME if compact else DELTA_FILE)).unlink(missing_ok=True)
    return target


def load_model_dir(cls, model_dir: str | os.PathLike, device=None):
    """``cls.from_pretrained``: an ``I3Model`` from a directory (or a hub id of one)."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from pyserini_i3.modeling.backbone import load_pretrained_encoder, resolve_model_path
    from pyserini_i3.modeling.config import I3Config
    from pyserini_i3.modeling.delta import rebuild

    path = Path(model_dir).expanduser()
    if not path.is_dir():
        path = resolve_model_path(str(model_dir))  # a hub id of an I^3 model
    data, fmt = check_model_dir(path, str(model_dir))
    try:
        config = I3Config.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{model_dir}/{CONFIG_NAME}: {exc}") from None
    model = cls(config, AutoTokenizer.from_pretrained(path))
    if fmt == "delta":  # adapters + heads over a base that an installed package or the hub carries
        meta = json.loads((path / DELTA_FILE).read_text())
        rebuild(model, path, meta, lambda base: load_pretrained_encoder(resolve_model_path(base)))
    else:
        weights = path / WEIGHTS_NAME
        model.load_weights(load_file(str(weights)), source=str(weights))
    model.eval()
    return model.to(device) if device is not None else model


def load_weights(model, state: dict, source: str = "state dict") -> None:
    """Strict load with a one-line message naming what does not match the config."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: {list(state[k].shape)} vs {list(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} with a different shape (e.g. {wrong[0]}, file vs config)")
    if problems:
        raise ValueError(f"{source}: weights do not match config.json: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
