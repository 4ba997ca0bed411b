"""Atomic writes: write to a temporary file beside the target, flush it to disk, then rename.

A process killed while writing (SIGKILL, power loss) leaves the previous file as it was and, at
worst, one unfinished temporary file named ``.<target name>.<random>.tmp<suffix>`` beside it;
``stale_temporaries`` finds those and ``remove_stale_temporaries`` clears them (the node does at
start-up, in its map folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Iterator

_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")  # what atomic_path's mkstemp names


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success flush it to disk and rename it onto ``path``.

    On error the temporary file is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync(path.parent)  # the rename itself
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk; folders that cannot be opened are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stale_temporaries(folder: str | os.PathLike, min_age_s: float = 60.0) -> list[Path]:
    """Unfinished ``atomic_path`` temporaries in ``folder`` not modified for ``min_age_s`` seconds, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    found = []
    for entry in folder.iterdir():
        if _TEMPORARY.match(entry.name) and entry.is_file() and now - entry.stat().st_mtime >= min_age_s:
            found.append(entry)
    return sorted(found)


def remove_stale_temporaries(folder: str | os.PathLike, min_age_s: float = 60.0) -> list[Path]:
    """Delete ``stale_temporaries(folder, min_age_s)`` (younger ones may be another writer's); return them."""
    removed = []
    for entry in stale_temporaries(folder, min_age_s):
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed
