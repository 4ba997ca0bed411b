"""A throwaway installed-package record that ``importlib.metadata`` finds on ``sys.path``."""

from __future__ import annotations

from pathlib import Path


def write_dist_info(root: Path, name: str, version: str, entry_points: dict[str, list[str]]) -> Path:
    """Write ``root/<name>-<version>.dist-info`` (METADATA + entry_points.txt); ``root`` then goes on sys.path.

    ``entry_points``: group -> lines ``"name = module[:attr]"``, as setup.py's ``entry_points`` holds them.
    """
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = [f"[{group}]\n" + "".join(f"{line}\n" for line in lines) for group, lines in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(sections))
    return info
