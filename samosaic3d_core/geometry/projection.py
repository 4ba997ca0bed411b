"""Depth back-projection and projection (OpenCV pinhole model)."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.types import CameraIntrinsics


def backproject(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    pose: np.ndarray | None = None,
    min_depth: float = 0.1,
    max_depth: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lift valid depth pixels to 3D.

    Args:
        depth: (H, W) float metres; 0, nan and inf are invalid.
        intrinsics: of ``depth``.
        pose: (4, 4) camera-to-world; None keeps camera coordinates.
        min_depth, max_depth: valid range in metres (inclusive).

    Returns:
        xyz: (N, 3) float32 points, pixel: (N,) int64 flat indices ``v * W + u``.
    """
    h, w = depth.shape
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise ValueError(f"intrinsics are for {intrinsics.width}x{intrinsics.height}, depth is {w}x{h}")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth) & (depth >= min_depth) & (depth <= max_depth)
    v, u = np.nonzero(valid)  # row-major: the order of the flat pixel index
    z = depth[v, u].astype(np.float64)
    cam = np.empty((len(z), 3))
    cam[:, 0] = (np.arange(w, dtype=np.float64) - intrinsics.cx)[u] * z / intrinsics.fx
    cam[:, 1] = (np.arange(h, dtype=np.float64) - intrinsics.cy)[v] * z / intrinsics.fy
    cam[:, 2] = z
    pixel = v * w + u
    if pose is not None:
        cam = cam @ pose[:3, :3].T + pose[:3, 3]
    return cam.astype(np.float32), pixel.astype(np.int64)


def project(
    xyz: np.ndarray, intrinsics: CameraIntrinsics, pose: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project world points into the camera.

    Returns (u, v) float64 pixel coordinates (N,) each, and z (N,) camera depth in metres.
    """
    world_to_cam = np.linalg.inv(pose)
    cam = np.asarray(xyz, np.float64) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intrinsics.fx * cam[:, 0] / z + intrinsics.cx
        v = intrinsics.fy * cam[:, 1] / z + intrinsics.cy
    return u, v, z
