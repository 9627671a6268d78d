"""End to end: Pyserini 2.4's REST and MCP servers with I^3 indexes (FAISS and Lucene HNSW).

The sample collection (60 passages, 12 claims) encoded with ``--encoder i3``; a BM25 index for the
documents; the REST server started as a user would (``python -m pyserini.server.rest --config``,
without ``--no-prebuilt-indexes``) on 127.0.0.1 and asked over HTTP; the MCP tools called through
the MCP protocol (fastmcp's in-memory client) on the same backend code.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import PYTHON, run_python
from pyserini_i3.eval.collections import SAMPLE_DIR, beir_test_collection
from pyserini_i3.utils.trec import rank, read_run

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, minimal_env):
    if importlib.util.find_spec("pyserini.server.backend") is None:  # 1.6's server needs uniir_for_pyserini
        pytest.skip("Pyserini < 2.4: no shared server backend (pyserini.server.backend) to serve I^3 with")
    root = tmp_path_factory.mktemp("server")
    coll = beir_test_collection(SAMPLE_DIR, root)
    py = lambda *args: run_python(args, minimal_env, cwd=root)  # noqa: E731
    py("-m", "pyserini.encode", "input", "--corpus", "corpus", "--fields", "title", "text", "output",
       "--embeddings", "faiss-i3", "--to-faiss", "encoder", "--encoder", "i3", "--fields", "title", "text",
       "--add-sep", "--device", "cpu")
    py("-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", "corpus", "--index", "bm25",
       "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1", "--storeRaw")
    py("-m", "pyserini_i3", "index-dense", "--input", "faiss-i3", "--output", "hnsw-i3", "--hnsw", "--int8",
       "--quiet")
    py("-m", "pyserini.search.faiss", "--index", "faiss-i3", "--topics", coll.topics, "--encoder", "i3",
       "--hits", "10", "--output", "faiss.txt")
    py("-m", "pyserini.search.lucene", "--dense", "--hnsw", "--index", "hnsw-i3", "--ef-search", "100",
       "--topics", coll.topics, "--encoder", "i3", "--hits", "10", "--output", "hnsw.txt")
    config = root / "config.yaml"
    config.write_text("indexes:\n"
                      "  sample-bm25: {path: bm25, index_type: tf}\n"
                      "  sample-i3: {path: faiss-i3, index_type: faiss, encoder: i3, base_index: sample-bm25}\n"
                      "  sample-i3-hnsw: {path: hnsw-i3, index_type: lucene_hnsw, encoder: i3, ef_search: 100,"
                      " base_index: sample-bm25}\n")
    port = free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen([PYTHON, "-m", "pyserini.server.rest", "--config", str(config), "--host", "127.0.0.1",
                               "--port", str(port), "--search-cache-size", "0", "--document-cache-size", "0"],
                              env=minimal_env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if server.poll() is not None:
                pytest.fail(f"the REST server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(base + "/docs", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        topics = dict(line.split("\t") for line in coll.topics.read_text().splitlines())
        yield {"base": base, "root": root, "topics": topics, "config": config}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def get(base: str, path: str, **params) -> tuple[int, dict]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.parametrize(("alias", "run"), [("sample-i3", "faiss.txt"), ("sample-i3-hnsw", "hnsw.txt")])
def test_rest_hits_equal_the_command_line_runs(served, alias, run):
    expected = read_run(served["root"] / run)
    for qid in list(served["topics"])[:4]:
        status, body = get(served["base"], f"/v1/{alias}/search", query=served["topics"][qid], hits=10)
        assert status == 200, body
        got = [(c["docid"], round(c["score"], 5)) for c in body["candidates"]]
        assert got == [(d, round(s, 5)) for d, s in rank(expected[qid], 10)], (alias, qid)
        assert body["candidates"][0]["doc"]  # the document, from the BM25 index (base_index)
    status, body = get(served["base"], f"/v1/{alias}/doc/s01")
    assert status == 200 and "Vitamin D" in json.dumps(body)


def test_a_request_opens_nothing_the_config_does_not_name(served, tmp_path):
    base = served["base"]
    for name in ("msmarco-v1-passage", str(served["root"] / "bm25")):  # a prebuilt name, a directory
        status, body = get(base, f"/v1/{urllib.parse.quote(name, safe='')}/search", query="vitamin d", hits=3)
        assert status == 400 and "not configured" in body["error"], (name, body)
    # REST has no encoder parameter: one given is ignored, the configured model answers
    plain = get(base, "/v1/sample-i3/search", query="vitamin d", hits=5)
    other = get(base, "/v1/sample-i3/search", query="vitamin d", hits=5, encoder=str(tmp_path), ef_search=1)
    assert plain == other


def test_concurrent_requests_all_succeed(served):
    """16 at once over the three aliases (the plugin serialises the JVM calls); runs/server-load measures more."""
    queries = list(served["topics"].values())
    jobs = [(alias, queries[i % len(queries)]) for i in range(48) for alias in ("sample-i3", "sample-i3-hnsw",
                                                                                 "sample-bm25")]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda job: get(served["base"], f"/v1/{job[0]}/search", query=job[1], hits=10)[0],
                                 jobs))
    assert statuses == [200] * len(jobs)


def test_mcp_search_cannot_choose_the_encoder(served, tmp_path):
    import asyncio

    fastmcp = pytest.importorskip("fastmcp")
    from pyserini.server.backend import SharedSearchBackend
    from pyserini.server.mcp.tools import register_tools

    backend = SharedSearchBackend(str(served["config"]), search_cache_size=0, document_cache_size=0)
    server = fastmcp.FastMCP("test")
    register_tools(server, backend)
    query = served["topics"][next(iter(served["topics"]))]
    expected = read_run(served["root"] / "faiss.txt")[next(iter(served["topics"]))]

    async def call(**arguments):
        async with fastmcp.Client(server) as client:
            return await client.call_tool("search", {"query": query, "hits": 3, **arguments}, raise_on_error=False)

    ok = asyncio.run(call(index="sample-i3"))
    assert not ok.is_error and [d for d, _ in rank(expected, 3)][0] in json.dumps(ok.structured_content or
                                                                                  ok.content[0].text)
    refused = asyncio.run(call(index="sample-i3", encoder=str(tmp_path)))
    assert refused.is_error and "served with encoder i3" in refused.content[0].text
    assert asyncio.run(call(index="sample-i3-hnsw", ef_search=1)).is_error is False  # the config's ef_search
    assert backend.indexes["sample-i3-hnsw"].ef_search == 100
    backend.close_all()
