"""Keep freed memory in the process, so that per-frame arrays reuse warm pages.

A frame allocates and frees arrays of a few megabytes (a 640x480 frame's 300k points in float64
are 7 MB). glibc serves blocks this large with fresh ``mmap`` regions and returns them on
``free``, and trims the heap top whenever it grows free: every frame then faults its pages in
again, which on a virtual machine costs more than the arithmetic (back-projecting a 640x480 frame:
29-39 ms against 6-9 ms with warm pages, docs/runtime.md). ``keep_freed_memory`` raises both
thresholds with ``mallopt``: blocks up to 32 MiB come from the heap, and the heap is not trimmed
below 512 MiB of free memory. The process's memory then stays at its high-water mark instead of
following each frame.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""Largest block served from the heap (glibc's ceiling for this setting on 64-bit systems)."""
TRIM_THRESHOLD = 512 << 20
"""Free memory at the top of the heap that is kept rather than returned to the system."""

_lock = threading.Lock()
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; True where they are in effect (glibc), else False."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and _mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        return _applied


def _mallopt(option: int, value: int) -> bool:
    """glibc ``mallopt``; False where the C library has none (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(option, value) == 1
