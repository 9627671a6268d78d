"""The authors' released I^3 checkpoints by name: ``i3-msmarco`` and ``i3-msmarco-distilled``.

A name stands for a pinned file of the Hugging Face hub (the authors' official
layout), the BERT model it was fine-tuned from (config and tokenizer only) and the
settings of :func:`~pyserini_i3.modeling.convert.convert_official`.  The first use
downloads both with ``huggingface_hub`` (into the Hugging Face cache, with its
progress bars), checks the checkpoint's SHA-256 against the hub's, converts it and
stores the converted I^3 model directory in our cache:

    $PYSERINI_I3_CACHE/released/<name>-<revision[:12]>/
    (default root: $XDG_CACHE_HOME/pyserini_i3, else ~/.cache/pyserini_i3)

The entry appears whole or not at all (:func:`~pyserini_i3.utils.files.atomic_dir`);
a ``filelock.FileLock`` beside it (``<entry>.lock``) makes concurrent first uses
convert once.  Later uses load the directory and touch no network.  Offline
(``HF_HUB_OFFLINE=1`` or the hub unreachable) with nothing cached, the error is one
line naming what is missing, where it was looked for, and the commands that fetch
and convert it by hand (:func:`missing_message`).

Module-level imports are the standard library only: the names and dimensions are
answered without torch or huggingface_hub (argument parsing never downloads).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyserini_i3.modeling.storage import check_model_dir, model_dimension

CACHE_ENV = "PYSERINI_I3_CACHE"
PROVENANCE = "released.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# The base model's files: config and tokenizer (never its weights; the checkpoint has them all).
BASE_REQUIRED = ("config.json", "vocab.txt")
BASE_OPTIONAL = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")


@dataclass(frozen=True)
class ReleasedEncoder:
    """One released checkpoint: where it is, what it was fine-tuned from, how to convert it."""

    name: str
    filename: str
    base: str  # the hub model it was fine-tuned from: config.json + tokenizer files
    description: str
    repo_id: str = "qian/III-Retriever"
    repo_type: str = "dataset"
    revision: str = "153f0c13852d9fb550f4be34da5968995a0eb84a"
    base_revision: str = "main"  # not pinned: the commit it resolves to is recorded in released.json
    sha256: str | None = None  # pinned digest of the checkpoint, if known; else the hub's ETag is checked
    hidden_size: int = 768  # BERT-base: the vector dimension, known before anything is downloaded
    num_slots: int = 32
    query_max_length: int = 32
    passage_max_length: int = 140
    reported: dict = field(default_factory=dict, compare=False)  # the paper's scores (docs/released-encoders.md)

    @property
    def cache_name(self) -> str:
        return f"{self.name}-{self.revision[:12]}"


RELEASED: dict[str, ReleasedEncoder] = {
    e.name: e
    for e in (
        ReleasedEncoder(
            name="i3-msmarco", filename="III_finetuned.p", base="Shitao/RetroMAE_MSMARCO_finetune",
            description="the authors' I^3 (BERT-base, official layout) fine-tuned on MS MARCO passage",
            reported={"msmarco-dev MRR@10": 0.403, "dl19 nDCG@10": 0.729},
        ),
        ReleasedEncoder(
            name="i3-msmarco-distilled", filename="III_distilled.p", base="Shitao/RetroMAE_MSMARCO_distill",
            description="the authors' I^3 (BERT-base, official layout) distilled from a cross-encoder on MS MARCO",
            reported={"msmarco-dev MRR@10": 0.418, "dl19 nDCG@10": 0.731},
        ),
    )
}


def is_released_name(name) -> bool:
    """True for exactly one of the names above (no case folding, no prefixes or suffixes)."""
    return isinstance(name, str) and name in RELEASED


def get(name: str) -> ReleasedEncoder:
    try:
        return RELEASED[name]
    except KeyError:
        raise ValueError(f"{name}: not a released I^3 encoder (known: {', '.join(sorted(RELEASED))})") from None


# --------------------------------------------------------------------------- where things live
def cache_root() -> Path:
    """``$PYSERINI_I3_CACHE``, else ``$XDG_CACHE_HOME/pyserini_i3``, else ``~/.cache/pyserini_i3``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "pyserini_i3"


def entry_dir(spec: ReleasedEncoder) -> Path:
    """The converted model directory of ``spec`` (it may not exist yet)."""
    return cache_root() / "released" / spec.cache_name


def lock_path(spec: ReleasedEncoder) -> Path:
    entry = entry_dir(spec)
    return entry.with_name(entry.name + ".lock")


