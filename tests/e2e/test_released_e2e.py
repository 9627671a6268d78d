"""``--encoder i3-msmarco`` in Pyserini's own commands, first use included, without a network.

The stand-in hub of tests/fake_hub.py serves the released names' files (a tiny synthetic
checkpoint in the authors' layout); each command runs in a minimal environment through
``fake_hub.DRIVER``, which puts the tiny registry entries (hidden size 32) in place and
then runs the Pyserini module as ``python -m`` does.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

import fake_hub
from helpers import PASSAGES, make_minimal_env, run_python
from pyserini_i3.modeling.convert import convert_official

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
NAME = "i3-msmarco-distilled"
DOCS = [(f"d{i}", text) for i, text in enumerate(t for t in PASSAGES if t)]


def driver(*args) -> list[str]:
    return ["-c", fake_hub.DRIVER, *map(str, args)]


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_backbone):
    tmp = tmp_path_factory.mktemp("released-e2e")
    (tmp / "corpus").mkdir()
    with open(tmp / "corpus" / "docs.jsonl", "w") as f:
        for docid, text in DOCS:
            f.write(json.dumps({"id": docid, "contents": text}) + "\n")
    (tmp / "topics.tsv").write_text("1\tcapital of france\n2\tdense retrieval vectors\n")
    with fake_hub.FakeHub() as hub:
        paths = fake_hub.populate(hub, tiny_backbone, tmp / "served")
        env = make_minimal_env(tmp / "home", tmp / "pyserini-cache", HF_ENDPOINT=hub.url, HF_HOME=str(tmp / "hf"),
                               PYSERINI_I3_CACHE=str(tmp / "i3-cache"), FAKE_HUB_TESTS=str(TESTS))
        yield tmp, hub, env, paths


def test_encode_downloads_on_first_use_then_search_runs_offline(site):
    tmp, hub, env, paths = site
    encode = run_python(driver("pyserini.encode", "input", "--corpus", tmp / "corpus", "output", "--embeddings",
                               tmp / "index", "--to-faiss", "encoder", "--encoder", NAME, "--device", "cpu",
                               "--batch-size", "4"), env, cwd=tmp)
    assert "first use: downloading qian/III-Retriever/III_distilled.p" in encode.stderr
    assert hub.gets("III_distilled.p") == 1

    import faiss

    index = faiss.read_index(str(tmp / "index" / "index"))
    assert index.d == 32  # --dimension taken from the encoder (the registry's, before the download)
    docids = (tmp / "index" / "docid").read_text().split()
    assert docids == [d for d, _ in DOCS]
    reference = convert_official(paths[NAME]["checkpoint"], str(paths[NAME]["base"]))  # convert-official, same files
    expected = reference.encode_passages([t for _, t in DOCS])
    np.testing.assert_allclose(index.reconstruct_n(0, index.ntotal), expected, atol=1e-5, rtol=0)

    offline = {**env, "HF_HUB_OFFLINE": "1"}
    before = len(hub.requests)
    run_python(driver("pyserini.search.faiss", "--index", tmp / "index", "--topics", tmp / "topics.tsv",
                      "--encoder", NAME, "--output", tmp / "run.txt", "--hits", "3"), offline, cwd=tmp)
    lines = (tmp / "run.txt").read_text().splitlines()
    assert len(lines) == 6 and {line.split()[0] for line in lines} == {"1", "2"}
    searcher = ("from pyserini.search.faiss import FaissSearcher\n"
                f"hits = FaissSearcher({str(tmp / 'index')!r}, {NAME!r}).search('capital of france', k=2)\n"
                "print('HITS', type(FaissSearcher).__name__, [h.docid for h in hits])")
    out = run_python(driver("exec", searcher), offline, cwd=tmp).stdout
    assert "HITS" in out
    query = reference.encode_queries(["capital of france"])[0]
    best = [docids[i] for i in np.argsort(-(expected @ query))[:2]]
    assert out.split("HITS", 1)[1].strip().endswith(str(best))
    assert len(hub.requests) == before  # the later uses touched no network


def test_offline_with_nothing_cached_stops_at_argument_parsing(site):
    tmp, hub, env, _ = site
    empty = {**env, "HF_HUB_OFFLINE": "1", "PYSERINI_I3_CACHE": str(tmp / "empty-cache"), "HF_HOME": str(tmp / "hf2")}
    result = run_python(driver("pyserini.encode", "input", "--corpus", tmp / "corpus", "output", "--embeddings",
                               tmp / "never", "--to-faiss", "encoder", "--encoder", NAME, "--device", "cpu"),
                        empty, cwd=tmp, check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"error: --encoder {NAME}: {NAME}: not converted yet and HF_HUB_OFFLINE is set" in last
    assert "hf download qian/III-Retriever III_distilled.p --repo-type dataset" in last and "convert-official" in last
    assert "Traceback" not in result.stderr and not (tmp / "never").exists()


def test_hub_unreachable_with_nothing_cached_is_the_commands_last_line(site):
    tmp, _, env, _ = site
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    gone = {**env, "HF_ENDPOINT": f"http://127.0.0.1:{closed}", "PYSERINI_I3_CACHE": str(tmp / "empty-cache-2"),
            "HF_HOME": str(tmp / "hf3")}
    result = run_python(driver("pyserini.encode", "input", "--corpus", tmp / "corpus", "output", "--embeddings",
                               tmp / "never", "--to-faiss", "encoder", "--encoder", NAME, "--device", "cpu"),
                        gone, cwd=tmp, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]  # found out when the encoder is built: the exception's line
    assert last.startswith(f"ValueError: {NAME}: not converted yet and the hub (http://127.0.0.1:{closed}) "
                           "is unreachable"), result.stderr[-2000:]
    assert not (tmp / "never").exists() and not (tmp / "empty-cache-2" / "released" / f"{NAME}-153f0c13852d").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
