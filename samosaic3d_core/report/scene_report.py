"""A report folder for one segmented scene: pictures a person wants to see, and the numbers.

    overview.png         colour frame | its 2D fragments | map instances seen from that camera | ground truth
    map_top_down.png     the instance-coloured map from above, next to the ground truth
    map_perspective.png  the same from a high corner of the room
    metrics.json         AP / AP50 / AP25, frames, FPS, instance counts, per-stage timing
    map.ply, map.npz     the map itself (instance colours; the project's map format)

Predicted and ground-truth pictures show the same points: the evaluator's scene points
(one per 2 cm voxel), coloured by the instance the prediction gives them and by ground truth.
A scene without ground truth (a user's recording) gets the same pictures without the ground-truth
panels, typically of the map's own points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from samosaic3d_core.colors import id_colors
from samosaic3d_core.io.scene_map import write_ply, write_scene_map
from samosaic3d_core.report.overlay import overlay_labels
from samosaic3d_core.report.views import perspective_pose, splat, top_down
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult, SceneMap

TITLE_HEIGHT = 18


@dataclass
class ReportInputs:
    """What the report shows. ``pred_ids`` and ``gt_ids`` label ``points`` (N, 3) alike; ``gt_ids`` None:
    no ground truth."""

    frame: Frame
    masks: MaskResult
    points: np.ndarray
    pred_ids: np.ndarray
    gt_ids: np.ndarray | None
    scene_map: SceneMap
    metrics: dict


def _titled(image: np.ndarray, title: str) -> np.ndarray:
    canvas = Image.new("RGB", (image.shape[1], image.shape[0] + TITLE_HEIGHT), (255, 255, 255))
    canvas.paste(Image.fromarray(image), (0, TITLE_HEIGHT))
    ImageDraw.Draw(canvas).text((4, 3), title, fill=(0, 0, 0))
    return np.asarray(canvas)


def side_by_side(images: list[np.ndarray], titles: list[str], gap: int = 6) -> np.ndarray:
    """Images of equal height in a row, each with a title above it."""
    tiles = [_titled(im, t) for im, t in zip(images, titles)]
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for tile in tiles:
        out[: tile.shape[0], x : x + tile.shape[1]] = tile
        x += tile.shape[1] + gap
    return out


def label_colors(ids: np.ndarray) -> np.ndarray:
    """Palette colour per id, grey for 0 and below (unlabeled / no instance)."""
    return id_colors(np.maximum(np.asarray(ids, np.int64), 0))


def _frame_view(points, ids, intrinsics: CameraIntrinsics, pose, rgb) -> np.ndarray:
    """Instance colours of ``points`` rendered from a camera, blended over its colour image."""
    image = splat(points, label_colors(ids), intrinsics, pose, radius=2, background=(0, 0, 0))
    hit = image.any(axis=-1)
    out = rgb.copy()
    out[hit] = (0.35 * rgb[hit] + 0.65 * image[hit]).astype(np.uint8)
    return out


def write_report(out_dir: str | Path, inputs: ReportInputs) -> dict[str, Path]:
    """Write the pictures, metrics and map of one scene into ``out_dir``; return what was written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame, k = inputs.frame, inputs.frame.intrinsics
    written = {}

    has_gt = inputs.gt_ids is not None
    fragments = overlay_labels(frame.rgb, inputs.masks.fragment_map + 1)
    pred_view = _frame_view(inputs.points, inputs.pred_ids, k, frame.pose, frame.rgb)
    views = [frame.rgb, fragments, pred_view]
    view_titles = [f"frame {frame.index}", f"2D fragments ({len(inputs.masks)})", "map instances (this view)"]
    if has_gt:
        views.append(overlay_labels(frame.rgb, frame.instance_gt) if frame.instance_gt is not None else frame.rgb)
        view_titles.append("ground truth")
    written["overview"] = out / "overview.png"
    Image.fromarray(side_by_side(views, view_titles)).save(written["overview"])

    n_pred = len(np.unique(inputs.pred_ids[inputs.pred_ids > 0]))
    colors, titles = [label_colors(inputs.pred_ids)], [f"prediction ({n_pred} instances)"]
    if has_gt:
        colors.append(label_colors(inputs.gt_ids))
        titles.append(f"ground truth ({len(np.unique(inputs.gt_ids[inputs.gt_ids > 0]))} instances)")
    written["top_down"] = out / "map_top_down.png"
    Image.fromarray(side_by_side([top_down(inputs.points, c, radius=1) for c in colors], titles)).save(
        written["top_down"])
    if len(inputs.points):
        view = CameraIntrinsics(fx=420.0, fy=420.0, cx=319.5, cy=239.5, width=640, height=480)
        pose = perspective_pose(inputs.points)
        pictures = [splat(inputs.points, c, view, pose, radius=1) for c in colors]
        written["perspective"] = out / "map_perspective.png"
        Image.fromarray(side_by_side(pictures, titles)).save(written["perspective"])

    written["metrics"] = out / "metrics.json"
    written["metrics"].write_text(json.dumps(inputs.metrics, indent=2, sort_keys=True) + "\n")
    written["map_npz"] = out / "map.npz"
    write_scene_map(written["map_npz"], inputs.scene_map)
    written["map_ply"] = out / "map.ply"
    m = inputs.scene_map
    write_ply(written["map_ply"], m.xyz, label_colors(m.instance_ids), m.instance_ids)
    return written