def hf_cache_dir() -> str:
    """The Hugging Face hub cache huggingface_hub uses (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ...)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"


def cached_entry(spec: ReleasedEncoder) -> Path | None:
    """The converted directory if it is there and complete (config.json + weights)."""
    entry = entry_dir(spec)
    try:
        check_model_dir(entry, spec.name)
    except ValueError:
        return None
    return entry


def dimension(name: str) -> int:
    """The vector dimension of a released encoder, without downloading: the cached config's, else the registry's."""
    spec = get(name)
    entry = cached_entry(spec)
    if entry is not None:
        return model_dimension(entry, spec.name)
    if offline_reason() and not _raw_files_cached(spec):
        raise ValueError(missing_message(spec, offline_reason()))
    return spec.hidden_size


# --------------------------------------------------------------------------- offline
def offline_reason(probe: bool = False) -> str | None:
    """Why the hub cannot be used: ``HF_HUB_OFFLINE`` (always checked) or, with ``probe``, no connection."""
    from pyserini_i3.modeling.backbone import _offline, hub_reachable

    if _offline():
        return "HF_HUB_OFFLINE is set"
    if probe and not hub_reachable():
        return f"the hub ({endpoint()}) is unreachable"
    return None


def _from_cache(repo_id: str, filename: str, revision: str, repo_type: str | None = None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, revision=revision, repo_type=repo_type)
    return Path(found) if isinstance(found, str) else None


def _raw_files_cached(spec: ReleasedEncoder) -> bool:
    """Are the checkpoint and the base's required files in the Hugging Face cache (e.g. from ``hf download``)?"""
    return not _missing_raw_files(spec)


def _missing_raw_files(spec: ReleasedEncoder) -> list[str]:
    missing = []
    if _from_cache(spec.repo_id, spec.filename, spec.revision, spec.repo_type) is None:
        missing.append(f"{spec.repo_id}/{spec.filename} ({spec.repo_type}, revision {spec.revision})")
    for name in BASE_REQUIRED:
        if _from_cache(spec.base, name, spec.base_revision) is None:
            missing.append(f"{spec.base}/{name} (revision {spec.base_revision})")
    return missing


def manual_commands(spec: ReleasedEncoder, work: str = "i3-download") -> list[str]:
    """The commands that fetch and convert ``spec`` by hand, into its cache entry."""
    ckpt = f"{work}/{spec.filename}"
    return [
        shlex.join(["hf", "download", spec.repo_id, spec.filename, "--repo-type", spec.repo_type,
                    "--revision", spec.revision, "--local-dir", work]),
        shlex.join(["hf", "download", spec.base, "--include", "*.json", "--include", "*.txt",
                    "--revision", spec.base_revision, "--local-dir", f"{work}/base"]),
        shlex.join(["python", "-m", "pyserini_i3", "convert-official",
                    ckpt, "--base", f"{work}/base", "--output", str(entry_dir(spec))]),
    ]


def missing_message(spec: ReleasedEncoder, reason: str) -> str:
    """One line: what is missing, where it was looked for, and how to get it by hand."""
    missing = _missing_raw_files(spec)
    what = "; ".join(missing) if missing else "nothing (retry: the files are in the Hugging Face cache)"
    return (f"{spec.name}: not converted yet and {reason}: no I^3 model in {entry_dir(spec)}, and missing from the "
            f"Hugging Face cache {hf_cache_dir()}: {what}. Fetch and convert it by hand (on a machine with the hub, "
            f"then copy {entry_dir(spec)} here): " + " && ".join(manual_commands(spec))
            + f"; or run the two 'hf download' commands without --local-dir and retry {spec.name}")


