"""A picture of the map as RViz shows it with ``rviz/samosaic3d.rviz``, drawn without RViz (numpy + Pillow).

What is drawn, after the displays of that file:
    background      Background Color 48; 48; 48
    Grid            XY plane of the fixed frame, 1 m cells, 20 cells, colour 160; 160; 164 at alpha 0.5
    axes            the fixed frame's x (red), y (green), z (blue), 1 m long, at the origin
    /instances/cloud  Points, 3 px, RGB8: the node's instance colouring (palette colour per id,
                    camera colour where id is 0; ``samosaic3d_core.colors.instance_rgb``)
    /instances/markers  per instance a LINE_LIST box in its colour and a "id (score)" label above it
Points, grid, axes and boxes share one depth buffer (nearest wins); labels are drawn on top.
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.colors import id_colors, instance_rgb
from samosaic3d_core.geometry.boxes import BOX_EDGES, box_corners
from samosaic3d_core.geometry.projection import project
from samosaic3d_core.types import CameraIntrinsics, Instances, SceneMap

BACKGROUND = (48, 48, 48)
GRID_RGB = tuple(int(round(0.5 * c + 0.5 * b)) for c, b in zip((160, 160, 164), BACKGROUND))  # alpha 0.5
GRID_CELLS, GRID_CELL_SIZE = 20, 1.0
AXES_RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
POINT_SIZE_PX = 3
LABEL_OFFSET = 0.08  # m above the box top, like the markers' text_size

def map_rgb(scene_map: SceneMap) -> np.ndarray:
    """(P, 3) uint8 colours of /instances/cloud (cloud_color: instance): palette per id, camera rgb where id is 0."""
    return instance_rgb(scene_map.instance_ids, scene_map.rgb)


def instances_from_map(scene_map: SceneMap) -> Instances:
    """Boxes (axis-aligned, from the points) and scores per instance id of ``scene_map``."""
    ids = np.asarray(scene_map.instance_ids, np.int64)
    present = np.unique(ids[ids > 0])
    xyz = np.asarray(scene_map.xyz, np.float32)
    box_min = np.array([xyz[ids == i].min(0) for i in present], np.float32).reshape(-1, 3)
    box_max = np.array([xyz[ids == i].max(0) for i in present], np.float32).reshape(-1, 3)
    scores = np.array([scene_map.scores[ids == i][0] for i in present], np.float32)
    counts = np.array([(ids == i).sum() for i in present], np.int64)
    return Instances(ids=present, scores=scores, box_min=box_min, box_max=box_max, num_points=counts)


class Canvas:
    """An RGB image with a depth buffer; every draw keeps the nearest surface per pixel."""

    def __init__(self, intrinsics: CameraIntrinsics, pose: np.ndarray, background=BACKGROUND):
        self.k, self.pose = intrinsics, np.asarray(pose, np.float64)
        self.image = np.empty((intrinsics.height, intrinsics.width, 3), np.uint8)
        self.image[:] = background
        self.depth = np.full((intrinsics.height, intrinsics.width), np.inf)
        self._world_to_cam = np.linalg.inv(self.pose)

    def points(self, xyz: np.ndarray, rgb: np.ndarray, size: int = 1) -> None:
        """Square splats ``size`` pixels wide (odd sizes are centred) of points ``xyz`` (N, 3) coloured ``rgb``."""
        if len(xyz) == 0:
            return
        u, v, z = project(np.asarray(xyz, np.float64), self.k, self.pose)
        ok = (z > 1e-6) & np.isfinite(u) & np.isfinite(v)
        u, v = np.round(u[ok]).astype(np.int64), np.round(v[ok]).astype(np.int64)
        z, rgb = z[ok], np.broadcast_to(np.asarray(rgb, np.uint8), (len(ok), 3))[ok]
        lo = -((size - 1) // 2)
        h, w = self.depth.shape
        for du in range(lo, lo + size):
            for dv in range(lo, lo + size):
                uu, vv = u + du, v + dv
                inside = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
                uu, vv, zz, cc = uu[inside], vv[inside], z[inside], rgb[inside]
                nearer = zz < self.depth[vv, uu]
                uu, vv, zz, cc = uu[nearer], vv[nearer], zz[nearer], cc[nearer]
                order = np.argsort(-zz, kind="stable")  # far first: the nearest of a pixel is written last
                self.depth[vv[order], uu[order]] = zz[order]
                self.image[vv[order], uu[order]] = cc[order]

    def segments(self, start: np.ndarray, end: np.ndarray, rgb, width: int = 1) -> None:
        """3D line segments (M, 3) -> (M, 3), clipped at the camera plane, sampled about once per pixel."""
        start, end = np.atleast_2d(np.asarray(start, np.float64)), np.atleast_2d(np.asarray(end, np.float64))
        rgb = np.broadcast_to(np.asarray(rgb, np.uint8), (len(start), 3))
        near = 1e-3
        r, t = self._world_to_cam[:3, :3], self._world_to_cam[:3, 3]
        for a, b, colour in zip(start, end, rgb):
            za, zb = (r @ a + t)[2], (r @ b + t)[2]
            if za < near and zb < near:
                continue
            if za < near:  # move the endpoint behind the camera onto the near plane
                a, za = a + (b - a) * (near - za) / (zb - za), near
            elif zb < near:
                b, zb = b + (a - b) * (near - zb) / (za - zb), near
            u, v, _ = project(np.stack([a, b]), self.k, self.pose)
            n = int(min(np.ceil(np.hypot(u[1] - u[0], v[1] - v[0])), 20000)) + 1
            s = np.linspace(0.0, 1.0, n + 1)  # evenly in the image (steps <= 1 px) ...
            along = s * za / (s * za + (1 - s) * zb)  # ... mapped back onto the 3D segment (perspective-correct)
            self.points(a + along[:, None] * (b - a), colour, width)

    def text(self, xyz, label: str, rgb) -> None:
        """``label`` centred above the projection of ``xyz`` (view-facing, not depth tested, like RViz text)."""
        from PIL import Image, ImageDraw

        u, v, z = project(np.asarray([xyz], np.float64), self.k, self.pose)
        if not (z[0] > 1e-3 and np.isfinite(u[0]) and np.isfinite(v[0])):
            return
        pil = Image.fromarray(self.image)
        draw = ImageDraw.Draw(pil)
        left, top, right, bottom = draw.textbbox((0, 0), label)
        x, y = float(u[0]) - (right - left) / 2, float(v[0]) - (bottom - top)
        draw.text((x, y), label, fill=tuple(int(c) for c in rgb))
        self.image[:] = np.asarray(pil)


def grid_segments(cells: int = GRID_CELLS, cell_size: float = GRID_CELL_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of RViz's Grid display on the XY plane: ``cells`` x ``cells`` cells centred on the origin."""
    half = cells * cell_size / 2
    ticks = np.linspace(-half, half, cells + 1)
    zeros = np.zeros_like(ticks)
    start = np.concatenate([np.stack([ticks, -half + zeros, zeros], 1), np.stack([-half + zeros, ticks, zeros], 1)])
    end = np.concatenate([np.stack([ticks, half + zeros, zeros], 1), np.stack([half + zeros, ticks, zeros], 1)])
    return start, end


