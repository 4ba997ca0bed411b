"""The map file ``<scene>.npz`` that ``samosaic3d run`` writes and ``evaluate`` reads.

Keys (all plain arrays, loaded with ``allow_pickle=False``):
    xyz          (P, 3) float32 world metres
    rgb          (P, 3) uint8
    instance_ids (P,) int32, 0 = no instance
    scores       (P,) float32, the score of the point's instance
    format       () str "samosaic3d-map", version () int
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.io.npz import load_npz
from samosaic3d_core.types import SceneMap

MAP_FORMAT = "samosaic3d-map"
MAP_VERSION = 1


def write_scene_map(path: str | os.PathLike, scene_map: SceneMap) -> None:
    """Write ``scene_map`` atomically to ``path`` (.npz)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                xyz=scene_map.xyz.astype(np.float32),
                rgb=scene_map.rgb.astype(np.uint8),
                instance_ids=scene_map.instance_ids.astype(np.int32),
                scores=scene_map.scores.astype(np.float32),
                format=np.array(MAP_FORMAT),
                version=np.array(MAP_VERSION),
            )


def read_scene_map(path: str | os.PathLike) -> SceneMap:
    """Read a map file; raise ValueError naming ``path`` if it is not one."""
    path = Path(path)
    arrays = load_npz(path, "map file")
    if str(arrays.get("format", "")) != MAP_FORMAT:
        raise ValueError(f"{path}: not a samosaic3d map file (format key missing or wrong)")
    if int(arrays["version"]) > MAP_VERSION:
        raise ValueError(f"{path}: map version {int(arrays['version'])} is newer than supported {MAP_VERSION}")
    try:
        scene_map = SceneMap(arrays["xyz"], arrays["rgb"], arrays["instance_ids"], arrays["scores"])
    except KeyError as exc:
        raise ValueError(f"{path}: map file lacks array {exc}") from exc
    n = len(scene_map.xyz)
    if scene_map.xyz.shape != (n, 3) or any(len(a) != n for a in (scene_map.rgb, scene_map.instance_ids, scene_map.scores)):
        raise ValueError(f"{path}: map arrays have inconsistent lengths")
    return scene_map


def write_ply(path: str | os.PathLike, xyz: np.ndarray, rgb: np.ndarray, instance_ids: np.ndarray | None = None) -> None:
    """Binary little-endian PLY with x y z red green blue [instance] vertex properties, atomically."""
    n = len(xyz)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    if instance_ids is not None:
        fields.append(("instance", "<i4"))
    vertex = np.empty(n, dtype=fields)
    vertex["x"], vertex["y"], vertex["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    vertex["red"], vertex["green"], vertex["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    if instance_ids is not None:
        vertex["instance"] = instance_ids
    ply_types = {"<f4": "float", "u1": "uchar", "<i4": "int"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property {ply_types[t]} {name}" for name, t in fields]
    header.append("end_header")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(("\n".join(header) + "\n").encode("ascii"))
            f.write(vertex.tobytes())
