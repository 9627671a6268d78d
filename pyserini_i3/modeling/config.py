"""``I3Config``: everything that defines an I^3 model, saved as ``config.json``.

The two variants of the design page are presets over the same fields:

========================  ======================  =========================
field                     ``full`` (paper)        ``official`` (released code)
========================  ======================  =========================
reconstructor_attends_to  ``tokens`` (all H_p)    ``cls`` (pooled p only)
interactor_input          ``tokens+pseudo``       ``cls+pseudo-mean``
slot_format               ``mask`` (m x [MASK])   ``cls-mask-sep``
tie_vocab_head            True                    False
========================  ======================  =========================

``interaction=False`` switches reconstructor and interactor off: the vanilla dual
encoder (DE) used as the ablation baseline (``variant="de"`` does that).

``interactor_input="tokens"`` runs the interactor over ``[p ; H_p[1:]]`` alone: no
pseudo-query, so no reconstructor, no vocabulary head and no reconstruction loss
(``variant="de-layer"``, the capacity control: one more layer without the
interaction).  ``interactor_gate`` is the identity start: ``"scalar"`` makes the passage
vector ``p + g * (I(...)[0] - p)`` with a learned scalar ``g`` that starts at 0;
``"linear"`` makes it ``p + W (I(...)[0] - p)`` with a learned d x d matrix ``W`` that
starts at 0 (a zero-initialised projection, as ControlNet's zero convolutions).  Either
way an untrained model's passage vectors are exactly the DE's; ``"none"`` (default) is
the plain interactor.  ``True`` / ``False`` (configs saved before ``"linear"`` existed)
read as ``"scalar"`` / ``"none"``.

``fast_path`` (inference only, see ``I3Model.fast_path``; a call's ``fast_path=``
argument overrides it): ``off`` (default) is the reference computation; ``exact``
computes the same vectors with less work (float round-off only); ``int8`` adds int8
dynamic quantisation of the encoders on CPU.
"""

from __future__ import annotations

import inspect
import numbers
from pathlib import Path
from typing import Any

from transformers import AutoConfig, PretrainedConfig

POOLINGS = ("cls", "mean")
ATTENDS_TO = ("tokens", "cls")
INTERACTOR_INPUTS = ("tokens+pseudo", "cls+pseudo-mean", "tokens")
SLOT_FORMATS = ("mask", "cls-mask-sep")
INTERACTOR_GATES = ("none", "scalar", "linear")
FAST_PATHS = ("off", "exact", "int8")
MIN_MAX_LENGTH = 8

VARIANTS: dict[str, dict[str, Any]] = {
    "full": dict(
        interaction=True,
        reconstructor_attends_to="tokens",
        interactor_input="tokens+pseudo",
        slot_format="mask",
        tie_vocab_head=True,
    ),
    "official": dict(
        interaction=True,
        reconstructor_attends_to="cls",
        interactor_input="cls+pseudo-mean",
        slot_format="cls-mask-sep",
        tie_vocab_head=False,
        pooling="cls",
        normalize=False,
        tied_encoders=False,
    ),
    "de": dict(interaction=False),
    "de-layer": dict(interaction=True, interactor_input="tokens"),
}


