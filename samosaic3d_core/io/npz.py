"""Reading .npz files the project writes, without pickle."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np


def load_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """All arrays of the .npz at ``path``; ValueError "<path>: cannot read <what> (...)" if it is
    missing, empty, truncated, not a zip, or would need pickle."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot read {what} ({exc})") from exc
