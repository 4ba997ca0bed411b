"""This checkout's setup.py read without installing it: its keyword arguments, its entry points on sys.path."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import setuptools

from test.core.dist_info import write_dist_info

REPO = Path(__file__).resolve().parents[2]


def read_setup_kwargs() -> dict:
    """The keyword arguments setup.py hands to ``setuptools.setup``."""
    captured = {}
    patch = pytest.MonkeyPatch()
    patch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    patch.chdir(REPO)
    try:
        runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    finally:
        patch.undo()
    return captured


def write_package_record(root: Path) -> Path:
    """``root/samosaic3d-<version>.dist-info`` with setup.py's entry points.

    With ``root`` first on sys.path it shadows the installed record, which may predate this checkout's setup.py
    (``importlib.metadata`` reads the first record of a package name on sys.path).
    """
    kwargs = read_setup_kwargs()
    return write_dist_info(root, kwargs["name"], kwargs["version"], kwargs["entry_points"])
