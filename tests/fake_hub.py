"""A local stand-in for the Hugging Face hub on 127.0.0.1 (``import fake_hub``), for the released encoders.

It serves what ``huggingface_hub.hf_hub_download`` asks for, HEAD and GET of
``/<repo>/resolve/<revision>/<file>`` (``<repo>`` is ``datasets/owner/name`` for a
dataset), with the headers it needs: ``X-Repo-Commit``, ``ETag``, ``Content-Length``
and, for the large (Git LFS) files, ``X-Linked-Etag`` (their SHA-256) and
``X-Linked-Size``; ``Range`` requests get 206; unknown files 404 with ``X-Error-Code:
EntryNotFound``.  Faults, per file: ``cut`` (the body stops at half of what
Content-Length announced, then the connection closes), ``short`` (the HEAD announces
1000 bytes more than the file has, and the GET sends the file), ``corrupt`` (bytes other than the announced SHA-256).
Every request is logged in ``hub.requests``.  For ``hf download REPO --include ...``
(``snapshot_download``) it also answers ``/api/{models,datasets}/<repo>/revision/<rev>``
(the commit) and ``.../tree/<rev>`` (the file list, one page).

``released_hub(tmp, tiny_backbone)`` builds the files of the two released names from a
synthetic checkpoint in the authors' layout (tests/helpers.py) and the tiny BERT's
config and tokenizer files (no weights), and ``tiny_registry()`` the registry entries
that go with them: the production entries with the tiny hidden size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import json
import re
import threading
import time
from pathlib import Path

import torch

from helpers import OFFICIAL_SHAPES, official_state_dict, vocab_size

BASE_COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>(?:datasets/)?[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
# what snapshot_download (``hf download REPO --include ...``) asks first: the commit of a revision, the file list
_API = re.compile(r"^/api/(?P<kind>models|datasets)/(?P<repo>[^/]+/[^/]+)/(?P<what>revision|tree)/(?P<rev>[^/?]+)")


@dataclasses.dataclass
class HubFile:
    data: bytes
    commit: str
    lfs: bool = False
    fault: str | None = None  # None | "cut" | "short" | "corrupt"
    delay: float = 0.0  # seconds before a GET answers

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class FakeHub:
    def __init__(self):
        self.files: dict[tuple[str, str], HubFile] = {}  # (repo path, filename) -> file
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: str, filename: str, data: bytes, commit: str, lfs: bool = False) -> HubFile:
        self.files[(repo, filename)] = HubFile(data, commit, lfs)
        return self.files[(repo, filename)]

    def gets(self, filename: str) -> int:
        return sum(1 for method, path in self.requests if method == "GET" and path.endswith("/" + filename))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ answering
    def _answer(self, handler, body: bool) -> None:
        with self._lock:
            self.requests.append((handler.command, handler.path))
        api = _API.match(handler.path)
        if api:
            self._api(handler, api)
            return
        match = _RESOLVE.match(handler.path.split("?", 1)[0])
        file = self.files.get((match["repo"], match["file"])) if match else None
        if file is None or (match["rev"] not in (file.commit, "main")):
            commits = {f.commit for (repo, _), f in self.files.items() if match and repo == match["repo"]}
            handler.send_response(404)
            handler.send_header("X-Error-Code", "EntryNotFound")
            if commits:
                handler.send_header("X-Repo-Commit", sorted(commits)[0])
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        data, etag = file.data, file.sha256 if file.lfs else hashlib.sha1(file.data).hexdigest()
        if file.fault == "corrupt":
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        start = 0
        ranged = handler.headers.get("Range")
        if body and ranged and (m := re.match(r"bytes=(\d+)-$", ranged)):
            start = int(m.group(1))
        announced = len(file.data) - start
        sent = data[start:]
        if file.fault == "cut":
            sent = data[start:max(start, len(data) // 2)]
        if body and file.delay:
            time.sleep(file.delay)
        handler.send_response(206 if start else 200)
        handler.send_header("X-Repo-Commit", file.commit)
        handler.send_header("ETag", f'"{etag}"')
        if file.lfs:
            handler.send_header("X-Linked-Etag", f'"{etag}"')
            handler.send_header("X-Linked-Size", str(len(file.data) + (1000 if file.fault == "short" else 0)))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(file.data) - 1}/{len(file.data)}")
        handler.send_header("Content-Length", str(announced if body else len(file.data)))
        if file.fault == "cut" and body:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handler.wfile.write(sent)
                handler.wfile.flush()
            if file.fault == "cut":
                handler.close_connection = True

    def _api(self, handler, api) -> None:
        repo = api["repo"] if api["kind"] == "models" else f"datasets/{api['repo']}"
        files = {name: f for (r, name), f in self.files.items() if r == repo}
        if not files:
            payload, status = {"error": "Repository not found"}, 404
        elif api["what"] == "revision":
            commit = next(iter(files.values())).commit
            payload, status = {"id": api["repo"], "sha": commit, "siblings": [{"rfilename": n} for n in files]}, 200
        else:
            payload, status = [], 200
            for name, f in files.items():
                entry = {"type": "file", "path": name, "size": len(f.data), "oid": hashlib.sha1(f.data).hexdigest()}
                if f.lfs:
                    entry["lfs"] = {"size": len(f.data), "oid": f.sha256, "pointerSize": 134}
                payload.append(entry)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        if status == 404:
            handler.send_header("X-Error-Code", "RepoNotFound")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command == "GET":
            handler.wfile.write(data)


# --------------------------------------------------------------------------- the released names, tiny
def tiny_registry() -> dict:
    """The production registry entries, with the tiny BERT's hidden size (the dimension known before download)."""
    from pyserini_i3.modeling import released

    return {name: dataclasses.replace(spec, hidden_size=OFFICIAL_SHAPES[0]) for name, spec in released.RELEASED.items()}


