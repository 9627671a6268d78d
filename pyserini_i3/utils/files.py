"""Files and directories that appear whole or not at all.

Every write of a result (a training file, a model directory, a checkpoint, a run
record, a copied topics file, the ``.pth`` start-up file) goes through here: the
content is written to a temporary name beside the target and renamed over it at
the end, so an error or Ctrl-C leaves the old target untouched and no half-written
file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """A file that appears at ``path`` only if the ``with`` block completes.

    ``mode`` is ``"w"`` (text, ``\\n`` line endings) or ``"wb"``.  Writes go to a
    temporary file in the same directory, fsynced and renamed over ``path``; on any
    exception the temporary file is removed and an existing ``path`` stays as it was.
    The file gets the permissions of an ordinary new file (the umask's).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode == "w":
            handle = os.fdopen(fd, "w", encoding=encoding, newline="\n")
        else:
            handle = os.fdopen(fd, "wb")
        with handle as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text or bytes) to ``path`` through :func:`atomic_file`."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as out:
        out.write(data)
    return Path(path)


def copy_atomic(src: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy ``src`` to ``dest`` through :func:`atomic_file`."""
    with open(src, "rb") as source, atomic_file(dest, "wb") as out:
        shutil.copyfileobj(source, out)
    return Path(dest)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, merge: bool = False) -> Iterator[Path]:
    """A temporary directory beside ``target`` whose content lands in ``target`` if the block completes.

    ``merge=False``: the directory appears whole, replacing an existing ``target``
    (renamed aside, then removed).  ``merge=True``: each file is renamed into
    ``target`` (created if need be), so files already there that the block did not
    write stay (a model directory that also holds training logs).  On an exception
    the temporary directory is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if merge:
            target.mkdir(exist_ok=True)
            for item in tmp.iterdir():
                os.replace(item, target / item.name)
            tmp.rmdir()
            return
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
