"""The I^3 retriever: a dual encoder whose passage side is query-aware.

    q   = pool(E_q(query))
    H_p = E_p(passage);  p = pool(H_p)
    Q~  = R(slots | H_p or p)                  (pseudo-query, m x d)
    v_p = I([p ; H_p[1:] ; Q~])[0]             ("full")
        = I([p ; mean(Q~)])[0]                 ("official")
    s(q, p) = q . v_p   (optionally L2-normalised, divided by a temperature)

        = I([p ; H_p[1:]])[0]                  ("de-layer": no pseudo-query, the capacity control)
    v_p <- p + g * (v_p - p)                   (``interactor_gate``: g starts at 0, v_p = p)

With ``config.interaction = False`` (the DE ablation) ``v_p = p``.  Everything
after E_p depends on the passage only, so ``v_p`` is computed once at indexing
time and search is one dot product.  See ``pyserini_i3/config.py`` for the options.
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pyserini_i3.backbone import DEFAULT_BACKBONE, resolve_model_path, sentence_transformer_hints
from pyserini_i3.config import I3Config, check_fast_path, check_max_length, read_config_json
from pyserini_i3.delta import DELTA_FILE, has_lora, is_delta_dir, rebuild, save_delta
from pyserini_i3.heads import Interactor, Reconstructor, VocabHead, init_like_bert

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
IGNORE_INDEX = -100
FAST_PATH_ENV = "PYSERINI_I3_FAST_PATH"  # off | exact | int8: overrides config.fast_path (the CLI route)


@dataclass
class I3Output:
    """What a training forward returns: the loss and its parts (plain floats are 0)."""

    loss: torch.Tensor
    contrastive_loss: torch.Tensor
    reconstruction_loss: torch.Tensor
    distillation_loss: torch.Tensor
    scores: torch.Tensor  # [queries, passages in the (gathered) batch]

    def components(self) -> dict[str, float]:
        return {
            "loss": self.loss.item(),
            "contrastive": self.contrastive_loss.item(),
            "reconstruction": self.reconstruction_loss.item(),
            "distillation": self.distillation_loss.item(),
        }


def _auto_model(config, **kwargs):
    from transformers import AutoModel

    try:
        return AutoModel.from_config(config, add_pooling_layer=False, **kwargs)
    except TypeError:  # architectures without a pooler
        return AutoModel.from_config(config, **kwargs)


class _quiet_transformers:
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


def _pretrained_encoder(path):
    from transformers import AutoModel

    with _quiet_transformers():
        try:
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)


def check_texts(texts, what: str) -> list[str]:
    """A non-empty list of strings (empty strings allowed), or a one-line error."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{what} must be a list of strings, not {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{what} is an empty list: nothing to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is {type(text).__name__}, not str")
    return list(texts)