def render_rviz_view(
    scene_map: SceneMap,
    instances: Instances | None = None,
    pose: np.ndarray | None = None,
    width: int = 1280,
    height: int = 800,
    fov_y: float = 0.785398,
    grid: bool = True,
    axes: bool = True,
    labels: bool = True,
    box_line_px: int = 2,
) -> np.ndarray:
    """(height, width, 3) uint8 view of the map, boxes and labels of ``instances`` (default: from the map).

    ``pose``: camera-to-map (OpenCV camera), default ``views.perspective_pose`` of the map points;
    ``fov_y``: vertical field of view in radians (RViz's default camera, 45 degrees).
    """
    from samosaic3d_core.report.views import perspective_pose

    if pose is None:
        pose = perspective_pose(np.asarray(scene_map.xyz, np.float64)) if len(scene_map) else np.eye(4)
    f = (height / 2) / np.tan(fov_y / 2)
    canvas = Canvas(CameraIntrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width, height), pose)
    if grid:
        canvas.segments(*grid_segments(), GRID_RGB)
    if axes:
        canvas.segments(np.zeros((3, 3)), np.eye(3), AXES_RGB, width=3)
    canvas.points(scene_map.xyz, map_rgb(scene_map), POINT_SIZE_PX)
    if instances is None:
        instances = instances_from_map(scene_map)
    colours = id_colors(np.asarray(instances.ids, np.int64)) if len(instances) else np.zeros((0, 3), np.uint8)
    for k in range(len(instances)):
        corners = box_corners(instances.box_min[k], instances.box_max[k])
        canvas.segments(corners[BOX_EDGES[:, 0]], corners[BOX_EDGES[:, 1]], colours[k], width=box_line_px)
    if labels:
        for k in range(len(instances)):
            lo, hi = np.asarray(instances.box_min[k], np.float64), np.asarray(instances.box_max[k], np.float64)
            top = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2] + LABEL_OFFSET])
            canvas.text(top, f"{int(instances.ids[k])} ({float(instances.scores[k]):.2f})", colours[k])
    return canvas.image
