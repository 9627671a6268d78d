"""``pyserini-runs``' pipeline (``eval.pipelines.collection_runs``) with an encoder whose vectors are not 384-d:
the plugin gives Pyserini the encoder's own dimension (it once passed ``--dimension 384`` whatever the encoder)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]


def test_collection_runs_take_the_encoder_s_dimension(tiny_backbone, tmp_path, minimal_env):
    from pyserini_i3.eval.collections import SAMPLE_DIR, beir_test_collection
    from pyserini_i3.eval.commands import Runner
    from pyserini_i3.eval.pipelines import collection_runs
    from pyserini_i3.modeling.model import I3Model
    from pyserini_i3.plugin.argparse_patch import faiss_index_dimension

    model = I3Model.from_backbone(str(tiny_backbone), variant="full").save_pretrained(tmp_path / "tiny-i3")
    work = tmp_path / "work"
    beir_test_collection(SAMPLE_DIR, work)
    scores = collection_runs(Runner(work, minimal_env, print), str(model), "topics.tsv", "qrels.txt",
                             ["title", "text"], 100)
    assert faiss_index_dimension(work / "indexes" / "faiss-i3") == 32
    assert len(scores) == 4 and all(0 <= s["nDCG@10"] <= 1 for s in scores.values())
