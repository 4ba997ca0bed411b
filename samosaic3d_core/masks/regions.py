"""Label-image operations the weight-free mask sources share (adjacency, components, normals)."""

from __future__ import annotations

import math

import numpy as np
from skimage.measure import label as label_components

from samosaic3d_core.types import Frame

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; numpy's path keeps this usable without it
    njit = None


def adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    """(P, 2) distinct unordered pairs (a < b) of positive labels that touch 4-connectedly."""
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        keep = (a != b) & (a > 0) & (b > 0)
        pairs.append(np.stack([np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])], 1))
    pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def boundary(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a 4-neighbour of a different label."""
    out = np.zeros(labels.shape, bool)
    dx = labels[:, :-1] != labels[:, 1:]
    dy = labels[:-1, :] != labels[1:, :]
    out[:, :-1] |= dx
    out[:, 1:] |= dx
    out[:-1, :] |= dy
    out[1:, :] |= dy
    return out


def split_components(labels: np.ndarray, start: int = 1) -> np.ndarray:
    """Relabel so that every 4-connected component of each positive label gets its own id (from ``start``).

    Ids follow the label value, then the raster position of each component's first pixel.
    """
    labels = np.asarray(labels)
    # one pass over the image (pixels join only neighbours of the same value), instead of a
    # connected-component pass per label: 11 -> 5 ms for 90 labels at 640x480
    component = label_components(np.where(labels > 0, labels, 0), background=0, connectivity=1)
    count = int(component.max())
    if count == 0:
        return np.zeros(labels.shape, np.int64)
    flat = component.ravel()
    first = np.full(count + 1, flat.size, np.int64)
    np.minimum.at(first, flat, np.arange(flat.size))  # raster index of each component's first pixel
    value = np.zeros(count + 1, np.int64)
    value[flat] = labels.ravel()
    order = np.lexsort((first[1:], value[1:]))
    new_id = np.zeros(count + 1, np.int64)
    new_id[1 + order] = np.arange(start, start + count)
    return new_id[component]


def world_normals(frame: Frame) -> np.ndarray:
    """(H, W, 3) unit surface normals in the world frame from depth gradients (0 where undefined)."""
    k = frame.intrinsics
    camera = np.array([k.fx, k.fy, k.cx, k.cy], np.float32)
    depth = np.ascontiguousarray(frame.depth, np.float32)
    n = _camera_normals(depth, camera) if _camera_normals is not None else _camera_normals_numpy(depth, camera)
    return n @ frame.pose[:3, :3].T.astype(np.float32)


def _camera_normals_numpy(depth: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 unit normals in the camera frame: the cross product of the depth image's
    point gradients along u and v (central differences, one-sided at the border)."""
    fx, fy, cx, cy = (float(c) for c in camera)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    pts = np.stack([(u - cx) / fx * depth, (v - cy) / fy * depth, depth], -1)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(norm > 1e-12, n / norm, 0.0)
    return np.nan_to_num(n).astype(np.float32)


def _camera_normals_py(depth, camera):
    """The numpy function's float32 arithmetic, one pixel at a time (compiled with numba)."""
    h, w = depth.shape
    fx, fy, cx, cy = camera[0], camera[1], camera[2], camera[3]
    pts = np.empty((h, w, 3), np.float32)
    for v in range(h):
        for u in range(w):
            d = depth[v, u]
            if not (math.isfinite(d) and d > 0):
                d = np.float32(np.nan)
            pts[v, u, 0] = (np.float32(u) - cx) / fx * d
            pts[v, u, 1] = (np.float32(v) - cy) / fy * d
            pts[v, u, 2] = d
    out = np.zeros((h, w, 3), np.float32)
    half = np.float32(0.5)
    for v in range(h):
        v0, v1 = max(v - 1, 0), min(v + 1, h - 1)
        for u in range(w):
            u0, u1 = max(u - 1, 0), min(u + 1, w - 1)
            a0 = pts[v, u1, 0] - pts[v, u0, 0]
            a1 = pts[v, u1, 1] - pts[v, u0, 1]
            a2 = pts[v, u1, 2] - pts[v, u0, 2]
            b0 = pts[v1, u, 0] - pts[v0, u, 0]
            b1 = pts[v1, u, 1] - pts[v0, u, 1]
            b2 = pts[v1, u, 2] - pts[v0, u, 2]
            if u1 - u0 == 2:  # central difference (one-sided at the border)
                a0, a1, a2 = a0 * half, a1 * half, a2 * half
            if v1 - v0 == 2:
                b0, b1, b2 = b0 * half, b1 * half, b2 * half
            n0 = a1 * b2 - a2 * b1
            n1 = a2 * b0 - a0 * b2
            n2 = a0 * b1 - a1 * b0
            norm = np.float32(math.sqrt(n0 * n0 + n1 * n1 + n2 * n2))
            if norm > np.float32(1e-12):
                n0, n1, n2 = n0 / norm, n1 / norm, n2 / norm
                out[v, u, 0] = n0 if math.isfinite(n0) else 0
                out[v, u, 1] = n1 if math.isfinite(n1) else 0
                out[v, u, 2] = n2 if math.isfinite(n2) else 0
    return out


_camera_normals = njit(cache=True, nogil=True)(_camera_normals_py) if njit is not None else None


def surface_classes(frame: Frame, bins: int = 8) -> np.ndarray:
    """(H, W) int class of the surface orientation: 1 up, 2 down, 3.. vertical by azimuth bin, 0 unknown."""
    n = world_normals(frame)
    cls = np.zeros(n.shape[:2], np.int64)
    defined = np.linalg.norm(n, axis=-1) > 0.5
    up = defined & (n[..., 2] > 0.8)
    down = defined & (n[..., 2] < -0.8)
    side = defined & ~up & ~down
    azimuth = np.arctan2(n[..., 1], n[..., 0])
    sector = np.floor((azimuth + np.pi) / (2 * np.pi) * bins).astype(np.int64) % bins
    cls[up], cls[down] = 1, 2
    cls[side] = 3 + sector[side]
    return cls
