"""Render labelled point sets to images without a GPU (z-buffered point splats)."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.geometry import project
from samosaic3d_core.types import CameraIntrinsics


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world pose (OpenCV camera: z forward, y down) at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:  # looking straight along up: pick any x
        x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, y, z, eye
    return pose


def splat(
    xyz: np.ndarray, rgb: np.ndarray, intrinsics: CameraIntrinsics, pose: np.ndarray, radius: int = 1,
    background=(255, 255, 255),
) -> np.ndarray:
    """(H, W, 3) uint8 image of coloured points seen from ``pose``; nearest point wins."""
    h, w = intrinsics.height, intrinsics.width
    image = np.empty((h, w, 3), np.uint8)
    image[:] = background
    u, v, z = project(xyz, intrinsics, pose)
    ok = (z > 1e-3) & np.isfinite(u) & np.isfinite(v)
    u, v, z, rgb = np.round(u[ok]).astype(np.int64), np.round(v[ok]).astype(np.int64), z[ok], rgb[ok]
    order = np.argsort(-z)  # far first, near points overwrite them
    u, v, rgb = u[order], v[order], rgb[order]
    for du in range(-radius, radius + 1):
        for dv in range(-radius, radius + 1):
            uu, vv = u + du, v + dv
            inside = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
            image[vv[inside], uu[inside]] = rgb[inside]
    return image


def top_down(xyz: np.ndarray, rgb: np.ndarray, size: int = 512, margin: float = 0.1, radius: int = 0) -> np.ndarray:
    """Orthographic view from above (+z up), highest point wins; (size, size, 3) uint8.

    radius: each point also covers the pixels up to this many away (fills the gaps between
    voxel-spaced points when a voxel spans more than a pixel)."""
    image = np.full((size, size, 3), 255, np.uint8)
    if len(xyz) == 0:
        return image
    lo, hi = xyz[:, :2].min(0) - margin, xyz[:, :2].max(0) + margin
    scale = (size - 1) / float(max(hi - lo))
    col = np.round((xyz[:, 0] - lo[0]) * scale).astype(np.int64)
    row = np.round((hi[1] - xyz[:, 1]) * scale).astype(np.int64)
    offsets = [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)]
    rows = np.concatenate([np.clip(row + dr, 0, size - 1) for dr, _ in offsets])
    cols = np.concatenate([np.clip(col + dc, 0, size - 1) for _, dc in offsets])
    order = np.argsort(np.tile(xyz[:, 2], len(offsets)), kind="stable")  # low first, high overwrite
    image[rows[order], cols[order]] = np.tile(rgb, (len(offsets), 1))[order]
    return image


def perspective_pose(xyz: np.ndarray) -> np.ndarray:
    """A view from a high corner of the scene's bounding box toward its centre."""
    lo, hi = xyz.min(0), xyz.max(0)
    centre = (lo + hi) / 2
    eye = np.array([lo[0] - 0.3 * (hi[0] - lo[0]), lo[1] - 0.3 * (hi[1] - lo[1]), hi[2] + 1.5])
    return look_at(eye, centre)
