import subprocess
import sys

import pytest

from samosaic3d_core import allocator

PROBE = """
import ctypes, sys
import numpy as np
from samosaic3d_core.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2().hblkhd
block = np.ones(8 << 20, np.uint8)  # 8 MiB, as a 640x480 frame's points
during = libc.mallinfo2().hblkhd
print(applied, during - before)
"""


def probe(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_serves_frame_sized_blocks_from_the_heap():
    applied, mapped = probe("default")
    assert applied == "None" and mapped >= 8 << 20  # glibc's default: a fresh mapping per block
    applied, mapped = probe("keep")
    assert applied == "True" and mapped == 0


def test_keep_freed_memory_is_false_without_mallopt(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError("no libc")))
    assert allocator.keep_freed_memory() is False
    assert allocator.keep_freed_memory() is False  # decided once
