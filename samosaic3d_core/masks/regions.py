"""Label-image operations the weight-free mask sources share (adjacency, components, normals)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from samosaic3d_core.types import Frame


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
    """Relabel so that every 4-connected component of each positive label gets its own id (from ``start``)."""
    out = np.zeros(labels.shape, np.int64)
    next_id = start
    objects = ndimage.find_objects(np.where(labels > 0, labels, 0).astype(np.int64))
    for value, window in enumerate(objects, start=1):
        if window is None:
            continue
        comp, num = ndimage.label(labels[window] == value)
        if num == 0:
            continue
        region = out[window]
        region[comp > 0] = comp[comp > 0] + next_id - 1
        next_id += num
    return out


def world_normals(frame: Frame) -> np.ndarray:
    """(H, W, 3) unit surface normals in the world frame from depth gradients (0 where undefined)."""
    k = frame.intrinsics
    depth = np.where(np.isfinite(frame.depth) & (frame.depth > 0), frame.depth, np.nan).astype(np.float32)
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    pts = np.stack([(u - k.cx) / k.fx * depth, (v - k.cy) / k.fy * depth, depth], -1)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(norm > 1e-12, n / norm, 0.0)
    n = np.nan_to_num(n)
    return n @ frame.pose[:3, :3].T.astype(np.float32)


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
