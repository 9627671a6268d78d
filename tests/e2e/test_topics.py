"""``python -m pyserini_i3 topics``: official topic/qrels files where the installed Pyserini
looks (Anserini's cache on 1.x, Pyserini's ``topics/`` and ``qrels/`` on 2.x), so named
topics and qrels work offline; and the MS MARCO MRR@10 stand-in.

Java's user.home and Pyserini's cache are redirected into tmp, so the real caches are
never written."""

from __future__ import annotations

import json

import pytest

from helpers import make_minimal_env, run_python
from pyserini_i3.plugin.compat import topics_resolved_in_python

pytestmark = pytest.mark.pyserini


@pytest.fixture
def env(tmp_path):
    return make_minimal_env(tmp_path / "java-home", tmp_path / "pyserini-cache")


PYTHON_SIDE = topics_resolved_in_python()  # Pyserini 2.x


def cache_of(tmp_path):
    """Where `topics where` points."""
    if PYTHON_SIDE:
        return tmp_path / "pyserini-cache"
    return tmp_path / "java-home" / ".cache" / "pyserini" / "topics-and-qrels"


def installed_path(tmp_path, name: str):
    return cache_of(tmp_path) / name.split(".", 1)[0] / name if PYTHON_SIDE else cache_of(tmp_path) / name


def installed_names(tmp_path) -> list[str]:
    folders = [cache_of(tmp_path) / "topics", cache_of(tmp_path) / "qrels"] if PYTHON_SIDE else [cache_of(tmp_path)]
    return sorted(p.name for folder in folders if folder.is_dir() for p in folder.iterdir())


def test_where_follows_javas_user_home(env, tmp_path):
    out = run_python(["-m", "pyserini_i3", "topics", "where"], env).stdout.strip()
    assert out == str(cache_of(tmp_path))


@pytest.mark.slow
def test_install_then_named_topics_and_qrels_resolve_offline(env, tmp_path, shared_data):
    src = shared_data / "topics-and-qrels"
    out = run_python(["-m", "pyserini_i3", "topics", "install", src], env).stdout
    names = sorted(p.name for p in src.iterdir() if p.name.startswith(("topics.", "qrels.")))
    assert installed_names(tmp_path) == names
    for name in names:
        assert installed_path(tmp_path, name).read_bytes() == (src / name).read_bytes()
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
    assert qrels == str(installed_path(tmp_path, "qrels.dl19-passage.txt"))
    assert dev == str(installed_path(tmp_path, "qrels.msmarco-passage.dev-subset.txt"))


def test_reinstall_is_idempotent_and_conflicts_need_force(env, tmp_path, shared_data):
    src = tmp_path / "src"
    src.mkdir()
    (src / "topics.mine.tsv").write_text("1\tfirst\n")
    (src / "qrels.mine.txt").write_text("1 0 d1 1\n")
    (src / "README").write_text("not a topic file\n")
    args = ["-m", "pyserini_i3", "topics", "install", src, "--no-eval-script"]
    run_python(args, env)
    assert "up to date" in run_python(args, env).stdout
    assert installed_names(tmp_path) == ["qrels.mine.txt", "topics.mine.tsv"]
    topics = installed_path(tmp_path, "topics.mine.tsv")

    (src / "topics.mine.tsv").write_text("1\tchanged\n")
    (src / "qrels.mine.txt").write_text("1 0 d2 1\n")
    failed = run_python(args, env, check=False)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--force" in lines[0] and "qrels.mine.txt" in lines[0]
    assert topics.read_text() == "1\tfirst\n"  # nothing written: checks come first
    run_python(args + ["--force"], env)
    assert topics.read_text() == "1\tchanged\n"
    assert not list(topics.parent.glob(".*tmp"))


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
    from pyserini_i3.plugin import msmarco_eval
    from pyserini_i3.utils import trec

    qrels = {"q1": {"a": 1, "b": 0}, "q2": {"c": 2, "d": 1}, "q3": {"e": 1}, "q4": {"z": 0}}
    ranked = {"q1": {f"x{i}": i for i in range(1, 4)} | {"b": 4, "a": 5},
              "q2": {f"y{i}": i for i in range(1, 11)} | {"c": 11},  # beyond the cutoff: 0
              "q3": {"e": 1}}  # q4 has no relevant judgment; unretrieved queries count 0
    relevant = {q: {d for d, r in j.items() if r > 0} for q, j in qrels.items() if any(r > 0 for r in j.values())}
    ours = msmarco_eval.mrr_at_10(relevant, {q: {d: int(r) for d, r in h.items()} for q, h in ranked.items()})
    run = {q: {d: 1.0 / r for d, r in h.items()} for q, h in ranked.items()}  # trec.evaluate cuts at 10 (-M 10)
    per_query = trec.evaluate(qrels, run, ["recip_rank"])["recip_rank"]
    expected = sum(per_query[q] for q in relevant) / len(relevant)
    assert ours == pytest.approx(expected) == pytest.approx((1 / 5 + 0 + 1) / 3)


