"""``--encoder i3`` registration in an unmodified Pyserini.

The resolution tests run Pyserini's real command modules (``pyserini.encode``,
``pyserini.search.faiss``, ``pyserini.search.hybrid``) through ``runpy``, exactly as
``python -m`` does, with every encoder class's ``__init__`` replaced by a probe that
reports the class chosen and the keyword arguments Pyserini passed, then stops.  So
no model is downloaded, and the selection logic is Pyserini's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT, check_cost, make_minimal_env, run_python

pytestmark = pytest.mark.pyserini

DRIVER = r"""
import json, runpy, sys
import pyserini.encode as enc

def probe(cls):
    def __init__(self, *args, **kwargs):
        raise SystemExit("PROBE " + json.dumps({"class": cls.__name__, "kwargs": sorted(kwargs)}))
    return __init__

classes = set(enc.document_encoder_class_map.values()) | set(enc.query_encoder_class_map.values())
classes |= {enc.AutoDocumentEncoder, enc.AutoQueryEncoder}
for cls in classes:
    if cls is not None:
        cls.__init__ = probe(cls)

for line in sys.stdin:
    module, argv = json.loads(line)
    sys.argv = [module] + argv
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        print("RESULT " + json.dumps({"error": "no encoder was built"}))
    except SystemExit as exc:
        text = str(exc.code)
        if text.startswith("PROBE "):
            print("RESULT " + text[6:])
        else:
            print("RESULT " + json.dumps({"exit": exc.code}))
    sys.stdout.flush()
"""


def make_i3_dir(path: Path, hidden: int = 384) -> Path:
    """A directory that *declares* an I^3 model (enough for name resolution)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "i3", "backbone_config": {"hidden_size": hidden}}))
    (path / "model.safetensors").write_bytes(b"")
    return path


