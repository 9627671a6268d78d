"""``python -m pyserini_i3 topics``: official topic/qrels files where Anserini looks,
so named topics and qrels work offline; and the MS MARCO MRR@10 stand-in.

Java's user.home is redirected into tmp (JAVA_TOOL_OPTIONS), so the real cache is
never written."""

from __future__ import annotations

import json

import pytest

from helpers import make_minimal_env, run_python


@pytest.fixture
def env(tmp_path):
    return make_minimal_env(tmp_path / "java-home", tmp_path / "pyserini-cache")


def cache_of(tmp_path):
    return tmp_path / "java-home" / ".cache" / "pyserini" / "topics-and-qrels"


def test_where_follows_javas_user_home(env, tmp_path):
    out = run_python(["-m", "pyserini_i3", "topics", "where"], env).stdout.strip()
    assert out == str(cache_of(tmp_path))


def test_install_then_named_topics_and_qrels_resolve_offline(env, tmp_path, shared_data):
    src = shared_data / "topics-and-qrels"
    out = run_python(["-m", "pyserini_i3", "topics", "install", src], env).stdout
    names = sorted(p.name for p in src.iterdir() if p.name.startswith(("topics.", "qrels.")))
    cache = cache_of(tmp_path)
    assert sorted(p.name for p in cache.iterdir()) == names
    for name in names:
        assert (cache / name).read_bytes() == (src / name).read_bytes()
    assert out.count("installed") == len(names) + 1  # + the eval script
    assert (tmp_path / "pyserini-cache" / "eval" / "msmarco_passage_eval.py").is_file()

    probe = (
        "import json; from pyserini.search import get_topics, get_qrels_file\n"
        "t = get_topics('dl19-passage'); s = get_topics('beir-v1.0.0-scifact-test')\n"
        "print(json.dumps([len(t), t[156493]['title'], len(s), get_qrels_file('dl19-passage'),"
        " get_qrels_file('msmarco-passage-dev-subset')]))"
    )
    n, first, n_scifact, qrels, dev = json.loads(run_python(["-c", probe], env).stdout.strip().splitlines()[-1])
    assert (n, first, n_scifact) == (43, "do goldfish grow", 300)
    assert qrels == str(cache / "qrels.dl19-passage.txt")
    assert dev == str(cache / "qrels.msmarco-passage.dev-subset.txt")


def test_reinstall_is_idempotent_and_conflicts_need_force(env, tmp_path, shared_data):
    src = tmp_path / "src"
    src.mkdir()
    (src / "topics.mine.tsv").write_text("1\tfirst\n")
    (src / "qrels.mine.txt").write_text("1 0 d1 1\n")
    (src / "README").write_text("not a topic file\n")
    args = ["-m", "pyserini_i3", "topics", "install", src, "--no-eval-script"]
    run_python(args, env)
    assert "up to date" in run_python(args, env).stdout
    cache = cache_of(tmp_path)
    assert sorted(p.name for p in cache.iterdir()) == ["qrels.mine.txt", "topics.mine.tsv"]

    (src / "topics.mine.tsv").write_text("1\tchanged\n")
    (src / "qrels.mine.txt").write_text("1 0 d2 1\n")
    failed = run_python(args, env, check=False)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--force" in lines[0] and "qrels.mine.txt" in lines[0]
    assert (cache / "topics.mine.tsv").read_text() == "1\tfirst\n"  # nothing written: checks come first
    run_python(args + ["--force"], env)
    assert (cache / "topics.mine.tsv").read_text() == "1\tchanged\n"
    assert not list(cache.glob(".*tmp"))


def test_install_from_a_directory_without_topic_files_is_one_line(env, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_python(["-m", "pyserini_i3", "topics", "install", empty], env, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and str(empty) in result.stderr


def test_an_existing_eval_script_is_kept(env, tmp_path):
    script = tmp_path / "pyserini-cache" / "eval" / "msmarco_passage_eval.py"
    script.parent.mkdir(parents=True)
    script.write_text("# the official one\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "topics.x.tsv").write_text("1\tq\n")
    assert "kept" in run_python(["-m", "pyserini_i3", "topics", "install", src], env).stdout
    assert script.read_text() == "# the official one\n"


def test_mrr_stand_in_equals_trec_eval_recip_rank_at_10():
    import pytrec_eval

    from pyserini_i3.plugin import msmarco_eval

    qrels = {"q1": {"a": 1, "b": 0}, "q2": {"c": 2, "d": 1}, "q3": {"e": 1}, "q4": {"z": 0}}
    ranked = {"q1": {f"x{i}": i for i in range(1, 4)} | {"b": 4, "a": 5},
              "q2": {f"y{i}": i for i in range(1, 11)} | {"c": 11},  # beyond the cutoff: 0
              "q3": {"e": 1}}  # q4 has no relevant judgment; unretrieved queries count 0
    relevant = {q: {d for d, r in j.items() if r > 0} for q, j in qrels.items() if any(r > 0 for r in j.values())}
    ours = msmarco_eval.mrr_at_10(relevant, {q: {d: int(r) for d, r in h.items()} for q, h in ranked.items()})
    run = {q: {d: 1.0 / r for d, r in h.items() if r <= 10} for q, h in ranked.items()}  # -M 10
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    expected = sum(per_query[q]["recip_rank"] for q in relevant if q in per_query) / len(relevant)
    assert ours == pytest.approx(expected) == pytest.approx((1 / 5 + 0 + 1) / 3)


def test_mrr_stand_in_rejects_a_trec_run(tmp_path):
    (tmp_path / "qrels.txt").write_text("1 0 d1 1\n")
    (tmp_path / "run.txt").write_text("1 Q0 d1 1 0.5 tag\n")
    result = run_python([__import__("pyserini_i3.plugin.msmarco_eval", fromlist=["x"]).__file__,
                         tmp_path / "qrels.txt", tmp_path / "run.txt"], {"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode == 1 and "msmarco format" in result.stderr
