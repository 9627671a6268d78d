"""The I^3 retriever: a dual encoder whose passage side is query-aware.

    q   = pool(E_q(query))
    H_p = E_p(passage);  p = pool(H_p)
    Q~  = R(slots | H_p or p)                  (pseudo-query, m x d)
    v_p = I([p ; H_p[1:] ; Q~])[0]             ("full")
        = I([p ; mean(Q~)])[0]                 ("official")
    s(q, p) = q . v_p   (optionally L2-normalised, divided by a temperature)

        = I([p ; H_p[1:]])[0]                  ("de-layer": no pseudo-query, the capacity control)
    v_p <- p + g * (v_p - p)  or  p + W (v_p - p)   (``interactor_gate``: g, W start at 0, v_p = p)

With ``config.interaction = False`` (the DE ablation) ``v_p = p``.  Everything
after E_p depends on the passage only, so ``v_p`` is computed once at indexing
time and search is one dot product.  See :mod:`pyserini_i3.modeling.config` for the options.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pyserini_i3.modeling import pseudo_query, storage
from pyserini_i3.modeling.backbone import (
    DEFAULT_BACKBONE,
    auto_model_from_config,
    load_pretrained_encoder,
    resolve_model_path,
)
from pyserini_i3.modeling.config import I3Config, check_fast_path, check_max_length
from pyserini_i3.modeling.gather import gather_with_grad, gather_without_grad, sum_over_processes, world_size
from pyserini_i3.modeling.heads import Interactor, Reconstructor, VocabHead, init_like_bert
from pyserini_i3.modeling.inputs import check_texts, check_titles
from pyserini_i3.modeling.losses import IGNORE_INDEX, info_nce, judged, reconstruction_nll
from pyserini_i3.modeling.pseudo_query import PseudoQuery
from pyserini_i3.modeling.quantize import Int8Copies

logger = logging.getLogger(__name__)


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


class I3Model(nn.Module):
    def __init__(self, config: I3Config, tokenizer=None):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self._int8 = Int8Copies()  # the int8 route's encoder copies (not in the state dict)
        bb = config.backbone_hf_config()
        self.passage_encoder = auto_model_from_config(bb)
        if not config.tied_encoders:
            self.query_encoder = auto_model_from_config(bb)
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
            self.interactor.zero_gate()  # init_like_bert draws every nn.Linear, the gate's too

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_backbone(cls, backbone: str = DEFAULT_BACKBONE, **overrides) -> I3Model:
        """A new (untrained) I^3 on a Hugging Face encoder, by local path or hub id.

        Pooling, normalisation and passage length default to what a
        sentence-transformers directory declares (all-MiniLM-L6-v2: mean, L2, 256).
        """
        from transformers import AutoTokenizer

        path = resolve_model_path(backbone)
        tokenizer = AutoTokenizer.from_pretrained(path)
        config = I3Config.for_backbone(backbone, path, tokenizer, **overrides)
        model = cls(config, tokenizer)
        encoder = load_pretrained_encoder(path)
        model.passage_encoder.load_state_dict(encoder.state_dict())
        if not config.tied_encoders:
            model.query_encoder.load_state_dict(encoder.state_dict())
        return model.eval()

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, device: str | torch.device | None = None) -> I3Model:
        """Load an I^3 model directory (config.json, weights in either format, tokenizer); see
        :mod:`pyserini_i3.modeling.storage`."""
        return storage.load_model_dir(cls, model_dir, device)

    def load_weights(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Strict load with a one-line message naming what does not match the config."""
        storage.load_weights(self, state, source)

    def save_pretrained(self, model_dir: str | os.PathLike, state_dict: dict | None = None) -> Path:
        """Write config.json, the weights (``state_dict`` if given) and the tokenizer; files land whole or not at
        all.  A model with LoRA adapters (``--lora-rank``) writes the compact format of
        :mod:`pyserini_i3.modeling.delta` instead of model.safetensors.
        """
        return storage.save_model_dir(self, model_dir, state_dict)

    # ------------------------------------------------------------------ pieces
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dim(self) -> int:
        return self.config.dim

    def query_model(self) -> nn.Module:
        return self.passage_encoder if self.config.tied_encoders else self.query_encoder

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None, **options) -> None:
        """Activation checkpointing in the encoders (what the Trainer's ``--gradient_checkpointing`` calls)."""
        for encoder in {id(m): m for m in (self.passage_encoder, self.query_model())}.values():
            if hasattr(encoder, "activation_checkpointing_enable"):  # the name since transformers 5.25
                encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=activation_checkpointing_kwargs,
                                                        **options)
            else:
                encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=activation_checkpointing_kwargs)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None, **_) -> None:
        """The name older Trainers call: :meth:`activation_checkpointing_enable`."""
        self.activation_checkpointing_enable(gradient_checkpointing_kwargs)

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def _finish(self, vectors: torch.Tensor) -> torch.Tensor:
        return F.normalize(vectors, dim=-1) if self.config.normalize else vectors

    def query_vectors(self, inputs: dict, fast_path: str | None = None) -> torch.Tensor:
        """[B, d] query vectors from tokenised queries; never touches R or I (``fast_path``: :meth:`fast_path`)."""
        encoder = self._encoder(self.query_model(), self.fast_path(fast_path))
        hidden = encoder(**inputs).last_hidden_state
        return self._finish(self._pool(hidden, inputs["attention_mask"]))

    def _slots(self, batch: int) -> torch.Tensor:
        ids = self.slot_ids.unsqueeze(0).expand(batch, -1)
        embeddings = getattr(self.passage_encoder, "embeddings", None)
        if embeddings is not None:  # word + position (+ type) embeddings, LayerNorm: the BERT way
            return embeddings(input_ids=ids)
        return self.passage_encoder.get_input_embeddings()(ids)

    def passage_vectors(self, inputs: dict, return_pseudo_query: bool = False, fast_path: str | None = None):
        """[B, d] passage vectors (and, if asked, the pseudo-query states [B, m, d]); ``fast_path``: as above."""
        route = self.fast_path(fast_path)
        fast = route != "off"
        mask = inputs["attention_mask"]
        hidden = self._encoder(self.passage_encoder, route)(**inputs).last_hidden_state
        pooled = self._pool(hidden, mask)
        pseudo = None
        if self.config.interaction:
            padding = mask == 0
            if self.config.reconstructs:
                memory, memory_padding = self._memory(hidden, pooled, padding)
                slots = self._slots(1 if fast else hidden.size(0)).to(hidden.dtype)  # fast: shared by the batch
                pseudo = self.reconstructor(slots, memory, memory_padding, fast=fast)
            sequence, seq_padding = self._interactor_input(pooled, hidden, padding, pseudo)
            vectors = self.interactor.gated(pooled, self.interactor(sequence, seq_padding, fast=fast))
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

    # ------------------------------------------------------------------ inference routes
    def fast_path(self, requested: str | None = None) -> str:
        """The route a call asking for ``requested`` takes (None: ``config.fast_path``): ``off`` (the training
        forward), ``exact`` (the heads' ``fast`` forward: round-off only) or ``int8`` (``exact`` with int8 encoder
        copies, :mod:`~pyserini_i3.modeling.quantize`); ``off`` in training mode, ``exact`` for ``int8`` off CPUs."""
        mode = self.config.fast_path if requested is None else check_fast_path(requested)
        if mode == "off" or self.training:
            return "off"
        return "exact" if self.device.type != "cpu" else mode

    def _encoder(self, module: nn.Module, route: str) -> nn.Module:
        """``module`` (an encoder of this model) itself, or for ``int8`` its int8 copy."""
        if route != "int8":
            return module
        return self._int8.get("passage_encoder" if module is self.passage_encoder else "query_encoder", module)

    def int8_copies(self) -> dict[str, nn.Module]:
        """The int8 encoder copies made so far, by encoder name (:meth:`drop_int8_copies` forgets them)."""
        return self._int8.copies()

    def drop_int8_copies(self) -> None:
        self._int8.clear()

    # ------------------------------------------------------------------ inference API
    def _length(self, max_length: int | None, default: int) -> int:
        length = check_max_length(default if max_length is None else max_length)
        limit = self.config.max_positions
        if limit and length > limit:
            raise ValueError(f"max_length={length} exceeds the backbone's {limit} positions")
        return length

    def batches(self, texts: list[str], max_length: int, batch_size: int, show_progress: bool = False,
                desc: str = "texts") -> Iterator[tuple[list[int], dict]]:
        """(positions in ``texts``, tokenised batch on the model's device), length-sorted (little padding); run
        the model on each under :meth:`autocast` and :func:`torch.inference_mode`."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        tokenizer = self._require_tokenizer()
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        starts = range(0, len(order), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            idx = order[start:start + batch_size]
            batch = tokenizer.pad([{k: encoded[k][i] for k in encoded} for i in idx], padding=True,
                                  return_tensors="pt")
            yield idx, {k: v.to(self.device) for k, v in batch.items()}

    def autocast(self):
        """Inference precision: bf16 (or fp16) autocast on CUDA, float32 elsewhere."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
        return torch.autocast(self.device.type, enabled=False)

    @torch.inference_mode()
    def _encode(self, texts: list[str], max_length: int, batch_size: int, fn: Callable,
                show_progress: bool, desc: str) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx, batch in self.batches(texts, max_length, batch_size, show_progress, desc):
            with self.autocast():
                out[idx] = fn(batch).float().cpu().numpy()
        return out

    def encode_queries(self, queries: Sequence[str], batch_size: int = 64, max_length: int | None = None,
                       show_progress: bool = False, fast_path: str | None = None) -> np.ndarray:
        """float32 [n, d] query vectors (``fast_path``, here and below: the route, :meth:`fast_path`)."""
        queries = check_texts(queries, "queries")
        length = self._length(max_length, self.config.query_max_length)
        route = self.fast_path(fast_path)
        return self._encode(queries, length, batch_size, lambda batch: self.query_vectors(batch, fast_path=route),
                            show_progress, "queries")

    def encode_passages(self, texts: Sequence[str], titles: Sequence[str | None] | None = None,
                        batch_size: int = 32, max_length: int | None = None,
                        show_progress: bool = False, fast_path: str | None = None) -> np.ndarray:
        """float32 [n, d] query-aware passage vectors (``title [SEP] text`` when titles are given)."""
        texts = self.passage_texts(texts, titles)
        length = self._length(max_length, self.config.passage_max_length)
        route = self.fast_path(fast_path)
        return self._encode(texts, length, batch_size, lambda batch: self.passage_vectors(batch, fast_path=route),
                            show_progress, "passages")

    def passage_texts(self, texts: Sequence[str], titles: Sequence[str | None] | None = None) -> list[str]:
        """The model's input text of each passage (``title [SEP] text`` when it has a title), checked."""
        texts = check_texts(texts, "texts")
        if titles is None:
            return texts
        return [self.join_title(t, title) for t, title in zip(texts, check_titles(titles, len(texts)))]

    def pseudo_queries(self, texts: Sequence[str], titles: Sequence[str | None] | None = None, k: int = 20,
                       content_only: bool = False, batch_size: int = 32, max_length: int | None = None,
                       show_progress: bool = False) -> list[PseudoQuery]:
        """What each passage's pseudo-query says (:func:`~pyserini_i3.modeling.pseudo_query.decode`)."""
        length = self._length(max_length, self.config.passage_max_length)
        return pseudo_query.decode(self, self.passage_texts(texts, titles), length, k=k, content_only=content_only,
                                   batch_size=batch_size, show_progress=show_progress)

    # ------------------------------------------------------------------ training
    def forward(
        self,
        query_inputs: dict,
        passage_inputs: dict,
        reconstruction_labels: torch.Tensor | None = None,
        teacher_scores: torch.Tensor | None = None,
        reconstruction_weight: float = 1.0,
        distillation_weight: float = 1.0,
        gather: bool = False,
        passage_ids: torch.Tensor | None = None,
        positive_ids: torch.Tensor | None = None,
        other_positives: str = "keep",
        reconstruction_target: str = "slots",
    ) -> I3Output:
        """Loss on a batch of B queries with G passages each (positive first, then negatives).

        ``passage_inputs`` holds B*G passages grouped by query.  ``reconstruction_labels``
        [B*G, m] (IGNORE_INDEX where there is no target), ``teacher_scores`` [B, G].
        ``gather`` (multi-process training, :mod:`pyserini_i3.modeling.gather`) scores
        every query against the passages of all processes and normalises the
        reconstruction loss by the global token count, so that DDP's gradient average
        gives the update of one process on the whole batch.

        ``passage_ids`` [B*G] and ``positive_ids`` [B, P] (-1 padded) mark each query's judged-relevant
        passages; ``other_positives``: what they are besides its own; ``reconstruction_target``: ``slots`` or
        ``bag`` (both in :mod:`~pyserini_i3.modeling.losses`).
        """
        q = self.query_vectors(query_inputs, fast_path="off")  # the reference computation, in any mode
        v, pseudo = self.passage_vectors(passage_inputs, return_pseudo_query=True, fast_path="off")
        n_q, n_p = q.size(0), v.size(0)
        if n_p % n_q:
            raise ValueError(f"{n_p} passages for {n_q} queries: expected the same number per query")
        group = n_p // n_q
        all_v, offset = gather_with_grad(v) if gather else (v, 0)
        scores = q @ all_v.T / self.config.score_temperature
        target = offset + torch.arange(n_q, device=q.device) * group  # each query's positive
        relevant = None if other_positives == "keep" or positive_ids is None else judged(
            positive_ids, (gather_without_grad if gather else torch.as_tensor)(passage_ids.to(q.device)))
        contrastive = info_nce(scores, target, relevant, other_positives)
        loss = contrastive
        zero = contrastive.new_zeros(())

        reconstruction = zero
        if reconstruction_labels is not None and pseudo is not None and self.vocab_head is not None:
            labels = reconstruction_labels.to(q.device)
            rows = (labels != IGNORE_INDEX).any(dim=1)
            tokens = (labels != IGNORE_INDEX).sum().float()
            world = world_size() if gather else 1
            if world > 1:
                tokens = sum_over_processes(tokens)
            if rows.any():
                total = reconstruction_nll(self.reconstruction_logits(pseudo[rows]), labels[rows],
                                           reconstruction_target)
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

