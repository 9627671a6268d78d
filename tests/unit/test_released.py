"""The released encoders by name (``i3-msmarco``, ``i3-msmarco-distilled``), without a network.

The hub is a local stand-in on 127.0.0.1 (tests/fake_hub.py) serving, under the
production names, repositories and revisions, a synthetic checkpoint in the authors'
layout and the tiny BERT's config and tokenizer files; the registry entries are the
production ones with the tiny hidden size.  In this process ``HF_ENDPOINT`` points at
it (read at call time), huggingface_hub's cache is a temporary directory and our
cache is ``$PYSERINI_I3_CACHE``; subprocesses get the same through their environment.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fake_hub
from helpers import PASSAGES, QUERIES
from pyserini_i3.modeling import released
from pyserini_i3.modeling.convert import convert_official
from pyserini_i3.modeling.model import I3Model
from pyserini_i3.plugin.resolve import encoder_dimension, is_i3_encoder, load_model, resolve

TESTS = Path(__file__).resolve().parents[1]
NAMES = ["i3-msmarco", "i3-msmarco-distilled"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Our cache and huggingface_hub's in tmp; online mode; no hub unless a test starts one."""
    from huggingface_hub import constants

    monkeypatch.setenv(released.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def hub(isolated, monkeypatch, tiny_backbone):
    with fake_hub.FakeHub() as server:
        server.paths = fake_hub.populate(server, tiny_backbone, isolated / "served")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        for name, spec in fake_hub.tiny_registry().items():
            monkeypatch.setitem(released.RELEASED, name, spec)
        yield server


def no_network(monkeypatch):
    """Any download attempt fails the test."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"network used: {args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr("pyserini_i3.modeling.backbone.hub_reachable", lambda *a, **k: refuse("reachable?"))


def _complete(path: Path) -> bool:
    try:
        released.check_model_dir(path)
    except ValueError:
        return False
    return True


def leftovers(cache: Path) -> list[str]:
    """What the cache's released/ folder holds besides complete entries and their locks (temporary folders)."""
    folder = cache / "released"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock") and not _complete(p))


def entries(cache: Path) -> list[str]:
    folder = cache / "released"
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.is_dir() else []


# --------------------------------------------------------------------------- names
def test_the_registry_holds_the_authors_files():
    finetuned, distilled = released.RELEASED["i3-msmarco"], released.RELEASED["i3-msmarco-distilled"]
    for spec in (finetuned, distilled):
        assert (spec.repo_id, spec.repo_type) == ("qian/III-Retriever", "dataset")
        assert spec.revision == "153f0c13852d9fb550f4be34da5968995a0eb84a"
        assert (spec.hidden_size, spec.num_slots, spec.query_max_length, spec.passage_max_length) == (768, 32, 32, 140)
    assert (finetuned.filename, finetuned.base) == ("III_finetuned.p", "Shitao/RetroMAE_MSMARCO_finetune")
    assert (distilled.filename, distilled.base) == ("III_distilled.p", "Shitao/RetroMAE_MSMARCO_distill")
    assert sorted(released.RELEASED) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_names_are_i3_encoders_and_need_no_download(isolated, monkeypatch, name):
    from pyserini_i3.plugin.argparse_patch import encoder_name

    no_network(monkeypatch)
    assert is_i3_encoder(name)
    assert "i3" in encoder_name(name).lower()
    assert encoder_dimension(name) == 768  # the registry's: argument parsing never downloads
    assert not (isolated / "cache").exists()


@pytest.mark.parametrize("name", ["castorini/i3-msmarco-foo", "i3-msmarco2", "i3-msmarco-distilled-v2", "I3-MSMARCO",
                                  " i3-msmarco", "i3-msmarco/", "qian/III-Retriever", "msmarco", "i3-",
                                  "Shitao/RetroMAE_MSMARCO_finetune"])
def test_similar_names_are_not(isolated, monkeypatch, name):
    from pyserini_i3.plugin.argparse_patch import encoder_name

    no_network(monkeypatch)
    assert not released.is_released_name(name)
    assert not is_i3_encoder(name)
    assert "i3" not in encoder_name(name).lower()  # Pyserini's substring match does not pick our classes
    assert encoder_name(name).lower() == name.lower()


def test_a_local_i3_directory_of_that_name_wins(isolated, monkeypatch, tiny_backbone):
    no_network(monkeypatch)
    not_a_model = isolated / "i3-msmarco-distilled"  # e.g. a folder of runs: the name still means the release
    not_a_model.mkdir()
    assert is_i3_encoder("i3-msmarco-distilled") and encoder_dimension("i3-msmarco-distilled") == 768
    local = isolated / "i3-msmarco"
    model = I3Model.from_backbone(str(tiny_backbone))
    model.save_pretrained(local)
    assert is_i3_encoder("i3-msmarco")
    assert resolve("i3-msmarco") == Path("i3-msmarco")
    assert encoder_dimension("i3-msmarco") == 32


# --------------------------------------------------------------------------- cache hit
def test_cache_hit_loads_offline(isolated, monkeypatch, tiny_backbone):
    from helpers import official_state_dict, vocab_size

    spec = released.RELEASED["i3-msmarco"]
    entry = released.entry_dir(spec)
    assert entry == isolated / "cache" / "released" / "i3-msmarco-153f0c13852d"
    expected = convert_official(official_state_dict(vocab_size(tiny_backbone)), str(tiny_backbone), entry)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    no_network(monkeypatch)
    assert resolve("i3-msmarco") == entry
    assert encoder_dimension("i3-msmarco") == 32  # the cached config's, not the registry's 768
    model = load_model("i3-msmarco")
    np.testing.assert_array_equal(model.encode_passages(PASSAGES), expected.encode_passages(PASSAGES))
    np.testing.assert_array_equal(model.encode_queries(QUERIES), expected.encode_queries(QUERIES))


def test_the_cache_root_is_documented_default(monkeypatch, tmp_path):
    monkeypatch.delenv(released.CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert released.entry_dir(released.RELEASED["i3-msmarco-distilled"]) == (
        tmp_path / ".cache" / "pyserini_i3" / "released" / "i3-msmarco-distilled-153f0c13852d")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert released.cache_root() == tmp_path / "xdg" / "pyserini_i3"
    monkeypatch.setenv(released.CACHE_ENV, str(tmp_path / "mine"))
    assert released.cache_root() == tmp_path / "mine"


# --------------------------------------------------------------------------- first use
@pytest.mark.parametrize("name", NAMES)
def test_first_use_downloads_converts_and_matches_convert_official(hub, isolated, monkeypatch, capfd, name):
    spec = released.RELEASED[name]
    path = resolve(name)
    assert path == released.entry_dir(spec) and released.cached_entry(spec) == path
    err = capfd.readouterr().err
    assert f"{name}: first use: downloading qian/III-Retriever/{spec.filename}" in err and "converting" in err

    served = hub.paths[name]
    reference = convert_official(served["checkpoint"], str(served["base"]))  # convert-official on the same files
    model = load_model(name)
    np.testing.assert_allclose(model.encode_passages(PASSAGES), reference.encode_passages(PASSAGES), atol=1e-6, rtol=0)
    np.testing.assert_allclose(model.encode_queries(QUERIES), reference.encode_queries(QUERIES), atol=1e-6, rtol=0)
    assert model.config.backbone == spec.base

    record = json.loads((path / released.PROVENANCE).read_text())
    checkpoint = hub.files[("datasets/qian/III-Retriever", spec.filename)]
    assert record["sha256"] == checkpoint.sha256 and record["size"] == len(checkpoint.data)
    assert (record["revision"], record["base"], record["base_commit"]) == (spec.revision, spec.base,
                                                                           fake_hub.BASE_COMMIT)
    assert hub.gets(spec.filename) == 1
    assert not any("safetensors" in p or ".bin" in p for _, p in hub.requests)  # no base weights fetched
    assert leftovers(isolated / "cache") == []

    # later uses: the converted directory, no network
    no_network(monkeypatch)
    assert resolve(name) == path and encoder_dimension(name) == 32
    np.testing.assert_array_equal(load_model(name).encode_queries(QUERIES), model.encode_queries(QUERIES))


def test_offline_with_the_hf_cache_filled_by_hand_converts_without_requests(hub, monkeypatch):
    """``hf download`` without --local-dir fills the Hugging Face cache; offline, that is enough."""
    from huggingface_hub import hf_hub_download

    spec = released.RELEASED["i3-msmarco-distilled"]
    hf_hub_download(spec.repo_id, spec.filename, repo_type="dataset", revision=spec.revision, endpoint=hub.url)
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "tokenizer.json"):
        hf_hub_download(spec.base, name, endpoint=hub.url)
    before = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert encoder_dimension(spec.name) == spec.hidden_size  # obtainable offline: no error at parse time
    path = resolve(spec.name)
    assert released.cached_entry(spec) == path and len(hub.requests) == before


def _ensure_in_subprocess(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", fake_hub.DRIVER, "ensure", name], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_first_uses_convert_once(hub, isolated):
    spec = released.RELEASED["i3-msmarco"]
    hub.files[("datasets/qian/III-Retriever", spec.filename)].delay = 2.0  # the first holds the lock a while
    barrier = isolated / "barrier"
    barrier.mkdir()
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(isolated / "hf-sub"), "FAKE_HUB_TESTS": str(TESTS),
           "FAKE_HUB_BARRIER": str(barrier), "FAKE_HUB_PARTIES": "2", "OMP_NUM_THREADS": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    procs = [_ensure_in_subprocess(env, spec.name) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    paths = {line[5:] for out, _ in outs for line in out.splitlines() if line.startswith("PATH ")}
    assert paths == {str(released.entry_dir(spec))}
    errs = [err for _, err in outs]
    assert sum("converting" in e for e in errs) == 1, errs
    assert sum("another process is preparing" in e for e in errs) == 1, errs
    assert entries(isolated / "cache") == [spec.cache_name] and leftovers(isolated / "cache") == []
    assert hub.gets(spec.filename) == 1
    I3Model.from_pretrained(released.entry_dir(spec)).encode_queries(QUERIES)


# --------------------------------------------------------------------------- offline, nothing cached
def _check_missing_message(message: str, spec, reason: str) -> None:
    entry = released.entry_dir(spec)
    assert "\n" not in message
    assert message.startswith(f"{spec.name}: not converted yet and {reason}")
    assert f"no I^3 model in {entry}" in message
    assert released.hf_cache_dir() in message
    assert f"{spec.repo_id}/{spec.filename} (dataset, revision {spec.revision})" in message
    assert (f"hf download qian/III-Retriever {spec.filename} --repo-type dataset --revision "
            "153f0c13852d9fb550f4be34da5968995a0eb84a --local-dir i3-download") in message
    assert f"hf download {spec.base} --include '*.json' --include '*.txt' --revision main" in message
    assert (f"python -m pyserini_i3 convert-official i3-download/{spec.filename} --base i3-download/base "
            f"--output {entry}") in message


@pytest.mark.parametrize("name", NAMES)
def test_offline_with_nothing_cached_is_one_line(hub, monkeypatch, isolated, name):
    spec = released.RELEASED[name]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError) as exc:
        resolve(name)
    _check_missing_message(str(exc.value), spec, "HF_HUB_OFFLINE is set")
    with pytest.raises(ValueError) as at_parse_time:  # Pyserini's argument check says it before anything starts
        encoder_dimension(name)
    assert str(at_parse_time.value) == str(exc.value)
    assert hub.requests == [] and entries(isolated / "cache") == []


def test_hub_unreachable_with_nothing_cached_is_one_line(isolated):
    spec = released.RELEASED["i3-msmarco"]
    assert encoder_dimension(spec.name) == 768  # unreachable is found out when the encoder is built
    with pytest.raises(ValueError) as exc:
        resolve(spec.name)
    _check_missing_message(str(exc.value), spec, f"the hub ({os.environ['HF_ENDPOINT']}) is unreachable")
    assert entries(isolated / "cache") == []


def test_the_commands_of_the_message_work(hub, isolated, monkeypatch):
    """Run what the one-line error says (hf download x2, convert-official), then load offline."""
    spec = released.RELEASED["i3-msmarco"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError) as exc:
        resolve(spec.name)
    commands = str(exc.value).split("(on a machine with the hub, then copy ")[1].split("): ", 1)[1]
    commands = commands.split("; or run the two")[0].split(" && ")
    assert len(commands) == 3
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(isolated / "hf-cli"), "HF_HUB_OFFLINE": "0",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command in commands:
        argv = shlex.split(command)
        argv[0] = str(bin_dir / argv[0]) if argv[0] == "hf" else sys.executable
        proc = subprocess.run(argv, env=env, cwd=isolated, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert not any("safetensors" in p for _, p in hub.requests)
    no_network(monkeypatch)
    assert resolve(spec.name) == released.entry_dir(spec)
    reference = convert_official(hub.paths[spec.name]["checkpoint"], str(hub.paths[spec.name]["base"]))
    np.testing.assert_allclose(load_model(spec.name).encode_passages(PASSAGES), reference.encode_passages(PASSAGES),
                               atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- broken downloads
@pytest.mark.parametrize("fault, says", [
    ("cut", "downloading qian/III-Retriever/III_finetuned.p"),  # the body stops at half of Content-Length
    ("short", "Consistency check failed"),  # the hub announced more bytes than came
    ("corrupt", "is corrupt (sha256"),  # all bytes came, not the announced ones
])
def test_a_broken_download_is_refused_and_leaves_no_entry(hub, isolated, monkeypatch, fault, says):
    spec = released.RELEASED["i3-msmarco"]
    served = hub.files[("datasets/qian/III-Retriever", spec.filename)]
    served.fault = fault
    with pytest.raises(ValueError) as exc:
        resolve(spec.name)
    message = str(exc.value)
    assert "\n" not in message and says in message and message.startswith(f"{spec.name}: "), message
    assert entries(isolated / "cache") == []
    assert not any((isolated / "hf" / "hub").rglob("snapshots/*/III_finetuned.p"))  # nothing usable kept
    # the hub repaired, a retry succeeds
    served.fault = None
    assert released.cached_entry(spec) is None
    path = resolve(spec.name)
    assert json.loads((path / released.PROVENANCE).read_text())["sha256"] == served.sha256


# --------------------------------------------------------------------------- python -m pyserini_i3 fetch
def test_fetch_lists_without_network_then_fetches(hub, monkeypatch, capsys):
    from pyserini_i3.__main__ import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["fetch", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in listed] == NAMES and all("not converted yet" in line for line in listed)
    assert main(["fetch", "i3-msmarco"]) == 1  # offline: the one-line error
    err = capsys.readouterr().err.strip()
    assert err.startswith("fetch: i3-msmarco: not converted yet") and "\n" not in err
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert main(["fetch", "i3-msmarco", "i3-msmarco-distilled"]) == 0
    paths = capsys.readouterr().out.split()
    assert paths == [str(released.entry_dir(released.RELEASED[n])) for n in NAMES]
    assert main(["fetch", "--list"]) == 0
    assert all("converted in" in line for line in capsys.readouterr().out.splitlines())
    assert main(["fetch", "i3-msmarco2"]) == 1
    assert "not a released I^3 encoder" in capsys.readouterr().err


def test_a_killed_conversion_leaves_nothing_behind_after_the_next_first_use(hub, isolated):
    spec = released.RELEASED["i3-msmarco"]
    entry = released.entry_dir(spec)
    killed = entry.parent / f".{entry.name}.tmp-abcd1234"  # what atomic_dir leaves if the process is killed
    (killed / "half").mkdir(parents=True)
    (killed / "half" / "model.safetensors").write_bytes(b"\0" * 100)
    nested = entry.parent / f"..{entry.name}.tmp-abcd1234.tmp-efgh5678"  # save_pretrained's own, inside that
    nested.mkdir()
    other = entry.parent / ".i3-msmarco-distilled-153f0c13852d.tmp-0000"  # another entry's: not ours to remove
    other.mkdir()
    assert released.cached_entry(spec) is None
    assert resolve(spec.name) == entry
    assert not killed.exists() and not nested.exists() and other.exists()