@pytest.fixture(scope="module")
def resolve(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registration")
    env = make_minimal_env(tmp / "home", tmp / "cache")
    topics = tmp / "topics.tsv"
    topics.write_text("1\tdo goldfish grow\n")
    (tmp / "index").mkdir()

    def commands(encoder: str, encoder_class: str | None = None):
        extra = ["--encoder-class", encoder_class] if encoder_class else []
        return {
            "encode": ["pyserini.encode", ["input", "--corpus", str(tmp / "corpus"), "output", "--embeddings",
                                           str(tmp / "out"), "encoder", "--encoder", encoder, "--device", "cpu",
                                           *extra]],
            "search": ["pyserini.search.faiss", ["--index", str(tmp / "index"), "--topics", str(topics),
                                                 "--output", str(tmp / "run.txt"), "--encoder", encoder, *extra]],
            "hybrid": ["pyserini.search.hybrid", ["dense", "--index", str(tmp / "index"), "--encoder", encoder, *extra,
                                                  "sparse", "--index", str(tmp / "index"),
                                                  "run", "--topics", str(topics), "--output", str(tmp / "h.txt")]],
        }

    def run(cases: dict[str, tuple[str, str | None]]) -> dict[str, dict[str, dict]]:
        lines, keys = [], []
        for name, (encoder, encoder_class) in cases.items():
            for command, spec in commands(encoder, encoder_class).items():
                lines.append(json.dumps(spec))
                keys.append((name, command))
        check_cost("Pyserini's encode, search.faiss and search.hybrid")
        proc = subprocess.run([sys.executable, "-c", DRIVER], input="\n".join(lines) + "\n", env=env,
                              capture_output=True, text=True, timeout=600)
        results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        assert len(results) == len(keys), proc.stdout[-2000:] + proc.stderr[-3000:]
        out: dict[str, dict[str, dict]] = {}
        for (name, command), result in zip(keys, results):
            out.setdefault(name, {})[command] = result
        return out

    return run, tmp


@pytest.fixture(scope="module")
def resolved(resolve):
    run, tmp = resolve
    i3_dir = make_i3_dir(tmp / "ckpt-dse-tct_colbert-sentence")  # a path whose name would match other keys
    plain = tmp / "models" / "phi3-mini"  # "i3" is a substring, but it is no I^3 model
    plain.mkdir(parents=True)
    return run({
        "i3": ("i3", None),
        "i3 dir": (str(i3_dir), None),
        "i3 dir, --encoder-class i3": (str(i3_dir), "i3"),
        "dse": ("Tevatron/dse-phi3-v1.0", None),
        "tct": ("castorini/tct_colbert-v2-hnp-msmarco", None),
        "unrelated path": (str(plain), None),
        "sentence-transformers": ("sentence-transformers/all-MiniLM-L6-v2", None),
        "explicit dse class": ("Tevatron/dse-phi3-v1.0", "dse"),
        "released": ("i3-msmarco", None),  # recognised by name; the probe stops before any download
        "released distilled": ("i3-msmarco-distilled", None),
        "like a released name": ("castorini/i3-msmarco-foo", None),
        "released name + suffix": ("i3-msmarco2", None),
    })


EXPECTED = {
    "i3": ("I3DocumentEncoder", "I3QueryEncoder"),
    "i3 dir": ("I3DocumentEncoder", "I3QueryEncoder"),
    "i3 dir, --encoder-class i3": ("I3DocumentEncoder", "I3QueryEncoder"),
    "dse": ("DseDocumentEncoder", "DseQueryEncoder"),
    "tct": ("TctColBertDocumentEncoder", "TctColBertQueryEncoder"),
    "unrelated path": ("AutoDocumentEncoder", "AutoQueryEncoder"),
    "sentence-transformers": ("AutoDocumentEncoder", "AutoQueryEncoder"),
    "explicit dse class": ("DseDocumentEncoder", "DseQueryEncoder"),
    "released": ("I3DocumentEncoder", "I3QueryEncoder"),
    "released distilled": ("I3DocumentEncoder", "I3QueryEncoder"),
    "like a released name": ("AutoDocumentEncoder", "AutoQueryEncoder"),
    "released name + suffix": ("AutoDocumentEncoder", "AutoQueryEncoder"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_encoder_names_resolve_in_all_three_commands(resolved, case):
    document, query = EXPECTED[case]
    got = resolved[case]
    assert got["encode"].get("class") == document, got
    assert got["search"].get("class") == query, got
    assert got["hybrid"].get("class") == query, got


@pytest.mark.slow
def test_other_encoders_get_pyserinis_usual_arguments(resolved):
    # what Pyserini 1.6.0 passes for these names, unchanged by the plugin
    assert resolved["dse"]["encode"]["kwargs"] == ["device", "l2_norm", "model_name", "multimodal", "pooling"]
    assert resolved["sentence-transformers"]["search"]["kwargs"] == [
        "device", "encoder_dir", "fp16", "l2_norm", "pooling", "prefix", "tokenizer_name"]
    assert resolved["unrelated path"]["encode"]["kwargs"] == ["device", "l2_norm", "model_name", "pooling", "prefix"]


def test_class_maps_put_i3_first():
    import pyserini.encode as enc

    from pyserini_i3.plugin.encoders import I3DocumentEncoder, I3QueryEncoder

    assert list(enc.document_encoder_class_map)[0] == "i3"
    assert list(enc.query_encoder_class_map)[0] == "i3"
    assert enc.document_encoder_class_map["i3"] is I3DocumentEncoder
    assert enc.query_encoder_class_map["i3"] is I3QueryEncoder
    assert "dse" in enc.document_encoder_class_map  # nothing removed


def test_encoder_name_matches_i3_only_for_i3(tmp_path):
    from pyserini_i3.plugin.argparse_patch import encoder_name

    i3_dir = make_i3_dir(tmp_path / "m")
    assert "i3" in encoder_name("i3").lower()
    assert "i3" in encoder_name("I3").lower()
    assert "i3" in encoder_name(str(i3_dir)).lower()
    for other in ("Tevatron/dse-phi3-v1.0", "microsoft/Phi-3-mini", str(tmp_path)):
        lowered = encoder_name(other).lower()
        assert "i3" not in lowered
        assert "phi" in lowered or "tmp" in lowered or "pytest" in lowered
        assert lowered == other.lower()


def test_argparse_patch_is_scoped_to_pyserinis_commands():
    import argparse

    import pyserini  # noqa: F401  (installs the patch)

    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder-class", choices=["dse", "auto"])
    parser.add_argument("--encoder", type=str)
    parser.add_argument("--dimension", type=int, default=768)
    args = parser.parse_args(["--encoder", "i3"])
    assert type(args.encoder) is str and type(args.dimension) is int
    with pytest.raises(SystemExit):
        parser.parse_args(["--encoder-class", "i3"])


@pytest.mark.slow
def test_programmatic_init_encoder_does_not_let_i3_steal_names():
    import pyserini.encode as enc
    import pyserini.search.faiss.__main__ as faiss_main

    seen = []

    class Probe:
        def __init__(self, **kwargs):
            seen.append(kwargs)

    saved = dict(enc.query_encoder_class_map)
    try:
        enc.query_encoder_class_map["dse"] = Probe
        faiss_main.init_query_encoder("Tevatron/dse-phi3-v1.0", None, None, None, None, "cpu", 256, "cls", False, None)
    finally:
        enc.query_encoder_class_map.clear()
        enc.query_encoder_class_map.update(saved)
    assert seen and seen[0]["encoder_dir"] == "Tevatron/dse-phi3-v1.0"


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return make_minimal_env(tmp / "home", tmp / "cache"), tmp


@pytest.mark.slow
def test_encode_dimension_mismatch_names_the_right_value(cli_env):
    env, tmp = cli_env
    out = tmp / "never-written"
    result = run_python(["-m", "pyserini.encode", "input", "--corpus", tmp / "corpus", "output", "--embeddings", out,
                         "--to-faiss", "encoder", "--encoder", "i3", "--dimension", "768", "--device", "cpu"],
                        env, check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "--dimension 768" in last and "use --dimension 384" in last, result.stderr[-1500:]
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_encoder_class_i3_with_a_non_i3_path_is_one_clear_line(cli_env):
    env, tmp = cli_env
    result = run_python(["-m", "pyserini.search.faiss", "--index", tmp, "--topics", "x.tsv", "--output",
                         tmp / "run.txt", "--encoder", tmp, "--encoder-class", "i3"], env, check=False)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"--encoder {tmp}" in last and "config.json" in last, result.stderr[-1500:]
    assert not (tmp / "run.txt").exists()


@pytest.mark.slow
def test_wheel_ships_the_startup_hook(tmp_path):
    """A non-editable ``pip install`` must install pyserini_i3.pth into site-packages."""
    result = run_python(["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
                         ROOT], make_minimal_env(tmp_path / "home", tmp_path / "cache"), check=False)
    if result.returncode != 0 and "No module named" in result.stderr:
        pytest.skip(f"cannot build a wheel here: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("pyserini_i3-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "pyserini_i3.pth" in names, names  # at the wheel root = site-packages
        assert zf.read("pyserini_i3.pth").decode() == "import pyserini_i3._hook\n"
        assert "pyserini_i3/_hook.py" in names and "pyserini_i3/plugin/encoders.py" in names
        assert "pyserini_i3/eval/sample_collection/corpus.jsonl" in names  # the demo's fallback collection
        assert any(n.startswith("pyserini_i3/encoders/") and n.endswith("config.json") for n in names)
    target = tmp_path / "site"
    run_python(["-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", target, wheel],
               make_minimal_env(tmp_path / "home", tmp_path / "cache"))
    assert (target / "pyserini_i3.pth").read_text() == "import pyserini_i3._hook\n"


@pytest.mark.slow
@pytest.mark.parametrize("first", ["pyserini_i3.plugin.encoders", "pyserini.search.faiss", "pyserini.encode",
                                   "pyserini_i3"])
def test_registration_holds_whatever_is_imported_first(first, tmp_path):
    code = (
        f"import importlib; importlib.import_module({first!r})\n"
        "from pyserini_i3 import I3DocumentEncoder, I3QueryEncoder\n"
        "import pyserini.encode as enc\n"
        "from pyserini.search.faiss import FaissSearcher\n"
        "assert enc.document_encoder_class_map['i3'] is I3DocumentEncoder\n"
        "assert enc.query_encoder_class_map['i3'] is I3QueryEncoder\n"
        "print(list(enc.document_encoder_class_map)[0], list(enc.query_encoder_class_map)[0])"
    )
    out = run_python(["-c", code], make_minimal_env(tmp_path / "home", tmp_path / "cache")).stdout
    assert out.split() == ["i3", "i3"]
