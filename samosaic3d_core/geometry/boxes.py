"""Axis-aligned 3D boxes as (min, max) corner arrays."""

from __future__ import annotations

import numpy as np


def aabb(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(3,) min and max corners of a non-empty (N, 3) point set."""
    if len(xyz) == 0:
        raise ValueError("aabb of an empty point set")
    return xyz.min(axis=0), xyz.max(axis=0)


def box_volume(box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """(...,) volume; degenerate boxes give 0."""
    return np.prod(np.clip(box_max - box_min, 0.0, None), axis=-1)


def iou_3d(min_a: np.ndarray, max_a: np.ndarray, min_b: np.ndarray, max_b: np.ndarray) -> np.ndarray:
    """Pairwise 3D IoU of axis-aligned boxes.

    min_a, max_a: (A, 3); min_b, max_b: (B, 3). Returns (A, B) float64 in [0, 1];
    pairs whose union has zero volume give 0.
    """
    min_a, max_a = np.asarray(min_a, np.float64), np.asarray(max_a, np.float64)
    min_b, max_b = np.asarray(min_b, np.float64), np.asarray(max_b, np.float64)
    lo = np.maximum(min_a[:, None, :], min_b[None, :, :])
    hi = np.minimum(max_a[:, None, :], max_b[None, :, :])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
    union = box_volume(min_a, max_a)[:, None] + box_volume(min_b, max_b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def group_boxes(xyz: np.ndarray, group: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(G, 3) float64 min and max corner of the points of each group; a group without points gets
    +inf / -inf (infinitely far from everything in ``box_distance``).

    xyz: (N, 3) metres; group: (N,) int in 0..num_groups-1.
    """
    box_min = np.full((num_groups, 3), np.inf)
    box_max = np.full((num_groups, 3), -np.inf)
    np.minimum.at(box_min, group, xyz)
    np.maximum.at(box_max, group, xyz)
    return box_min, box_max


def box_distance(min_a: np.ndarray, max_a: np.ndarray, min_b: np.ndarray, max_b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean gap between boxes (0 when they touch or overlap), (A, B) metres."""
    min_a, max_a = np.asarray(min_a, np.float64), np.asarray(max_a, np.float64)
    min_b, max_b = np.asarray(min_b, np.float64), np.asarray(max_b, np.float64)
    gap = np.maximum(min_b[None] - max_a[:, None], min_a[:, None] - max_b[None])
    return np.linalg.norm(np.clip(gap, 0.0, None), axis=-1)