class I3Model(nn.Module):
    def __init__(self, config: I3Config, tokenizer=None):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self._int8_cache: dict[str, tuple] = {}  # int8 copies of the encoders (fast path), not in the state dict
        bb = config.backbone_hf_config()
        self.passage_encoder = _auto_model(bb)
        if not config.tied_encoders:
            self.query_encoder = _auto_model(bb)
        if config.interaction:
            self.reconstructor = self.vocab_head = None
            if config.reconstructs:
                self.reconstructor = Reconstructor(bb, config.reconstructor_layers)
                self.vocab_head = VocabHead(bb, tied=config.tie_vocab_head) if config.vocab_head else None
                self.register_buffer("slot_ids", torch.tensor(config.slot_token_ids()), persistent=False)
            self.interactor = Interactor(bb, config.interactor_layers, gate=config.interactor_gate)
            std = getattr(bb, "initializer_range", 0.02)
            for module in (self.reconstructor, self.interactor, self.vocab_head):
                if module is not None:
                    init_like_bert(module, std)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_backbone(cls, backbone: str = DEFAULT_BACKBONE, **overrides) -> "I3Model":
        """A new (untrained) I^3 on a Hugging Face encoder, by local path or hub id.

        Pooling, normalisation and passage length default to what a
        sentence-transformers directory declares (all-MiniLM-L6-v2: mean, L2, 256).
        """
        from transformers import AutoConfig, AutoTokenizer

        path = resolve_model_path(backbone)
        tokenizer = AutoTokenizer.from_pretrained(path)
        hints = sentence_transformer_hints(path)
        bb = AutoConfig.from_pretrained(path)
        defaults: dict = {}
        if hints.pooling:
            defaults["pooling"] = hints.pooling
        if hints.normalize:
            defaults.update(normalize=True, score_temperature=0.05)  # sentence-transformers' MNRL scale 20
        if hints.max_seq_length:
            defaults["passage_max_length"] = int(hints.max_seq_length)
        known = set(inspect.signature(I3Config.__init__).parameters) - {"self", "kwargs", "backbone",
                                                                        "backbone_config"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown I3Config option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        positions = getattr(bb, "max_position_embeddings", None)
        if positions:  # never default to more tokens than the backbone has positions
            defaults["passage_max_length"] = min(defaults.get("passage_max_length", 256), positions)
            defaults["query_max_length"] = min(32, positions)
        variant = overrides.pop("variant", "full")
        if variant == "official":  # the released code's settings win over the hints
            defaults = {k: v for k, v in defaults.items() if k.endswith("max_length")}
        bb_dict = bb.to_dict()
        for key in ("architectures", "transformers_version", "_name_or_path", "torch_dtype", "dtype"):
            bb_dict.pop(key, None)
        config = I3Config(
            variant=variant,
            backbone=backbone,
            backbone_config=bb_dict,
            mask_token_id=tokenizer.mask_token_id,
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            **{**defaults, **overrides},
        )
        model = cls(config, tokenizer)
        encoder = _pretrained_encoder(path)
        model.passage_encoder.load_state_dict(encoder.state_dict())
        if not config.tied_encoders:
            model.query_encoder.load_state_dict(encoder.state_dict())
        return model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, device: str | torch.device | None = None) -> "I3Model":
        """Load an I^3 model directory (config.json, model.safetensors, tokenizer)."""
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        path = Path(model_dir).expanduser()
        if not path.is_dir():
            path = resolve_model_path(str(model_dir))  # a hub id of an I^3 model
        data = read_config_json(path)
        if data is None:
            raise ValueError(f"{model_dir}: not an I^3 model directory (no config.json)")
        if data.get("model_type") != I3Config.model_type:
            raise ValueError(
                f"{model_dir}: config.json has model_type {data.get('model_type')!r}, not 'i3': not an I^3 model "
                "(start one from a plain encoder with I3Model.from_backbone)"
            )
        weights = path / WEIGHTS_NAME
        compact = not weights.is_file() and is_delta_dir(path)
        if not weights.is_file() and not compact:
            raise ValueError(f"{model_dir}: no {WEIGHTS_NAME} (nor {DELTA_FILE}) next to config.json")
        try:
            config = I3Config.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{model_dir}/config.json: {exc}") from None
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = cls(config, tokenizer)
        if compact:  # adapters + heads over a base that an installed package or the hub carries
            rebuild(model, path, lambda base: _pretrained_encoder(resolve_model_path(base)))
        else:
            model.load_weights(load_file(str(weights)), source=str(weights))
        model.eval()
        return model.to(device) if device is not None else model

    def load_weights(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Strict load with a one-line message naming what does not match the config."""
        own = self.state_dict()
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
        self.load_state_dict(state, strict=True)

    def save_pretrained(self, model_dir: str | os.PathLike) -> Path:
        """Write config.json, model.safetensors and the tokenizer; files land whole or not at all.

        A model with LoRA adapters (``--lora-rank``) writes the compact format of
        :mod:`pyserini_i3.delta` instead of model.safetensors.
        """
        from safetensors.torch import save_file

        target = Path(model_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.tmp-") as tmp:
            tmp_path = Path(tmp)
            self.config.save_pretrained(tmp_path)
            if has_lora(self):  # trained with adapters: store only what training added
                save_delta(self, tmp_path)
            else:
                state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
                save_file(state, str(tmp_path / WEIGHTS_NAME), metadata={"format": "pt"})
            if self.tokenizer is not None:
                self.tokenizer.save_pretrained(tmp_path)
            target.mkdir(exist_ok=True)
            stale = WEIGHTS_NAME if has_lora(self) else DELTA_FILE  # the other format's marker would win
            (target / stale).unlink(missing_ok=True)
            for file in tmp_path.iterdir():
                os.replace(file, target / file.name)
        return target

    # ------------------------------------------------------------------ pieces
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dim(self) -> int:
        return self.config.dim

    def query_model(self) -> nn.Module:
        return self.passage_encoder if self.config.tied_encoders else self.query_encoder

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def _finish(self, vectors: torch.Tensor) -> torch.Tensor:
        return F.normalize(vectors, dim=-1) if self.config.normalize else vectors

    def query_vectors(self, inputs: dict) -> torch.Tensor:
        """[B, d] query vectors from tokenised queries. Never touches R or I."""
        hidden = self.query_model()(**inputs).last_hidden_state
        return self._finish(self._pool(hidden, inputs["attention_mask"]))

    def _slots(self, batch: int) -> torch.Tensor:
        ids = self.slot_ids.unsqueeze(0).expand(batch, -1)
        embeddings = getattr(self.passage_encoder, "embeddings", None)
        if embeddings is not None:  # word + position (+ type) embeddings, LayerNorm: the BERT way
            return embeddings(input_ids=ids)
        return self.passage_encoder.get_input_embeddings()(ids)

    def passage_vectors(self, inputs: dict, return_pseudo_query: bool = False):
        """[B, d] passage vectors (and, if asked, the pseudo-query states [B, m, d])."""
        mask = inputs["attention_mask"]
        hidden = self.passage_encoder(**inputs).last_hidden_state
        pooled = self._pool(hidden, mask)
        pseudo = None
        if self.config.interaction:
            padding = mask == 0
            if self.config.reconstructs:
                memory, memory_padding = self._memory(hidden, pooled, padding)
                pseudo = self.reconstructor(self._slots(hidden.size(0)).to(hidden.dtype), memory, memory_padding)
            sequence, seq_padding = self._interactor_input(pooled, hidden, padding, pseudo)
            vectors = self.interactor.gated(pooled, self.interactor(sequence, seq_padding))
        else:
            vectors = pooled
        vectors = self._finish(vectors)
        return (vectors, pseudo) if return_pseudo_query else vectors

    def _memory(self, hidden, pooled, padding):
        """What the reconstructor cross-attends to, and its padding mask."""
        if self.config.reconstructor_attends_to == "tokens":
            return hidden, padding
        return pooled.unsqueeze(1), None

    def _interactor_input(self, pooled, hidden, padding, pseudo):
        """The interactor's sequence and its padding mask (True = padding)."""
        if self.config.interactor_input in ("tokens+pseudo", "tokens"):
            no_pad = padding.new_zeros(padding.size(0), 1)
            parts, pads = [pooled.unsqueeze(1), hidden[:, 1:]], [no_pad, padding[:, 1:]]
            if pseudo is not None:
                parts.append(pseudo)
                pads.append(padding.new_zeros(padding.size(0), pseudo.size(1)))
            sequence, seq_padding = torch.cat(parts, dim=1), torch.cat(pads, dim=1)
        else:
            sequence = torch.stack([pooled, pseudo.mean(dim=1)], dim=1)
            seq_padding = None
        return sequence, seq_padding

    def reconstruction_logits(self, pseudo: torch.Tensor) -> torch.Tensor:
        if self.vocab_head is None:
            raise ValueError("this I^3 model has no vocabulary head (config.vocab_head is false)")
        tied = self.passage_encoder.get_input_embeddings().weight if self.config.tie_vocab_head else None
        return self.vocab_head(pseudo, tied)

    # ------------------------------------------------------------------ tokenisation
    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError("this I3Model has no tokenizer: load it with from_pretrained or from_backbone")
        return self.tokenizer

    def join_title(self, text: str, title: str | None) -> str:
        """``title [SEP] text`` (the authors' format); the text alone when there is no title."""
        if not title:
            return text
        return f"{title} {self._require_tokenizer().sep_token} {text}"

    def tokenize(self, texts: list[str], max_length: int) -> dict:
        return dict(self._require_tokenizer()(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ))

    def reconstruction_labels(self, targets: Sequence[str | None]) -> torch.Tensor:
        """[n, m] target token ids, slot-aligned, IGNORE_INDEX for padding and for ``None`` targets."""
        m = self.config.num_slots
        labels = torch.full((len(targets), m), IGNORE_INDEX, dtype=torch.long)
        present = [i for i, t in enumerate(targets) if t]
        if present:
            tok = self._require_tokenizer()(
                [targets[i] for i in present], add_special_tokens=False, truncation=True,
                max_length=m, padding="max_length", return_tensors="pt",
            )
            ids = tok["input_ids"].masked_fill(tok["attention_mask"] == 0, IGNORE_INDEX)
            labels[present] = ids
        return labels

    # ------------------------------------------------------------------ fast path (inference only)
    def fast_path(self) -> str:
        """The inference path the next ``encode_queries`` / ``encode_passages`` call takes.

        ``$PYSERINI_I3_FAST_PATH`` (``off``, ``exact`` or ``int8``), when set, overrides
        ``config.fast_path``: that is the route from Pyserini's command line, whose flags
        stay Pyserini's.  The modes:

        * ``off`` (the default): the reference computation, ``passage_vectors`` /
          ``query_vectors`` as in training.
        * ``exact``: the same function with less work.  Only position 0 of the
          interactor's output is used, so its last layer computes keys and values for
          every position but queries, attention output and feed-forward for position 0
          alone.  The reconstructor's slots are the same for every passage, so its first
          layer's self-attention over them runs once per batch, and its attention runs as
          projections + one ``scaled_dot_product_attention`` call.  Vectors equal
          ``off``'s up to float round-off (about 1e-6); queries and DE models (no
          interactor) are bit-identical.
        * ``int8``: ``exact`` plus int8 dynamic quantisation of the query and passage
          encoders' ``nn.Linear`` layers (``torch.ao.quantization.quantize_dynamic``:
          int8 weights per output channel, activations quantised on the fly, see
          ``_quantize_int8``); the small I^3 heads stay float32.  CPU only: on
          any other device ``int8`` means ``exact``, and GPU weights are never
          quantised.  The int8 copies are made at the first CPU call, kept beside the
          float32 weights (which stay untouched) and rebuilt when those change.

        Why torch's dynamic quantisation rather than ONNX Runtime: on this project's
        2-core AVX-512 CPU a batch of 32 SciFact passages x 256 tokens through
        all-MiniLM-L6-v2 took 1.65 s in torch int8 against 1.90 s in ONNX Runtime 1.32
        int8 (both dynamic, per-tensor, their defaults; ORT with all graph optimisations;
        float32: 3.3 s torch, 3.2 s ORT), measured side by side; torch needs no export
        step, no extra packages (exporting needs ``onnx``) and no second copy of the
        model on disk, and the I^3 heads and Pyserini's classes run unchanged.

        On CPU both fast modes also tell glibc's allocator to keep freed memory for
        reuse (``mallopt``: no mmap below 1 GiB, no trimming below 1 GiB, process-wide,
        once), as jemalloc or tcmalloc would.  By default every large activation is a
        fresh mmap whose pages fault in on first write: a [8192, 1536] linear + GELU
        took 181 ms with 24,600 page faults, 130 ms with 2,500 after the change.  It
        changes no number, only where memory comes from; the process keeps its peak.

        In training mode (dropout active) the fast path is off.  Vectors are float32
        whatever the mode.
        """
        env = os.environ.get(FAST_PATH_ENV, "").strip().lower()
        mode = check_fast_path(env, f"${FAST_PATH_ENV}") if env else self.config.fast_path
        if mode == "off" or self.training:
            return "off"
        if self.device.type != "cpu":
            return "exact"
        _keep_freed_memory()
        return mode

    def _inference_encoder(self, module: nn.Module, mode: str) -> nn.Module:
        """``module`` itself, or (``int8``) its int8 dynamic-quantised copy, cached."""
        if mode != "int8":
            return module
        name = "passage_encoder" if module is self.passage_encoder else "query_encoder"
        key = tuple((p.data_ptr(), p._version) for p in module.parameters())
        cached = self._int8_cache.get(name)
        if cached is None or cached[0] != key:
            cached = (key, _quantize_int8(module))
            self._int8_cache[name] = cached
        return cached[1]

    def _fast_query_vectors(self, inputs: dict, mode: str) -> torch.Tensor:
        hidden = self._inference_encoder(self.query_model(), mode)(**inputs).last_hidden_state
        return self._finish(self._pool(hidden, inputs["attention_mask"]))

    def _fast_passage_vectors(self, inputs: dict, mode: str) -> torch.Tensor:
        """``passage_vectors`` for inference: the same function (see ``fast_path``)."""
        mask = inputs["attention_mask"]
        hidden = self._inference_encoder(self.passage_encoder, mode)(**inputs).last_hidden_state
        pooled = self._pool(hidden, mask)
        if not self.config.interaction:
            return self._finish(pooled)
        padding = mask == 0
        pseudo = None
        if self.config.reconstructs:
            memory, memory_padding = self._memory(hidden, pooled, padding)
            pseudo = self._fast_reconstruct(self._slots(1).to(hidden.dtype), memory, memory_padding)
        sequence, seq_padding = self._interactor_input(pooled, hidden, padding, pseudo)
        return self._finish(self.interactor.gated(pooled, self._fast_interact(sequence, seq_padding)))

    def _fast_reconstruct(self, slots, memory, memory_padding):
        """``self.reconstructor(slots.expand(B), memory, memory_padding)`` with less work.

        The slots are the same for every passage, so the first layer's self-attention
        over them is computed once (``slots`` is [1, m, d]) and shared by the batch;
        attention runs as projections + one SDPA call.
        """
        keep = None if memory_padding is None else ~memory_padding[:, None, None, :]
        batch = memory.size(0)
        hidden = slots
        for layer in self.reconstructor.layers:
            if not _plain_post_ln(layer):
                hidden = layer(hidden.expand(batch, -1, -1), memory, memory_key_padding_mask=memory_padding)
                continue
            hidden = layer.norm1(hidden + _attention(layer.self_attn, hidden, hidden, None))
            hidden = layer.norm2(hidden.expand(batch, -1, -1) + _attention(layer.multihead_attn, hidden, memory, keep))
            hidden = layer.norm3(hidden + layer.linear2(layer.activation(layer.linear1(hidden))))
        return hidden.expand(batch, -1, -1)

    def _fast_interact(self, sequence, padding):
        """``self.interactor(sequence, padding)`` (position 0): the last layer for position 0 only."""
        *first, last = self.interactor.layers
        for layer in first:
            sequence = layer(sequence, src_key_padding_mask=padding)
        if not _plain_post_ln(last):
            return last(sequence, src_key_padding_mask=padding)[:, 0]
        keep = None if padding is None else ~padding[:, None, None, :]
        head = sequence[:, :1]
        head = last.norm1(head + _attention(last.self_attn, head, sequence, keep))
        head = last.norm2(head + last.linear2(last.activation(last.linear1(head))))
        return head[:, 0]

    # ------------------------------------------------------------------ inference API
    def _length(self, max_length: int | None, default: int) -> int:
        length = check_max_length(default if max_length is None else max_length)
        limit = self.config.max_positions
        if limit and length > limit:
            raise ValueError(f"max_length={length} exceeds the backbone's {limit} positions")
        return length

    @torch.inference_mode()
    def _encode(self, texts: list[str], max_length: int, batch_size: int, fn: Callable,
                show_progress: bool, desc: str) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        tokenizer = self._require_tokenizer()
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # length-sorted: little padding
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        device = self.device
        autocast = _autocast(device)
        starts = range(0, len(order), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            idx = order[start:start + batch_size]
            features = [{k: encoded[k][i] for k in encoded.keys()} for i in idx]
            batch = tokenizer.pad(features, padding=True, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            with autocast:
                vectors = fn(batch)
            out[idx] = vectors.float().cpu().numpy()
        return out

    def encode_queries(self, queries: Sequence[str], batch_size: int = 64, max_length: int | None = None,
                       show_progress: bool = False) -> np.ndarray:
        """float32 [n, d] query vectors."""
        queries = check_texts(queries, "queries")
        length = self._length(max_length, self.config.query_max_length)
        mode = self.fast_path()
        fn = self.query_vectors if mode == "off" else (lambda batch: self._fast_query_vectors(batch, mode))
        return self._encode(queries, length, batch_size, fn, show_progress, "queries")

    def encode_passages(self, texts: Sequence[str], titles: Sequence[str | None] | None = None,
                        batch_size: int = 32, max_length: int | None = None,
                        show_progress: bool = False) -> np.ndarray:
        """float32 [n, d] query-aware passage vectors (``title [SEP] text`` when titles are given)."""
        texts = check_texts(texts, "texts")
        if titles is not None:
            if isinstance(titles, (str, bytes)) or len(titles) != len(texts):
                raise ValueError(f"titles must be a list as long as texts ({len(texts)})")
            for i, title in enumerate(titles):
                if title is not None and not isinstance(title, str):
                    raise TypeError(f"titles[{i}] is {type(title).__name__}, not str")
            texts = [self.join_title(t, title) for t, title in zip(texts, titles)]
        length = self._length(max_length, self.config.passage_max_length)
        mode = self.fast_path()
        fn = self.passage_vectors if mode == "off" else (lambda batch: self._fast_passage_vectors(batch, mode))
        return self._encode(texts, length, batch_size, fn, show_progress, "passages")

    # ------------------------------------------------------------------ training
    def forward(
        self,
        query_inputs: dict,
        passage_inputs: dict,
        reconstruction_labels: torch.Tensor | None = None,
        teacher_scores: torch.Tensor | None = None,
        reconstruction_weight: float = 1.0,
        distillation_weight: float = 1.0,
        distributed=None,
    ) -> I3Output:
        """Loss on a batch of B queries with G passages each (positive first, then negatives).

        ``passage_inputs`` holds B*G passages grouped by query.  ``reconstruction_labels``
        [B*G, m] (IGNORE_INDEX where there is no target), ``teacher_scores`` [B, G].
        ``distributed`` (a :class:`pyserini_i3.distributed.DistributedContext`, for
        multi-process training) gathers passage vectors from all processes so every
        query is scored against every passage, and normalises the reconstruction loss
        by the global token count, so that averaging gradients over processes gives
        the update of one process on the whole batch.
        """
        q = self.query_vectors(query_inputs)
        v, pseudo = self.passage_vectors(passage_inputs, return_pseudo_query=True)
        n_q, n_p = q.size(0), v.size(0)
        if n_p % n_q:
            raise ValueError(f"{n_p} passages for {n_q} queries: expected the same number per query")
        group = n_p // n_q
        all_v, offset = (v, 0) if distributed is None else distributed.gather(v)
        scores = q @ all_v.T / self.config.score_temperature
        target = offset + torch.arange(n_q, device=q.device) * group  # each query's positive
        contrastive = F.cross_entropy(scores, target)
        loss = contrastive
        zero = contrastive.new_zeros(())

        reconstruction = zero
        if reconstruction_labels is not None and pseudo is not None and self.vocab_head is not None:
            labels = reconstruction_labels.to(q.device)
            rows = (labels != IGNORE_INDEX).any(dim=1)
            tokens = (labels != IGNORE_INDEX).sum().float()
            world = 1
            if distributed is not None and distributed.enabled:
                tokens, world = distributed.sum(tokens), distributed.world_size
            if rows.any():
                logits = self.reconstruction_logits(pseudo[rows])
                total = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels[rows].reshape(-1),
                                        ignore_index=IGNORE_INDEX, reduction="sum")
                # mean over the tokens of the whole (global) batch; x world undoes the gradient average
                reconstruction = total * world / tokens.clamp(min=1)
                loss = loss + reconstruction_weight * reconstruction

        distillation = zero
        if teacher_scores is not None:
            own = (q.unsqueeze(1) * v.view(n_q, group, -1)).sum(-1) / self.config.score_temperature
            teacher = teacher_scores.to(q.device, own.dtype).view(n_q, group)
            distillation = F.kl_div(F.log_softmax(own, -1), F.log_softmax(teacher, -1),
                                    reduction="batchmean", log_target=True)
            loss = loss + distillation_weight * distillation
        return I3Output(loss, contrastive, reconstruction, distillation, scores)


def _autocast(device: torch.device):
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast(device.type, enabled=False)


def _plain_post_ln(layer: nn.Module) -> bool:
    """A torch transformer layer the fast path can restate: post-LN, one in-projection, no extra k/v bias."""
    attentions = [getattr(layer, n) for n in ("self_attn", "multihead_attn") if hasattr(layer, n)]
    return not getattr(layer, "norm_first", False) and all(
        a._qkv_same_embed_dim and a.bias_k is None and not a.add_zero_attn and a.in_proj_bias is not None
        for a in attentions
    )


def _attention(attn: nn.MultiheadAttention, query: torch.Tensor, memory: torch.Tensor, keep):
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


def _keep_freed_memory() -> None:
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


def _cpu_has_vnni() -> bool:
    """AVX-512 VNNI / AVX-VNNI: int8 dot products accumulate in int32, no 16-bit saturation."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _quantize_int8(module: nn.Module) -> nn.Module:
    """An int8 dynamic-quantised copy of ``module``'s ``nn.Linear`` layers (CPU; float32 in and out).

    Weights: int8 per output channel.  Activations: 8-bit per tensor, computed on the
    fly.  torch quantises activations to 7 bits by default (``reduce_range``) because
    pre-VNNI x86 kernels can saturate 16-bit sums; on a CPU with VNNI we use all 8
    bits.  On all-MiniLM-L6-v2 over SciFact passages that moves the mean cosine to the
    float32 vectors from 0.921 (torch's defaults: per-tensor weights, 7 bits) to 0.982
    (per-channel) and 0.995 (per-channel, 8 bits), at the same speed.
    """
    import warnings

    try:
        import torch.ao.nn.quantized.dynamic as nnqd
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - torch 2.13 has it
        raise RuntimeError(f"fast path int8 needs torch.ao.quantization.quantize_dynamic: {exc}") from None
    reduce_range = not _cpu_has_vnni()

    class Int8Linear(nnqd.Linear):
        def forward(self, x):
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=reduce_range)
            return y.to(x.dtype)

    with torch.inference_mode(False), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that torchao is its successor
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                mapping={nn.Linear: Int8Linear}, inplace=False).eval()
