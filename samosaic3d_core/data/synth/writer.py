"""Write a ``SynthScene`` in the ``scannet_frames_25k`` layout (plus ``part/`` and ``scene.json``).

    <out>/<scene>/color/000000.jpg      (or .png)
                  depth/000000.png      uint16 millimetres
                  pose/000000.txt       4x4 camera-to-world, as the tracker reports it
                  pose_true/000000.txt  4x4 true camera-to-world (diagnostics and evaluation)
                  instance/000000.png   uint16, 0 = unlabeled, scene-consistent ids
                  part/000000.png       uint16 part ids, 0 = unlabeled
                  intrinsics_color.txt, intrinsics_depth.txt   4x4
                  scene.json
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from samosaic3d_core.data.synth.scene import SynthScene
from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.types import Frame

FORMAT_VERSION = 1
PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f"could not write {path}")


def _matrix_text(m: np.ndarray) -> str:
    return "\n".join(" ".join(f"{v:.9g}" for v in row) for row in m) + "\n"


def _write_frame(root: Path, frame: Frame, image_format: str, color_params: list[int]) -> None:
    stem = f"{frame.index:06d}"
    if frame.instance_gt.max() > 65535 or frame.part_gt.max() > 65535:
        raise ValueError(f"{root.name}: ids above 65535 do not fit a uint16 PNG")
    _imwrite(root / "color" / f"{stem}.{image_format}", frame.rgb[:, :, ::-1], color_params)
    _imwrite(root / "depth" / f"{stem}.png", np.round(frame.depth * 1000.0).astype(np.uint16), PNG_FAST)
    _imwrite(root / "instance" / f"{stem}.png", frame.instance_gt.astype(np.uint16), PNG_FAST)
    _imwrite(root / "part" / f"{stem}.png", frame.part_gt.astype(np.uint16), PNG_FAST)
    (root / "pose" / f"{stem}.txt").write_text(_matrix_text(frame.pose))
    if frame.true_pose is not None:
        (root / "pose_true" / f"{stem}.txt").write_text(_matrix_text(frame.true_pose))


def write_scene(scene: SynthScene, out_dir: str | Path, image_format: str = "jpg", jpeg_quality: int = 95,
                progress: bool = True) -> Path:
    """Write every frame of ``scene`` under ``out_dir/scene.name``; returns that folder.

    image_format: "jpg" or "png" for the colour images.
    """
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    root = Path(out_dir) / scene.name
    for sub in ("color", "depth", "pose", "pose_true", "instance", "part"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    k4 = np.eye(4)
    k4[:3, :3] = scene.intrinsics.matrix
    for name in ("intrinsics_color.txt", "intrinsics_depth.txt"):
        (root / name).write_text(_matrix_text(k4))
    color_params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if image_format == "jpg" else PNG_FAST
    # encoding and file writes (cv2 releases the GIL) overlap with rendering the next frame
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = []
        for frame in tqdm(scene, total=len(scene), desc=scene.name, unit="frame", disable=not progress):
            pending.append(pool.submit(_write_frame, root, frame, image_format, color_params))
            if len(pending) > 4:
                pending.pop(0).result()
        for job in pending:
            job.result()
    k = scene.intrinsics
    meta = {
        "format_version": FORMAT_VERSION,
        "name": scene.name,
        "seed": scene.seed,
        "index": scene.index,
        "image_size": [k.width, k.height],
        "intrinsics": {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "width": k.width, "height": k.height},
        "room_size": [round(v, 6) for v in scene.layout.size],
        "frame_count": len(scene),
        "objects": scene.objects,
        "config": dataclasses.asdict(scene.config),
    }
    with atomic_path(root / "scene.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1) + "\n")
    return root