def test_mrr_stand_in_rejects_a_trec_run(tmp_path):
    (tmp_path / "qrels.txt").write_text("1 0 d1 1\n")
    (tmp_path / "run.txt").write_text("1 Q0 d1 1 0.5 tag\n")
    result = run_python([__import__("pyserini_i3.plugin.msmarco_eval", fromlist=["x"]).__file__,
                         tmp_path / "qrels.txt", tmp_path / "run.txt"], {"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode == 1 and "msmarco format" in result.stderr


SOCKET_PROBE = """
import atexit, json, os, socket, time
_log, _real_getaddrinfo, _real_connect = [], socket.getaddrinfo, socket.socket.connect

def _timed(kind, real):
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            _log.append([kind, str(args[0] if kind == "dns" else args[1]), time.perf_counter() - start])
    return call

socket.getaddrinfo = _timed("dns", _real_getaddrinfo)
socket.socket.connect = _timed("connect", _real_connect)
atexit.register(lambda: open(os.environ["SOCKET_LOG"], "a").write(json.dumps(_log) + "\\n"))
"""


@pytest.mark.slow
def test_named_topics_and_qrels_never_wait_on_a_socket(tmp_path, shared_data):
    """Offline, after `topics install`: the commands that resolve names spend no time on the network
    (at most one failed name lookup per process on 2.x, which then stops trying; none with
    PYSERINI_I3_OFFLINE=1)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(SOCKET_PROBE)
    log = tmp_path / "sockets.jsonl"
    env = make_minimal_env(tmp_path / "java-home", tmp_path / "pyserini-cache", PYTHONPATH=str(probe),
                           SOCKET_LOG=str(log))
    run_python(["-m", "pyserini_i3", "topics", "install", shared_data / "topics-and-qrels"], env)
    run = tmp_path / "run.txt"
    run.write_text("156493 Q0 8726436 1 9.0 x\n")
    topics = "from pyserini.search import get_topics; assert len(get_topics({!r})) == {}"
    commands = [["-c", topics.format("dl19-passage", 43)], ["-c", topics.format("beir-v1.0.0-scifact-test", 300)],
                ["-m", "pyserini.eval.trec_eval", "-c", "-m", "ndcg_cut.10", "dl19-passage", str(run)]]
    log.write_text("")
    for command in commands:
        run_python(command, env)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) >= len(commands)  # the probe ran in every process
    waited = [c for process in calls for c in process]
    print(f"socket calls per process: {[len(p) for p in calls]}, {sum(s for _, _, s in waited):.4f} s in all")
    assert sum(seconds for _, _, seconds in waited) < 1.0, waited
    assert all(len(process) <= 2 for process in calls), calls  # one lookup, at most one connect

    log.write_text("")
    for command in commands:
        run_python(command, {**env, "PYSERINI_I3_OFFLINE": "1"})
    assert all(json.loads(line) == [] for line in log.read_text().splitlines())