# --------------------------------------------------------------------------- first use
def _note(message: str) -> None:
    print(f"pyserini-i3: {message}", file=sys.stderr, flush=True)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _download(spec: ReleasedEncoder, repo_id: str, filename: str, revision: str, repo_type: str | None,
              local_only: bool, reason: str | None, optional: bool = False) -> Path | None:
    """``hf_hub_download`` of one file; None for an optional file the repository lacks; one-line errors."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    where = f"{repo_id}/{filename} ({repo_type or 'model'}, revision {revision})"
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision,
                                    local_files_only=local_only, endpoint=endpoint()))
    except LocalEntryNotFoundError:
        if optional:
            return None
        raise ValueError(missing_message(spec, reason or "the hub did not answer")) from None
    except EntryNotFoundError:
        if optional:
            return None
        raise ValueError(f"{spec.name}: {where} is not on the hub ({endpoint()})") from None
    except Exception as exc:  # HTTP errors, a truncated or interrupted download (huggingface_hub's checks)
        raise ValueError(f"{spec.name}: downloading {where} from {endpoint()} failed ({_one_line(exc)}); "
                         "nothing was stored: retry") from None


def _sha256(path: Path) -> str:
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, leave=False,
                                    desc=f"sha256 {path.name}", disable=path.stat().st_size < 2**26) as bar:
        for chunk in iter(lambda: f.read(2**22), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _verify(spec: ReleasedEncoder, path: Path) -> str:
    """The checkpoint's SHA-256, checked against the pinned digest, else against the hub's ETag (the
    name of the blob in the Hugging Face cache, the SHA-256 of a Git LFS file).  A mismatching file is
    removed from the Hugging Face cache, so that a retry downloads it again."""
    blob = Path(os.path.realpath(path))
    expected = spec.sha256 or (blob.name if _SHA256.match(blob.name) else None)
    actual = _sha256(blob)
    if expected is not None and actual != expected:
        for stale in (path, blob):
            stale.unlink(missing_ok=True)
        raise ValueError(f"{spec.name}: {spec.repo_id}/{spec.filename} is corrupt (sha256 {actual}, expected "
                         f"{expected}); removed it from the Hugging Face cache: retry")
    return actual


def _fetch(spec: ReleasedEncoder, local_only: bool, reason: str | None) -> tuple[Path, Path, str]:
    """(checkpoint path, base directory, base commit), from the Hugging Face cache or the hub."""
    checkpoint = _download(spec, spec.repo_id, spec.filename, spec.revision, spec.repo_type, local_only, reason)
    config = _download(spec, spec.base, "config.json", spec.base_revision, None, local_only, reason)
    base_dir = config.parent  # snapshots/<commit>/: fetch the other files at that same commit
    commit = base_dir.name if re.fullmatch(r"[0-9a-f]{40}", base_dir.name) else spec.base_revision
    for name in BASE_REQUIRED[1:]:
        _download(spec, spec.base, name, commit, None, local_only, reason)
    for name in BASE_OPTIONAL:
        _download(spec, spec.base, name, commit, None, local_only, reason, optional=True)
    return checkpoint, base_dir, commit


def _build(spec: ReleasedEncoder, entry: Path) -> None:
    """Download (or take from the Hugging Face cache), verify, convert, store: the entry appears whole."""
    from pyserini_i3 import __version__
    from pyserini_i3.modeling.convert import convert_official
    from pyserini_i3.utils.files import atomic_dir

    reason = offline_reason(probe=True)
    if reason and not _raw_files_cached(spec):
        raise ValueError(missing_message(spec, reason))
    if not reason:
        _note(f"{spec.name}: first use: downloading {spec.repo_id}/{spec.filename} (revision {spec.revision[:12]}) "
              f"and the config and tokenizer of {spec.base} from {endpoint()}")
    checkpoint, base_dir, base_commit = _fetch(spec, local_only=bool(reason), reason=reason)
    digest = _verify(spec, checkpoint)
    _note(f"{spec.name}: converting {checkpoint.name} into {entry}")
    start = time.time()
    with atomic_dir(entry) as tmp:
        try:
            model = convert_official(checkpoint, str(base_dir), tmp, num_slots=spec.num_slots,
                                     query_max_length=spec.query_max_length,
                                     passage_max_length=spec.passage_max_length, base_name=spec.base)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{spec.name}: converting {spec.repo_id}/{spec.filename}: {exc}") from None
        provenance = {
            **{k: v for k, v in asdict(spec).items() if k not in ("reported", "description")},
            "sha256": digest, "size": checkpoint.stat().st_size, "base_commit": base_commit,
            "dimension": model.dim, "converted_by": f"pyserini-i3 {__version__}",
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(time.time() - start, 1),
        }
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
    _note(f"{spec.name}: ready in {entry} ({time.time() - start:.0f} s); later uses load it offline")


def ensure(name: str) -> Path:
    """The converted model directory of released encoder ``name``, downloading and converting it on first use."""
    spec = get(name)
    entry = cached_entry(spec)
    if entry is not None:
        return entry
    from filelock import FileLock, Timeout

    entry = entry_dir(spec)
    lock = FileLock(str(lock_path(spec)))
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            _note(f"{spec.name}: another process is preparing {entry}; waiting for it (lock {lock.lock_file})")
            lock.acquire()
    except OSError as exc:
        raise ValueError(f"{spec.name}: cannot write the cache {entry.parent} ({_one_line(exc)}): "
                         f"set ${CACHE_ENV} to a writable directory") from None
    try:
        if cached_entry(spec) is None:  # not built by another process meanwhile
            _remove_stale_temporaries(entry)
            _build(spec, entry)
    finally:
        lock.release()
    return entry


def _remove_stale_temporaries(entry: Path) -> None:
    """Temporary folders of a conversion that was killed (atomic_dir cleans up on errors, not on SIGKILL).
    Called under the entry's lock, so no other process is writing them."""
    import shutil

    for stale in entry.parent.iterdir():  # .<entry>.tmp-*, .<entry>.old-*, and the model's own ..<entry>.tmp-*.tmp-*
        name = stale.name
        if (name.startswith(".") and name.lstrip(".").startswith(entry.name + ".") and stale.is_dir()
                and (".tmp-" in name or ".old-" in name)):
            shutil.rmtree(stale, ignore_errors=True)