def checkpoint_bytes(vocab: int, seed: int) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"module." + k: v for k, v in official_state_dict(vocab, seed=seed).items()}, buffer)
    return buffer.getvalue()


def base_files(tiny_backbone: Path) -> dict[str, bytes]:
    """The tiny BERT's config and tokenizer files: no weights (the released encoders need none)."""
    return {p.name: p.read_bytes() for p in sorted(tiny_backbone.iterdir())
            if p.is_file() and p.suffix not in (".safetensors", ".bin")}


def populate(hub: FakeHub, tiny_backbone: Path, out: Path) -> dict[str, dict[str, Path]]:
    """Serve both released names; also write their files to ``out/<name>/`` (checkpoint, base/) for
    ``convert-official`` on the same files.  Returns name -> {"checkpoint", "base"} paths."""
    vocab = vocab_size(tiny_backbone)
    paths = {}
    for seed, spec in enumerate(tiny_registry().values(), start=1):
        data = checkpoint_bytes(vocab, seed)
        hub.add(f"{spec.repo_type}s/{spec.repo_id}", spec.filename, data, spec.revision, lfs=True)
        folder = out / spec.name
        (folder / "base").mkdir(parents=True)
        (folder / spec.filename).write_bytes(data)
        for name, content in base_files(tiny_backbone).items():
            hub.add(spec.base, name, content, BASE_COMMIT)
            (folder / "base" / name).write_bytes(content)
        paths[spec.name] = {"checkpoint": folder / spec.filename, "base": folder / "base"}
    return paths


# what a subprocess runs: the tiny registry, then released.ensure(NAME), code (exec CODE) or a Pyserini
# command (MODULE ARGS..., run as python -m runs it)
DRIVER = r"""
import os, sys, json, runpy
sys.path.insert(0, os.environ["FAKE_HUB_TESTS"])
import fake_hub
from pyserini_i3.modeling import released
released.RELEASED.update(fake_hub.tiny_registry())
mode = sys.argv[1]
if mode == "ensure":
    barrier = os.environ.get("FAKE_HUB_BARRIER")
    if barrier:  # start together: each marks itself ready and waits for the others
        import time
        open(os.path.join(barrier, str(os.getpid())), "w").close()
        while len(os.listdir(barrier)) < int(os.environ["FAKE_HUB_PARTIES"]):
            time.sleep(0.05)
    print("PATH " + str(released.ensure(sys.argv[2])), flush=True)
elif mode == "exec":
    exec(sys.argv[2])
else:
    sys.argv = [mode] + sys.argv[2:]
    runpy.run_module(mode, run_name="__main__", alter_sys=True)
"""
