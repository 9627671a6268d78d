"""Pyserini 2.x's GitHub fetches (``pyserini_i3.plugin.offline``): cached by commit, stood in offline."""

from __future__ import annotations

import io
import json
import urllib.error

import pytest

from pyserini_i3.plugin import compat, offline

pytestmark = pytest.mark.pyserini

COMMIT = "0b4acbd929edd11edfd16250457fb70ff69e9b4f"
EVAL = f"https://raw.githubusercontent.com/castorini/eval/{COMMIT}/"
PREBUILT = f"https://raw.githubusercontent.com/castorini/prebuilt-indexes/{'3' * 40}/"


@pytest.fixture
def net(monkeypatch, tmp_path):
    """The real urlopen replaced by a recorder; caches in tmp; the process not yet offline."""
    calls, answers = [], {}

    def fake(url, data=None, timeout=None, *args, **kwargs):
        calls.append((url, timeout))
        answer = answers.get(url)
        if isinstance(answer, Exception) or answer is None:
            raise answer or urllib.error.URLError("Name or service not known")
        return io.BytesIO(answer)

    monkeypatch.setattr(offline, "_real_urlopen", fake)
    monkeypatch.setattr(offline, "_network_failed", False)
    monkeypatch.setenv("PYSERINI_I3_CACHE", str(tmp_path / "i3-cache"))
    monkeypatch.setenv("PYSERINI_CACHE", str(tmp_path / "pyserini-cache"))
    monkeypatch.delenv(offline.OFFLINE_ENV, raising=False)
    return calls, answers


def test_a_pinned_file_is_fetched_once_then_served_from_the_cache(net):
    calls, answers = net
    answers[EVAL + "topics.json"] = json.dumps({"dl19-passage": {"path": "topics.dl19-passage.txt"}}).encode()
    first = json.loads(offline.urlopen(EVAL + "topics.json").read())
    again = json.loads(offline.urlopen(EVAL + "topics.json").read())
    assert first == again == {"dl19-passage": {"path": "topics.dl19-passage.txt"}}
    assert calls == [(EVAL + "topics.json", offline.TIMEOUT)]  # once, with a timeout


def test_offline_the_first_failure_ends_network_use_and_stand_ins_answer(net, tmp_path):
    calls, _ = net
    topics = tmp_path / "pyserini-cache" / "topics"
    topics.mkdir(parents=True)
    (topics / "topics.dl19-passage.txt").write_text("19335\tanthropological definition of environment\n")
    (topics / "topics.my-own.tsv").write_text("1\tq\n")
    qrels = tmp_path / "pyserini-cache" / "qrels"
    qrels.mkdir(parents=True)
    (qrels / "qrels.dl19-passage.txt").write_text("19335 0 1017759 0\n")

    catalogue = json.loads(offline.urlopen(PREBUILT + "lucene/msmarco-v1-passage-impact.json", timeout=10).read())
    assert [r["name"] for r in catalogue] == ["msmarco-v1-passage.unicoil"] and catalogue[0]["urls"] == []
    mapping = json.loads(offline.urlopen(EVAL + "topics.json").read())
    assert mapping["dl19-passage"] == {"path": "topics.dl19-passage.txt",
                                       "reader_class": "io.anserini.search.topicreader.TsvIntTopicReader"}
    assert mapping["my-own"]["reader_class"].endswith("TsvStringTopicReader")
    assert json.loads(offline.urlopen(EVAL + "qrels.json").read()) == {"dl19-passage": "qrels.dl19-passage.txt"}
    assert "beir-v1.0.0-scifact" in json.loads(offline.urlopen(EVAL + "qrels-aliases.json").read())[
        "beir-v1.0.0-scifact-test"]
    assert len(calls) == 1  # one failed attempt in the process, then no socket at all
    assert not (tmp_path / "i3-cache").exists()  # stand-ins are never cached


def test_the_switch_skips_the_network(net, monkeypatch):
    calls, _ = net
    monkeypatch.setenv(offline.OFFLINE_ENV, "1")
    assert json.loads(offline.urlopen(PREBUILT + "faiss/msmarco.json").read()) == {}
    assert calls == []


def test_other_urls_pass_through(net):
    calls, answers = net
    answers["https://example.org/x"] = b"raw"
    assert offline.urlopen("https://example.org/x").read() == b"raw"
    assert calls == [("https://example.org/x", None)]
    unpinned = "https://raw.githubusercontent.com/castorini/eval/main/topics.json"  # not a commit: not cached
    with pytest.raises(urllib.error.URLError):
        offline.urlopen(unpinned)


def test_install_and_restore_swap_urllibs_urlopen():
    import urllib.request

    real = urllib.request.urlopen
    offline.install()
    try:
        assert urllib.request.urlopen is offline.urlopen
    finally:
        offline.restore()
    assert urllib.request.urlopen is real


def test_compat_reports_a_missing_hook_point_in_one_line():
    import types

    module = types.ModuleType("pyserini.encode")
    with pytest.raises(compat.HookPointMissing) as exc:
        compat.require(module, "document_encoder_class_map")
    message = str(exc.value)
    assert "\n" not in message and "pyserini.encode.document_encoder_class_map" in message
    assert f"Pyserini {compat.pyserini_version()}" in message and compat.SUPPORTED in message


def test_an_uncaught_missing_hook_point_prints_one_line_not_a_traceback():
    import subprocess
    import sys

    code = ("import types; from pyserini_i3.plugin import compat; "
            "compat.require(types.ModuleType('pyserini.encode'), 'document_encoder_class_map')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"pyserini-i3: Pyserini {compat.pyserini_version()} has no pyserini.encode.document_encoder_class_map; "
        f"this version of pyserini-i3 supports Pyserini {compat.SUPPORTED}"]


def test_compat_finds_the_encoded_queries_parameter():
    class Old:
        def __init__(self, encoded_query_dir=None): ...

    class New:
        def __init__(self, encoded_queries_dir=None): ...

    class Other:
        def __init__(self, path=None): ...

    assert compat.encoded_queries_parameter(Old) == "encoded_query_dir"
    assert compat.encoded_queries_parameter(New) == "encoded_queries_dir"
    with pytest.raises(compat.HookPointMissing, match="encoded-queries parameter"):
        compat.encoded_queries_parameter(Other)
