"""Label-image operations the weight-free mask sources share (adjacency, components, normals)."""

from __future__ import annotations

import numpy as np
from skimage.measure import label as label_components

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
