"""Where ``~/save_map`` and ``~/load_map`` may read and write: only ``.npz`` files inside the map folder."""

from __future__ import annotations

from pathlib import Path

MAP_SUFFIX = ".npz"


def resolve_map_path(map_dir: Path, requested: str, must_exist: bool) -> Path:
    """The real path of ``requested`` (relative to ``map_dir``, or absolute) or ValueError saying why not.

    Symlinks and ``..`` are resolved first, so a name that leads outside ``map_dir`` by
    either is refused. A missing suffix becomes ``.npz``; any other suffix is refused.
    """
    if not requested or not requested.strip():
        raise ValueError(f"empty path; give a file name inside the map folder {map_dir}")
    if "\x00" in requested:
        raise ValueError("path contains a NUL character")
    root = Path(map_dir).resolve()
    candidate = Path(requested).expanduser()
    if not candidate.is_absolute():
        candidate = root / candidate
    if candidate.suffix == "":
        candidate = candidate.with_suffix(MAP_SUFFIX)
    resolved = candidate.resolve(strict=False)
    if root not in resolved.parents:
        raise ValueError(f"'{requested}' resolves to {resolved}, outside the map folder {root}; refused")
    if resolved.suffix != MAP_SUFFIX:
        raise ValueError(f"'{requested}': map files end in {MAP_SUFFIX}, refused")
    if must_exist and not resolved.is_file():
        raise ValueError(f"'{requested}': no map file {resolved}")
    if not must_exist and resolved.exists() and not resolved.is_file():
        raise ValueError(f"'{requested}': {resolved} exists and is not a regular file")
    return resolved
