"""A depth image's points, one per occupied voxel, in one compiled pass over the pixels.

``depth_voxel_points`` gives what ``backproject`` followed by ``voxel_downsample`` (and a sort back
into pixel order) gives: the first valid pixel in raster order of every occupied voxel, lifted to
world coordinates. The compiled pass never builds the full image's points (307,200 at 640x480,
about six times the voxels it keeps): each pixel is lifted, its voxel key packed and looked up in an
open-addressing table, and only a voxel's first pixel is written out. The arithmetic is numpy's
(float64 lifting, float32 points, keys from the float32 points), so the pixels and voxels are the
same; a coordinate within about 1e-4 m of zero may differ in its last float32 bits (about 1e-12 m,
the float64 sum of the rotation taken in another order; 2 of 44,000 points of a 640x480 frame).
Without numba the numpy functions run.
"""

from __future__ import annotations

import math

import numpy as np

from samosaic3d_core.geometry.projection import backproject
from samosaic3d_core.geometry.voxel import KEY_BITS, KEY_MAX, KEY_MIN, voxel_downsample
from samosaic3d_core.types import CameraIntrinsics

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; the numpy path keeps this usable without it
    njit = None

_EMPTY = -1
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)  # as a signed int64, for numba's integer arithmetic


def depth_voxel_points(
    depth: np.ndarray,
    intrinsics: CameraIntrinsics,
    pose: np.ndarray | None,
    min_depth: float,
    max_depth: float,
    voxel_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float32 world points and (V,) int64 flat pixel indices, ascending: per occupied voxel
    of ``voxel_size`` metres, its first valid pixel (see ``backproject`` for validity and pose)."""
    h, w = depth.shape
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise ValueError(f"intrinsics are for {intrinsics.width}x{intrinsics.height}, depth is {w}x{h}")
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0, got {voxel_size}")
    if njit is not None:
        rotation = np.eye(3) if pose is None else np.asarray(pose, np.float64)[:3, :3]
        translation = np.zeros(3) if pose is None else np.asarray(pose, np.float64)[:3, 3]
        table = np.full(1 << max(int(2 * h * w - 1).bit_length(), 4), _EMPTY, np.int64)  # the keys seen
        xyz, pixel = np.empty((h * w, 3), np.float32), np.empty(h * w, np.int64)
        camera = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy], np.float64)
        count = _first_points(np.ascontiguousarray(depth), camera, np.ascontiguousarray(rotation),
                              np.ascontiguousarray(translation), float(min_depth), float(max_depth),
                              float(voxel_size), table, xyz, pixel)
        if count >= 0:
            return xyz[:count].copy(), pixel[:count].copy()
        # a voxel coordinate beyond what a packed key holds: numpy's path (row-wise keys)
    xyz, pixel = backproject(depth, intrinsics, pose, min_depth, max_depth)
    keep = np.sort(voxel_downsample(xyz, voxel_size))
    return xyz[keep], pixel[keep]


def _first_points_py(depth, camera, rotation, translation, min_depth, max_depth, voxel_size, table, xyz, pixel):
    """Fill ``xyz`` / ``pixel`` with each voxel's first pixel; their count, or -1 if a key does not pack.

    ``table``: a power-of-two number of slots, all ``_EMPTY``, more than the pixels; it receives
    the packed keys seen (open addressing, linear probing, multiplicative hashing).
    """
    h, w = depth.shape
    fx, fy, cx, cy = camera[0], camera[1], camera[2], camera[3]
    mask = len(table) - 1
    shift = 64  # the hash is the product's top log2(len(table)) bits
    while (1 << (64 - shift)) < len(table):
        shift -= 1
    count = 0
    for v in range(h):
        previous = -1
        for u in range(w):
            d = depth[v, u]
            if not (math.isfinite(d) and d >= min_depth and d <= max_depth):
                continue
            z = np.float64(d)
            cam0 = (np.float64(u) - cx) * z / fx
            cam1 = (np.float64(v) - cy) * z / fy
            x = np.float32(cam0 * rotation[0, 0] + cam1 * rotation[0, 1] + z * rotation[0, 2] + translation[0])
            y = np.float32(cam0 * rotation[1, 0] + cam1 * rotation[1, 1] + z * rotation[1, 2] + translation[1])
            zz = np.float32(cam0 * rotation[2, 0] + cam1 * rotation[2, 1] + z * rotation[2, 2] + translation[2])
            kx = math.floor(np.float64(x) / voxel_size)
            ky = math.floor(np.float64(y) / voxel_size)
            kz = math.floor(np.float64(zz) / voxel_size)
            if min(kx, ky, kz) < KEY_MIN or max(kx, ky, kz) > KEY_MAX:
                return -1
            key = ((np.int64(kx) - KEY_MIN) << (2 * KEY_BITS)) | ((np.int64(ky) - KEY_MIN) << KEY_BITS) | (np.int64(kz) - KEY_MIN)
            if key == previous:  # neighbouring pixels mostly share a voxel
                continue
            previous = key
            slot = ((key * _GOLDEN) >> shift) & mask
            while table[slot] != _EMPTY and table[slot] != key:
                slot = (slot + 1) & mask
            if table[slot] == key:
                continue
            table[slot] = key
            xyz[count, 0], xyz[count, 1], xyz[count, 2] = x, y, zz
            pixel[count] = v * w + u
            count += 1
    return count


_first_points = njit(cache=True, nogil=True)(_first_points_py) if njit is not None else None
