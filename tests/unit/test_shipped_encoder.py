"""The shipped default encoder: what `--encoder i3` means, within the git budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENCODERS = ROOT / "encoders"
BUDGET = 25 * 1024 * 1024  # bytes per shipped encoder in the repository


@pytest.fixture(scope="module")
def shipped() -> Path:
    name = (ENCODERS / "DEFAULT").read_text().strip()
    return ENCODERS / name


def test_default_names_a_compact_i3_directory_within_budget(shipped):
    from pyserini_i3.modeling.storage import is_i3_model_dir
    from pyserini_i3.plugin.resolve import resolve

    assert is_i3_model_dir(shipped)
    assert resolve("i3") == shipped
    files = {p.name for p in shipped.iterdir()}
    assert "model.safetensors" not in files  # the MiniLM base is not committed again
    assert {"i3_delta.json", "adapter_model.safetensors", "i3_heads.safetensors", "README.md"} <= files
    assert sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file()) <= BUDGET


def test_model_card_gives_base_data_steps_seed_and_scores(shipped):
    card = (shipped / "README.md").read_text()
    args = json.loads((shipped / "training_args.json").read_text())
    for needle in ("all-MiniLM-L6-v2", "SciFact", "dev600", "DL19", "nDCG@10", str(args["max_steps"]),
                   f"seed {args['seed']}", "make default-encoder"):
        assert needle in card, needle


def test_default_loads_over_the_installed_base_and_is_trained(shipped):
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.resolve import load_model

    model = load_model("i3")
    assert model.config.interaction and model.dim == 384
    assert model.config.fast_path == "exact"
    texts = ["vitamin D supplements and bone density in older women", "sleep and memory consolidation"]
    base = I3Model.from_backbone("sentence-transformers/all-MiniLM-L6-v2", variant="de")
    assert np.abs(model.encode_queries(texts) - base.encode_queries(texts)).max() > 1e-2  # adapters merged
