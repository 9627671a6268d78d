"""Fast tests of the training-data readers, the Tevatron file and `prepare` on synthetic files.

Nothing here starts the JVM: mining goes through a stub miner.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from pyserini_i3.cli import prepare as prep_cli
from pyserini_i3.training import prepare as prep
from pyserini_i3.training.examples import Passage, TrainingExample, read_training_file, write_training_file
from pyserini_i3.training.mining import query_rng, select_negatives, write_json_collection
from pyserini_i3.utils.files import atomic_file as atomic_output
from pyserini_i3.utils.formats import (
    DUPLICATE,
    MALFORMED,
    Doc,
    Problems,
    detect_format,
    read_collection,
    read_pseudo_queries,
    read_qrels,
    read_queries,
    read_teacher_scores,
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def jsonl(*objs) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


# --------------------------------------------------------------------------- readers


def test_beir_collection_counts_malformed_and_duplicates(tmp_path):
    path = write(
        tmp_path / "corpus.jsonl",
        jsonl(
            {"_id": "d1", "title": "T1", "text": "one"},
            "{not json",
            {"title": "no id", "text": "x"},
            {"_id": "d2", "text": "no title"},
            "",
            {"_id": "d1", "title": "again", "text": "dup"},
            {"_id": 7, "title": None, "text": "int id"},
            {"_id": "d3", "title": "T", "text": 5},
            {"id": "p9", "contents": "pyserini json"},
        ),
    )
    problems = Problems()
    docs = read_collection(path, "auto", problems)
    expected = {"d1": Doc("T1", "one"), "d2": Doc("", "no title"), "7": Doc("", "int id"),
                "p9": Doc("", "pyserini json")}
    assert docs == expected
    assert problems.count(MALFORMED) == 3
    assert problems.first[MALFORMED] == "corpus.jsonl:2"
    assert problems.count(DUPLICATE) == 1 and problems.first[DUPLICATE] == "corpus.jsonl:6"
    assert problems.describe(MALFORMED) == "3 malformed lines (corpus.jsonl:2 first)"


def test_msmarco_collection_two_and_three_columns(tmp_path):
    raw = b"1\tplain text\n2\tA title\tbody\n3\n4\ta\tb\tc\n\tno id\n5\ttext with a \r carriage return\n"
    raw += b"6\t\xff\xfe bad utf-8\n"
    path = write(tmp_path / "collection.tsv", raw)
    problems = Problems()
    docs = read_collection(path, "auto", problems)
    assert list(docs) == ["1", "2", "5"]
    assert docs["2"] == Doc("A title", "body")
    assert docs["5"].text == "text with a \r carriage return"
    assert problems.count(MALFORMED) == 4
    assert problems.first[MALFORMED] == "collection.tsv:3"


def test_gzip_and_format_detection(tmp_path):
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(jsonl({"_id": "a", "title": "", "text": "gz"}))
    assert detect_format(path) == "beir"
    assert read_collection(path) == {"a": Doc("", "gz")}
    assert detect_format(write(tmp_path / "c.tsv", "\n1\t{x}\n")) == "msmarco"
    assert detect_format(write(tmp_path / "c.txt", "\ufeff{\"_id\": 1}\n")) == "beir"


def test_contents_joins_title_and_text_like_beir_flat():
    assert Doc("Title", "text").contents() == "Title\ntext"
    assert Doc("", "text").contents() == "text"


def test_queries_beir_and_tsv(tmp_path):
    problems = Problems()
    beir = write(tmp_path / "queries.jsonl", jsonl({"_id": "1", "text": "q one"}, {"_id": "2", "text": "  "}, "[1]"))
    assert read_queries(beir, "beir", problems) == {"1": "q one"}
    tsv = write(tmp_path / "queries.tsv", "10\tten\n11\n12\ttwelve\textra\n10\tagain\n")
    assert read_queries(tsv, "msmarco", problems) == {"10": "ten"}
    assert problems.count(MALFORMED) == 4
    assert problems.first[MALFORMED] == "queries.jsonl:2"
    assert problems.count(DUPLICATE) == 1


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        read_queries(write(tmp_path / "q.tsv", "1\tq\n"), "trec")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td3\t2\n", {"1": {"d1": 1, "d2": 0}, "2": {"d3": 2}}),
        ("1 0 d1 1\n1 0 d2 0\n2 Q0 d3 3\n", {"1": {"d1": 1, "d2": 0}, "2": {"d3": 3}}),
        ("1\td1\n2\td3\n", {"1": {"d1": 1}, "2": {"d3": 1}}),
    ],
    ids=["beir", "trec", "msmarco-2col"],
)
def test_qrels_layouts(tmp_path, text, expected):
    problems = Problems()
    assert read_qrels(write(tmp_path / "qrels.tsv", text), problems) == expected
    assert problems.counts == {}


def test_qrels_malformed(tmp_path):
    problems = Problems()
    path = write(tmp_path / "qrels.txt", "1 0 d1 1\n1 0 d2 x\n1 d3 1.5\nonly\n1 0 d4 1 extra\n2 0 d5 nan\n")
    assert read_qrels(path, problems) == {"1": {"d1": 1}}
    assert problems.count(MALFORMED) == 5 and problems.first[MALFORMED] == "qrels.txt:2"


def test_teacher_scores_tsv_and_trec_run(tmp_path):
    problems = Problems()
    path = write(tmp_path / "scores.txt", "1\td1\t2.5\n1 Q0 d2 1 -0.5 ce\n1\td3\tx\n2\td1\t1\n")
    assert read_teacher_scores(path, problems) == {"1": {"d1": 2.5, "d2": -0.5}, "2": {"d1": 1.0}}
    assert problems.count(MALFORMED) == 1 and problems.first[MALFORMED] == "scores.txt:3"
    assert read_teacher_scores(path, Problems(), qids={"2"}) == {"2": {"d1": 1.0}}


def test_pseudo_queries(tmp_path):
    problems = Problems()
    path = write(tmp_path / "pseudo.tsv", "d1\twhat is one\nd2\nd1\tsecond\nd3\t\n")
    assert read_pseudo_queries(path, problems) == {"d1": "what is one"}
    assert problems.count(MALFORMED) == 2 and problems.count(DUPLICATE) == 1


# --------------------------------------------------------------------------- Tevatron file


def example(qid="1") -> TrainingExample:
    return TrainingExample(
        qid,
        "what is é?",
        [Passage("d1", "T", "pos", score=3.5, pseudo_query="recon")],
        [Passage("d2", "", "neg"), Passage("d3", "T3", "neg3", score=-1.0)],
    )


def test_tevatron_round_trip(tmp_path):
    out = tmp_path / "train.jsonl"
    assert write_training_file(out, [example("1"), example("2")]) == 2
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    expected = {"docid": "d1", "title": "T", "text": "pos", "score": 3.5, "pseudo_query": "recon"}
    assert first["positive_passages"][0] == expected
    assert first["negative_passages"][0] == {"docid": "d2", "title": "", "text": "neg"}  # no extras when absent
    assert "é" in out.read_text(encoding="utf-8")
    problems = Problems()
    assert read_training_file(out, problems) == [example("1"), example("2")]
    assert problems.counts == {}


def test_reads_plain_tevatron_file_and_reports_bad_lines(tmp_path):
    plain = {
        "query_id": 3,
        "query": "q",
        "answers": ["x"],
        "positive_passages": [{"docid": "1", "title": "t", "text": "p"}],
        "negative_passages": [{"docid": "2", "text": "n"}],
    }
    no_id = {"query": "q2", "positive_passages": [{"docid": "5", "title": "", "text": "p"}]}
    bad = [
        "{broken",
        {"query_id": "9", "query": "no positives", "positive_passages": []},
        {"query_id": "9", "query": "bad passage", "positive_passages": [{"title": "no docid", "text": "x"}]},
        {"query_id": "9", "query": "bad score", "positive_passages": [{"docid": "1", "text": "x", "score": "high"}]},
    ]
    path = write(tmp_path / "tevatron.jsonl", jsonl(plain, *bad, no_id))
    problems = Problems()
    examples = read_training_file(path, problems)
    assert [e.query_id for e in examples] == ["3", "6"]  # a missing query_id becomes the line number
    assert examples[0].negative_passages == [Passage("2", "", "n")]
    assert examples[0].positive_passages[0].score is None
    assert problems.describe(MALFORMED) == "4 malformed lines (tevatron.jsonl:2 first)"


# --------------------------------------------------------------------------- atomic output


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "sub" / "train.jsonl"
    with pytest.raises(RuntimeError), atomic_output(out) as f:
        f.write("partial\n")
        raise RuntimeError("boom")
    assert list((tmp_path / "sub").iterdir()) == []


def test_atomic_output_keeps_old_file_on_error_and_replaces_on_success(tmp_path):
    out = write(tmp_path / "train.jsonl", "old\n")
    with pytest.raises(KeyboardInterrupt), atomic_output(out) as f:
        f.write("new\n")
        raise KeyboardInterrupt
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]
    with atomic_output(out) as f:
        f.write("new\n")
    assert out.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]
    assert out.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


# --------------------------------------------------------------------------- negatives


def test_select_negatives_excludes_positives_and_keeps_rank_order():
    ranked = ["p1", "a", "b", "a", "zz", "c", "p2", "d", "e"]
    known = {"a", "b", "c", "d", "e", "p1", "p2"}
    negs, outside = select_negatives(ranked, {"p1", "p2"}, 10, random.Random(0), known)
    assert negs == ["a", "b", "c", "d", "e"] and outside == 1
    drawn, _ = select_negatives(ranked, {"p1", "p2"}, 3, query_rng(42, "q"), known)
    assert len(drawn) == 3 and drawn == sorted(drawn)  # ranks a<b<c<d<e happen to be alphabetical
    assert drawn == select_negatives(ranked, {"p1", "p2"}, 3, query_rng(42, "q"), known)[0]
    draws = {tuple(select_negatives(ranked, set(), 3, query_rng(s, "q"), known)[0]) for s in range(20)}
    assert len(draws) > 1  # the seed matters


def test_write_json_collection_shards(tmp_path):
    docs = {str(i): Doc(f"t{i}" if i % 2 else "", f"x{i}") for i in range(5)}
    paths = write_json_collection(docs, tmp_path / "coll", docs_per_file=2)
    assert [p.name for p in paths] == ["docs00.jsonl", "docs01.jsonl", "docs02.jsonl"]
    lines = [json.loads(line) for p in paths for line in p.read_text().splitlines()]
    assert lines[0] == {"id": "0", "contents": "x0"} and lines[1] == {"id": "1", "contents": "t1\nx1"}


# --------------------------------------------------------------------------- prepare, with a stub miner


class StubMiner:
    """Ranks the whole collection for every query in a fixed order (reverse docid), optionally failing."""

    def __init__(self, docids, fail_after=None, extra=()):
        self.ranking = [*extra, *sorted(docids, reverse=True)]
        self.calls = 0
        self.fail_after = fail_after

    def search(self, queries, k):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("search failed")
        return {qid: self.ranking[:k] for qid, _ in queries}


@pytest.fixture
def dataset(tmp_path):
    docs = [{"_id": f"d{i:02d}", "title": f"title {i}", "text": f"text {i}"} for i in range(30)]
    write(tmp_path / "corpus.jsonl", jsonl(*docs, "{oops"))
    write(tmp_path / "queries.jsonl", jsonl(*({"_id": str(q), "text": f"query {q}"} for q in [*range(1, 7), 10])))
    qrels = [
        "query-id\tcorpus-id\tscore",
        "1\td29\t1",
        "1\td28\t2",  # two positives, the more relevant first
        "2\td05\t1",
        "2\tmissing\t1",  # unknown docid, query kept
        "3\tmissing2\t1",  # no positive in the collection
        "4\td10\t0",  # judged non-relevant only
        "99\td01\t1",  # query not in the queries file
        "5\td03\t1",
        "5\td27\t0",  # a judged negative may be mined
        "5\td09\tyes",  # malformed
        "10\td04\t1",  # sorted after 5 (numeric ids sort numerically)
        "",
    ]
    write(tmp_path / "qrels" / "train.tsv", "\n".join(qrels) + "\n")
    return tmp_path


def config(root: Path, **overrides) -> prep.PrepareConfig:
    values = dict(
        collection=root / "corpus.jsonl",
        queries=root / "queries.jsonl",
        qrels=root / "qrels" / "train.tsv",
        output=root / "out" / "train.jsonl",
        depth=10,
        negatives=4,
    )
    values.update(overrides)
    return prep.PrepareConfig(**values)


def all_docids(root):
    return [f"d{i:02d}" for i in range(30)]


def test_prepare_counts_skips_and_writes(dataset):
    cfg = config(dataset)
    result = prep.prepare(cfg, StubMiner(all_docids(dataset)))
    examples = read_training_file(cfg.output)
    assert [e.query_id for e in examples] == ["1", "2", "5", "10"]
    assert [p.docid for p in examples[0].positive_passages] == ["d28", "d29"]
    assert examples[0].positive_passages[0].title == "title 28"
    for e in examples:
        pos = {p.docid for p in e.positive_passages}
        negs = [p.docid for p in e.negative_passages]
        assert len(negs) == 4 and not pos & set(negs)
        assert negs == sorted(negs, reverse=True)  # kept in the miner's rank order
        assert set(negs) <= {f"d{i:02d}" for i in range(18, 30)}  # from the top 10 only
    assert result.written == 4 and result.positives == 5 and result.negatives == 16
    line = result.summary_line()
    assert line.startswith("prepare: 4 queries written (5 positives, 16 negatives), 2 without positives (qid 3 first)")
    assert "1 not in queries file (qid 99 first)" in line
    assert "2 unknown docids in qrels (qid 2 docid missing first)" in line
    assert "2 malformed lines (corpus.jsonl:31 first)" in line
    assert "0 with fewer than 4 negatives" in line
    assert line.endswith("s") and "train.jsonl in" in line


def test_prepare_is_deterministic_and_seeded(dataset):
    def run(seed, name):
        cfg = config(dataset, seed=seed, output=dataset / name)
        prep.prepare(cfg, StubMiner(all_docids(dataset)))
        return cfg.output.read_bytes()

    assert run(42, "a.jsonl") == run(42, "b.jsonl")
    assert run(42, "a.jsonl") != run(7, "c.jsonl")


def test_prepare_extras_teacher_and_pseudo(dataset):
    write(dataset / "teacher.tsv", "1\td28\t9.5\n1\td29\t8\n2 Q0 d05 1 7.25 ce\nbroken\n")
    write(dataset / "pseudo.tsv", "d28\tpseudo for 28\nd05\tpseudo for 5\n")
    cfg = config(dataset, teacher_scores=dataset / "teacher.tsv", pseudo_queries=dataset / "pseudo.tsv",
                 negatives=2, depth=2)
    result = prep.prepare(cfg, StubMiner(all_docids(dataset)))
    first, second = read_training_file(cfg.output)[:2]
    expected_positives = [("d28", 9.5, "pseudo for 28"), ("d29", 8.0, None)]
    assert [(p.docid, p.score, p.pseudo_query) for p in first.positive_passages] == expected_positives
    assert second.positive_passages[0].score == 7.25 and second.positive_passages[0].pseudo_query == "pseudo for 5"
    # the top 2 (d29, d28) are query 1's positives, and the negatives of the others
    assert first.negative_passages == []
    expected_negatives = [("d29", None, None), ("d28", None, "pseudo for 28")]
    assert [(p.docid, p.score, p.pseudo_query) for p in second.negative_passages] == expected_negatives
    line = result.summary_line()
    assert "(5 positives, 6 negatives)" in line
    assert "3 malformed lines (corpus.jsonl:31 first)" in line  # collection, qrels and teacher file
    # 3 queries x 2 negatives, plus the positives d03 and d04 have no score
    assert "8 passages without teacher score (qid 2 docid d29 first)" in line
    assert "5 passages with a pseudo-query" in line  # d28 four times, d05 once


def test_prepare_short_of_negatives_and_hits_outside_collection(dataset):
    cfg = config(dataset, depth=5, negatives=5)
    result = prep.prepare(cfg, StubMiner(all_docids(dataset), extra=["ghost"]))
    examples = read_training_file(cfg.output)
    assert all("ghost" not in [p.docid for p in e.negative_passages] for e in examples)
    # ghost + d29 d28 d27 d26 are the top 5: query 1 (positives d28, d29) keeps 2
    assert [len(e.negative_passages) for e in examples] == [2, 4, 4, 4]
    assert result.problems.count(prep.SHORT) == 4
    assert "4 hits outside the collection (qid 1 first)" in result.summary_line()


def test_prepare_without_negatives_needs_no_miner(dataset):
    cfg = config(dataset, negatives=0)
    result = prep.prepare(cfg)  # would start the JVM if it tried to mine
    assert result.written == 4 and all(e.negative_passages == [] for e in read_training_file(cfg.output))


def test_prepare_failure_midway_leaves_no_output(dataset):
    cfg = config(dataset, batch_size=1)
    write(cfg.output, "previous\n")
    miner = StubMiner(all_docids(dataset), fail_after=2)
    with pytest.raises(RuntimeError, match="search failed"):
        prep.prepare(cfg, miner)
    assert miner.calls == 3  # two batches were written before the failure
    assert [p.name for p in cfg.output.parent.iterdir()] == ["train.jsonl"]
    assert cfg.output.read_text() == "previous\n"


def test_prepare_with_no_usable_query_is_an_error(dataset):
    write(dataset / "qrels" / "none.tsv", "3\tmissing\t1\n")
    cfg = config(dataset, qrels=dataset / "qrels" / "none.tsv")
    with pytest.raises(ValueError, match="no training examples"):
        prep.prepare(cfg, StubMiner([]))
    assert not cfg.output.exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(negatives=20, depth=10), "cannot be drawn"),
        (dict(depth=0), "must be >= 1"),
        (dict(dense_index=Path("x")), "go together"),
        (dict(dense_index=Path("x"), dense_encoder="e", bm25_index=Path("y")), "not both"),
    ],
)
def test_config_checks(dataset, overrides, message):
    with pytest.raises(ValueError, match=message):
        prep.prepare(config(dataset, **overrides), StubMiner([]))


# --------------------------------------------------------------------------- command line


def test_cli_beir_dir_without_negatives(dataset, capsys):
    out = dataset / "cli.jsonl"
    assert prep_cli.main(["--beir-dir", str(dataset), "--output", str(out), "--negatives", "0"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("prepare: 4 queries written (5 positives, 0 negatives), 2 without positives")
    assert len(read_training_file(out)) == 4


def test_cli_errors(dataset, capsys):
    out = dataset / "cli.jsonl"
    assert prep_cli.main(["--beir-dir", str(dataset), "--split", "dev", "--output", str(out), "--negatives", "0"]) == 1
    assert "prepare: error:" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit) as exit_info:
        prep_cli.main(["--collection", "c.tsv", "--output", str(out)])
    assert exit_info.value.code == 2
    assert "--queries, --qrels" in capsys.readouterr().err


def test_cli_is_registered():
    from pyserini_i3.__main__ import COMMANDS

    assert COMMANDS["prepare"][0] == "pyserini_i3.cli.prepare"


def test_dense_options_reach_the_dense_miner(dataset, monkeypatch):
    made = {}

    class FakeDenseMiner(StubMiner):
        def __init__(self, index_dir, encoder, threads):
            made.update(index_dir=index_dir, encoder=encoder, threads=threads)
            super().__init__(all_docids(dataset))

    monkeypatch.setattr(prep, "DenseMiner", FakeDenseMiner)
    monkeypatch.setattr(prep, "BM25Miner", None)  # must not be used
    cfg = config(dataset, dense_index=dataset / "faiss", dense_encoder="some/encoder", dense_encoder_type="pyserini",
                 threads=3)
    assert prep.prepare(cfg).written == 4
    assert made == {"index_dir": dataset / "faiss", "encoder": "some/encoder", "threads": 3}


def test_load_query_encoder_errors(tmp_path):
    from pyserini_i3.cli.prepare import load_query_encoder

    name = "castorini/tct_colbert-v2-hnp-msmarco"
    assert load_query_encoder(name, "pyserini") == name
    with pytest.raises(ValueError, match="unknown dense encoder type"):
        load_query_encoder(str(tmp_path), "splade")