class I3Config(PretrainedConfig):
    model_type = "i3"

    def __init__(
        self,
        variant: str = "full",
        backbone: str | None = None,
        backbone_config: dict | None = None,
        interaction: bool | None = None,
        tied_encoders: bool | None = None,
        pooling: str | None = None,
        normalize: bool | None = None,
        score_temperature: float = 1.0,
        reconstructor_layers: int = 1,
        num_slots: int = 32,
        slot_format: str | None = None,
        reconstructor_attends_to: str | None = None,
        interactor_layers: int = 1,
        interactor_input: str | None = None,
        interactor_gate: str | bool = "none",
        vocab_head: bool = True,
        tie_vocab_head: bool | None = None,
        query_max_length: int = 32,
        passage_max_length: int = 256,
        mask_token_id: int | None = None,
        cls_token_id: int | None = None,
        sep_token_id: int | None = None,
        fast_path: str = "off",
        **kwargs,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        preset = {"interaction": True, "tied_encoders": False, "pooling": "cls", "normalize": False,
                  **VARIANTS["full"], **VARIANTS[variant]}
        given = dict(interaction=interaction, tied_encoders=tied_encoders, pooling=pooling, normalize=normalize,
                     slot_format=slot_format, reconstructor_attends_to=reconstructor_attends_to,
                     interactor_input=interactor_input, tie_vocab_head=tie_vocab_head)
        values = {k: (preset[k] if v is None else v) for k, v in given.items()}
        self.variant = variant
        self.backbone = backbone
        self.backbone_config = backbone_config
        self.interaction = _as_bool("interaction", values["interaction"])
        self.tied_encoders = _as_bool("tied_encoders", values["tied_encoders"])
        self.pooling = values["pooling"]
        self.normalize = _as_bool("normalize", values["normalize"])
        self.score_temperature = _as_float("score_temperature", score_temperature)
        self.reconstructor_layers = _as_int("reconstructor_layers", reconstructor_layers)
        self.num_slots = _as_int("num_slots", num_slots)
        self.slot_format = values["slot_format"]
        self.reconstructor_attends_to = values["reconstructor_attends_to"]
        self.interactor_layers = _as_int("interactor_layers", interactor_layers)
        self.interactor_input = values["interactor_input"]
        self.interactor_gate = _as_gate(interactor_gate)
        self.vocab_head = _as_bool("vocab_head", vocab_head)
        self.tie_vocab_head = _as_bool("tie_vocab_head", values["tie_vocab_head"])
        self.query_max_length = _as_int("query_max_length", query_max_length)
        self.passage_max_length = _as_int("passage_max_length", passage_max_length)
        self.mask_token_id = mask_token_id
        self.cls_token_id = cls_token_id
        self.sep_token_id = sep_token_id
        self.fast_path = fast_path
        super().__init__(**kwargs)
        self.validate()

    def validate(self) -> None:
        def choice(name, allowed):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"I3Config.{name} must be one of {', '.join(allowed)}, not {value!r}")

        choice("pooling", POOLINGS)
        choice("reconstructor_attends_to", ATTENDS_TO)
        choice("interactor_input", INTERACTOR_INPUTS)
        choice("slot_format", SLOT_FORMATS)
        check_fast_path(self.fast_path, "I3Config.fast_path")
        for name in ("reconstructor_layers", "interactor_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"I3Config.{name} must be at least 1, not {getattr(self, name)}")
        minimum_slots = 3 if self.slot_format == "cls-mask-sep" else 1
        if self.num_slots < minimum_slots:
            raise ValueError(f"I3Config.num_slots must be at least {minimum_slots}, not {self.num_slots}")
        if self.score_temperature <= 0:
            raise ValueError(f"I3Config.score_temperature must be positive, not {self.score_temperature}")
        for name in ("query_max_length", "passage_max_length"):
            check_max_length(getattr(self, name), f"I3Config.{name}")

    @property
    def reconstructs(self) -> bool:
        """Whether the model has a reconstructor (a pseudo-query): interaction with pseudo-query input."""
        return self.interaction and self.interactor_input != "tokens"

    @classmethod
    def for_backbone(cls, name: str, path, tokenizer, **overrides) -> I3Config:
        """The config of a new I^3 on the backbone ``name`` (files in ``path``, a local directory).

        Pooling, normalisation and passage length default to what a
        sentence-transformers directory declares; ``overrides`` are I3Config options.
        """
        from pyserini_i3.modeling.backbone import sentence_transformer_hints

        hints = sentence_transformer_hints(Path(path))
        bb = AutoConfig.from_pretrained(path)
        defaults: dict = {}
        if hints.pooling:
            defaults["pooling"] = hints.pooling
        if hints.normalize:
            defaults.update(normalize=True, score_temperature=0.05)  # sentence-transformers' MNRL scale 20
        if hints.max_seq_length:
            defaults["passage_max_length"] = int(hints.max_seq_length)
        known = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs", "backbone", "backbone_config"}
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
        return cls(variant=variant, backbone=name, backbone_config=bb_dict, mask_token_id=tokenizer.mask_token_id,
                   cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                   **{**defaults, **overrides})

    # -- the backbone's own Hugging Face config -------------------------------------------
    def backbone_hf_config(self) -> PretrainedConfig:
        if not self.backbone_config:
            raise ValueError("I3Config.backbone_config is empty: build configs with I3Model.from_backbone")
        data = dict(self.backbone_config)
        return AutoConfig.for_model(data.pop("model_type"), **data)

    @property
    def dim(self) -> int:
        return int(self.backbone_config["hidden_size"])

    @property
    def starts_at_base(self) -> bool:
        """True when an untrained model of this config gives its backbone's own vectors: a DE, or an identity
        start (``interactor_gate``), so that the base lies on the line from the start to the trained model."""
        return not self.interaction or self.interactor_gate != "none"

    @property
    def max_positions(self) -> int | None:
        value = (self.backbone_config or {}).get("max_position_embeddings")
        return int(value) if value else None

    def slot_token_ids(self) -> list[int]:
        """Input ids of the reconstructor's query slots."""
        if self.mask_token_id is None:
            raise ValueError("I3Config.mask_token_id is not set: the tokenizer has no mask token")
        m = self.num_slots
        if self.slot_format == "mask":
            return [self.mask_token_id] * m
        return [self.cls_token_id] + [self.mask_token_id] * (m - 2) + [self.sep_token_id]


def _as_gate(value) -> str:
    """``interactor_gate``: one of INTERACTOR_GATES; booleans and "true"/"false" (the earlier form) map
    to "scalar"/"none"."""
    aliases = {"true": "scalar", "false": "none"}
    if isinstance(value, bool):
        return "scalar" if value else "none"
    if isinstance(value, str) and value.lower() in (*INTERACTOR_GATES, *aliases):
        return aliases.get(value.lower(), value.lower())
    raise ValueError(f"I3Config.interactor_gate must be one of {', '.join(INTERACTOR_GATES)}, not {value!r}")


def _as_bool(name: str, value) -> bool:
    if isinstance(value, bool) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"I3Config.{name} must be true or false, not {value!r}")


def _as_int(name: str, value) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"I3Config.{name} must be an integer, not {value!r}")


def _as_float(name: str, value) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"I3Config.{name} must be a number, not {value!r}")


def check_fast_path(value, what: str = "fast_path") -> str:
    if value not in FAST_PATHS:
        raise ValueError(f"{what} must be one of {', '.join(FAST_PATHS)}, not {value!r}")
    return value


def check_max_length(value, what: str = "max_length") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if value < MIN_MAX_LENGTH:
        raise ValueError(f"{what}={value} is too small: it must be at least {MIN_MAX_LENGTH} tokens")
    return value


AutoConfig.register(I3Config.model_type, I3Config, exist_ok=True)
