"""What an encoder name means: ``i3`` (the shipped default), a released encoder
(``i3-msmarco``, ``i3-msmarco-distilled``: :mod:`pyserini_i3.modeling.released`) or an
I^3 model directory.

A released name is recognised only when it is exactly one of those names, so every
other encoder's name resolves as before; an I^3 model directory of that same (relative)
path wins over it, as a local directory wins over a hub id in transformers.
Recognising a name and its dimension never download; :func:`resolve` and
:func:`load_model` download and convert a released encoder on first use.

``i3``:

1. ``$PYSERINI_I3_ENCODER``, if set: a path to an I^3 model directory.
2. The shipped default: in ``encoders/`` (the repository's, for a development
   install; ``pyserini_i3/encoders/`` inside a built wheel), the directory named by
   the one-line file ``encoders/DEFAULT``, or else the only I^3 model directory there.
3. Until one ships: an *untrained* I^3 on the offline all-MiniLM-L6-v2 base, built
   with a fixed seed (so every process, e.g. the encoding and the search commands,
   gets the same weights), with a logged warning.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pyserini_i3.modeling import released
from pyserini_i3.modeling.backbone import DEFAULT_BACKBONE
from pyserini_i3.modeling.storage import is_i3_model_dir, model_dimension

logger = logging.getLogger(__name__)

DEFAULT_NAME = "i3"
ENV = "PYSERINI_I3_ENCODER"
UNTRAINED_SEED = 0
MARKER = "DEFAULT"


def is_default_name(name) -> bool:
    return isinstance(name, (str, os.PathLike)) and str(name).strip().lower() == DEFAULT_NAME


def _released_name(name) -> str | None:
    """``name`` as a released encoder's name, unless an I^3 model directory of that path exists."""
    if isinstance(name, str) and released.is_released_name(str(name)) and not is_i3_model_dir(Path(str(name))):
        return str(name)
    return None


def is_i3_encoder(name) -> bool:
    """True for ``i3``, a released encoder's name and an I^3 model directory (cheap: no download,
    reads config.json only)."""
    if is_default_name(name):
        return True
    if not isinstance(name, (str, os.PathLike)) or not str(name):
        return False
    if _released_name(name):
        return True
    return is_i3_model_dir(Path(str(name)).expanduser())


def encoder_dirs() -> list[Path]:
    package = Path(__file__).resolve().parents[1]  # pyserini_i3/
    return [package / "encoders", package.parent / "encoders"]


def shipped_default() -> Path | None:
    """The shipped default encoder directory, or None while none ships."""
    for folder in encoder_dirs():
        if not folder.is_dir():
            continue
        marker = folder / MARKER
        if marker.is_file():
            name = marker.read_text().strip()
            path = folder / name
            if not is_i3_model_dir(path):
                raise ValueError(f"{marker} names {name!r}, which is not an I^3 model directory in {folder}")
            return path
        found = sorted(p for p in folder.iterdir() if is_i3_model_dir(p))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise ValueError(f"{folder} holds several I^3 encoders ({names}): name the default in {marker}")
    return None


def resolve(name) -> Path | None:
    """The model directory ``name`` stands for; None means the untrained MiniLM fallback.

    A released encoder's name is downloaded and converted on first use (one-line
    ValueError when that cannot be done, e.g. offline with nothing cached)."""
    if _released_name(name):
        return released.ensure(str(name))
    if not is_default_name(name):
        return Path(str(name)).expanduser()
    override = os.environ.get(ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return shipped_default()


def _untrained(device=None):
    import torch

    from pyserini_i3.modeling.model import I3Model

    logger.warning(
        "pyserini-i3: no trained I^3 encoder is installed (encoders/ is empty and $%s is unset); "
        "'--encoder i3' is an UNTRAINED I^3 on %s (seed %d): use it for plumbing, not for scores",
        ENV, DEFAULT_BACKBONE, UNTRAINED_SEED,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        model = I3Model.from_backbone(DEFAULT_BACKBONE)
    return model.to(device) if device is not None else model


def load_model(name, device=None):
    """An ``I3Model`` for ``i3`` or an I^3 model directory (ValueError, one line, if not one)."""
    from pyserini_i3.modeling.model import I3Model

    path = resolve(name)
    if path is None:
        return _untrained(device)
    return I3Model.from_pretrained(path, device=device)


def encoder_dimension(name) -> int:
    """The vector dimension of encoder ``name`` without loading weights or downloading (ValueError if
    not I^3, or if it is a released encoder that cannot be obtained: offline with nothing cached)."""
    if _released_name(name):
        return released.dimension(str(name))
    path = resolve(name)
    if path is None:
        from pyserini_i3.modeling.backbone import resolve_model_path

        config = json.loads((resolve_model_path(DEFAULT_BACKBONE) / "config.json").read_text())
        return int(config["hidden_size"])
    return model_dimension(path)


def load_encoder(name: str):
    """``i3`` or an I^3 model directory as itself; any other Hugging Face encoder (hub id or
    path) as a plain dual encoder with its sentence-transformers pooling (e.g. a teacher)."""
    from pyserini_i3.modeling.model import I3Model

    if is_i3_encoder(name):
        return load_model(name)
    return I3Model.from_backbone(name, variant="de")
