"""``expand``'s output through Pyserini's own commands: ``pyserini.index.lucene`` indexes it unchanged and
``pyserini.search.lucene`` finds a passage by a term only its pseudo-query names; ``explain`` reads a passage
from that index; the stop words the expansion skips are Lucene's own."""

from __future__ import annotations

import json

import pytest

from helpers import BAG_PASSAGES, run_python, write_bag_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexes(tiny_backbone, tmp_path_factory, minimal_env):
    root = tmp_path_factory.mktemp("expand")
    model = write_bag_model(tiny_backbone, root / "model")
    corpus = root / "corpus" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "contents": p}) + "\n" for i, p in enumerate(BAG_PASSAGES)))
    run_python(["-m", "pyserini_i3", "expand", "--encoder", model, "--input", corpus, "--output", root / "expanded",
                "--terms", "2", "--progress", "false"], minimal_env)
    out = {"model": model, "root": root}
    for name, folder in (("plain", corpus.parent), ("expanded", root / "expanded")):
        out[name] = root / f"index-{name}"
        run_python(["-m", "pyserini.index.lucene", "--collection", "JsonCollection", "--input", folder,
                    "--index", out[name], "--generator", "DefaultLuceneDocumentGenerator", "--threads", "1",
                    "--storeRaw"], minimal_env)
    return out


def search(indexes, name: str, query: str, env) -> list[str]:
    topics, run = indexes["root"] / "topics.tsv", indexes["root"] / f"run-{name}.trec"
    topics.write_text(f"1\t{query}\n")
    run_python(["-m", "pyserini.search.lucene", "--index", indexes[name], "--topics", topics, "--output", run,
                "--bm25", "--hits", "10"], env)
    return [line.split()[2] for line in run.read_text().splitlines()]


def test_the_expanded_collection_indexes_and_searches_with_pyserini(indexes, minimal_env):
    assert search(indexes, "plain", "city", minimal_env) == []  # no passage says "city" or "dog"
    assert search(indexes, "plain", "dog", minimal_env) == []
    city, dog = search(indexes, "expanded", "city", minimal_env), search(indexes, "expanded", "dog", minimal_env)
    assert city[0] == "d0" and "d2" not in city  # their pseudo-queries do (the two top terms: city capital for
    assert dog == ["d2"]  # passages 0 and 1, alike to the model; bird dog for passage 2)
    assert sorted(search(indexes, "expanded", "cat", minimal_env)) == ["d2"]  # the text is indexed too


def test_explain_reads_a_passage_from_a_lucene_index(indexes, minimal_env):
    result = run_python(["-m", "pyserini_i3", "explain", "--encoder", indexes["model"], "--index", indexes["plain"],
                         "--docid", "d0", "--k", "3", "--content-only", "--json"], minimal_env)
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["id"] == "d0" and {t["term"] for t in record["terms"]} == {"capital", "city", "france"}
    missing = run_python(["-m", "pyserini_i3", "explain", "--encoder", indexes["model"], "--index", indexes["plain"],
                          "--docid", "nope"], minimal_env, check=False)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1] == \
        f"explain: --docid nope: not in --index {indexes['plain']}"


def test_the_skipped_stop_words_are_lucene_s_english_stop_words():
    from pyserini.pyclass import autoclass

    from pyserini_i3.modeling.pseudo_query import LUCENE_STOP_WORDS

    words = autoclass("org.apache.lucene.analysis.en.EnglishAnalyzer").ENGLISH_STOP_WORDS_SET.toString()
    assert set(words.strip("[]").split(", ")) == LUCENE_STOP_WORDS
