"""Process-wide allocator tuning, for callers that opt in (the demo, the benchmarks, the plugin on request).

Encoding a corpus on CPU allocates and frees the same large activations batch after
batch.  glibc's defaults return blocks above 128 KiB to the system at once, so every
batch maps and faults them in again; :func:`keep_freed_memory` keeps them for reuse, as
jemalloc or tcmalloc would (measured in ``docs/efficiency.md``).  It changes the whole
process, which is why nothing calls it as a side effect of encoding.
"""

from __future__ import annotations

_TUNED = False


def keep_freed_memory() -> bool:
    """glibc only, once per process: serve blocks below 1 GiB from the heap and never trim it below
    1 GiB.  True if the allocator was tuned (now or before), False where it cannot be (not glibc)."""
    global _TUNED
    if _TUNED:
        return True
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - another libc
        return False
    _TUNED = True
    return True
