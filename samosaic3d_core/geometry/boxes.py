"""Axis-aligned 3D boxes, numpy or torch, in one layout.

A box is a (..., 6) array or tensor ``(x_min, y_min, z_min, x_max, y_max, z_max)`` in metres:
``boxes[..., :3]`` is the min corner, ``boxes[..., 3:]`` the max corner. Every function takes
numpy arrays (computing in float64, as the heuristic association always has) or torch tensors
(keeping their dtype and device, differentiable; used by the learned models) and returns the
same kind. Pairwise functions take (A, 6) and (B, 6) boxes and return (A, B).
"""

from __future__ import annotations

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _as_array(boxes) -> Array:
    return boxes if _is_torch(boxes) else np.asarray(boxes, np.float64)


def _clip_min0(x: Array) -> Array:
    return x.clamp(min=0) if _is_torch(x) else np.clip(x, 0.0, None)


def _prod3(x: Array) -> Array:
    return x.prod(dim=-1) if _is_torch(x) else np.prod(x, axis=-1)


def _maximum(a: Array, b: Array) -> Array:
    return torch.maximum(a, b) if _is_torch(a) else np.maximum(a, b)


def _minimum(a: Array, b: Array) -> Array:
    return torch.minimum(a, b) if _is_torch(a) else np.minimum(a, b)


def _norm(x: Array) -> Array:
    """Euclidean norm over the last axis; on tensors with a gradient that stays finite at 0 (the
    square root is floored at 1e-6, so a norm below 1 micrometre reads as 1e-6)."""
    if _is_torch(x):
        return x.square().sum(dim=-1).clamp(min=1e-12).sqrt()
    return np.linalg.norm(x, axis=-1)


def boxes_from_corners(box_min: Array, box_max: Array) -> Array:
    """(..., 3) min and max corners -> (..., 6) boxes."""
    if _is_torch(box_min):
        return torch.cat([box_min, box_max], dim=-1)
    return np.concatenate([box_min, box_max], axis=-1)


BOX_EDGES = np.array([(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)])
"""The 12 edges of a box as pairs of ``box_corners`` indices (the order of a LINE_LIST marker)."""
_CORNER_BITS = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(bool)  # (8, 3): bit a of corner i


def box_corners(box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """(..., 8, 3) float64 corners of (..., 3) min and max corners; corner i takes the max on axis a
    iff bit a of i is set."""
    lo, hi = np.asarray(box_min, np.float64), np.asarray(box_max, np.float64)
    return np.where(_CORNER_BITS, hi[..., None, :], lo[..., None, :])


def points_box(xyz: np.ndarray) -> np.ndarray:
    """(6,) box of a non-empty (N, 3) point set."""
    if len(xyz) == 0:
        raise ValueError("the box of an empty point set is undefined; select at least one point")
    return np.concatenate([xyz.min(axis=0), xyz.max(axis=0)])


def group_boxes(xyz: Array, group: Array, num_groups: int) -> Array:
    """(G, 6) box of the points of each group; a group without points gets min +inf, max -inf
    (no volume, and infinitely far from everything in ``box_gap``).

    xyz: (N, 3) metres; group: (N,) int in 0..num_groups-1. numpy: float64; torch: xyz's dtype.
    """
    if _is_torch(xyz):
        index = group[:, None].expand_as(xyz)
        box_min = torch.full((num_groups, 3), float("inf"), dtype=xyz.dtype, device=xyz.device)
        box_max = torch.full((num_groups, 3), -float("inf"), dtype=xyz.dtype, device=xyz.device)
        return torch.cat([box_min.scatter_reduce(0, index, xyz, "amin"), box_max.scatter_reduce(0, index, xyz, "amax")], 1)
    boxes = np.empty((6, num_groups))  # rows: min x, y, z, max x, y, z
    boxes[:3], boxes[3:] = np.inf, -np.inf
    xyz = np.asarray(xyz, np.float64)
    for axis in range(3):  # one 1-D ufunc.at per axis: numpy's fast path, 10x the (N, 3) one
        column = np.ascontiguousarray(xyz[:, axis])
        np.minimum.at(boxes[axis], group, column)
        np.maximum.at(boxes[3 + axis], group, column)
    return boxes.T.copy()


def box_volume(boxes: Array) -> Array:
    """(...,) volume in m^3; boxes with max < min on an axis give 0."""
    boxes = _as_array(boxes)
    return _prod3(_clip_min0(boxes[..., 3:] - boxes[..., :3]))


def box_iou(a: Array, b: Array) -> Array:
    """(A, B) pairwise 3D IoU in [0, 1]; pairs whose union has no volume give 0."""
    a, b = _as_array(a), _as_array(b)
    lo = _maximum(a[:, None, :3], b[None, :, :3])
    hi = _minimum(a[:, None, 3:], b[None, :, 3:])
    inter = _prod3(_clip_min0(hi - lo))  # (A, B)
    union = box_volume(a)[:, None] + box_volume(b)[None, :] - inter
    if _is_torch(union):
        return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def box_axis_gaps(a: Array, b: Array) -> Array:
    """(A, B, 3) gap between each pair of boxes along x, y, z in metres (0 where they overlap)."""
    a, b = _as_array(a), _as_array(b)
    return _clip_min0(_maximum(b[None, :, :3] - a[:, None, 3:], a[:, None, :3] - b[None, :, 3:]))


def box_gap(a: Array, b: Array) -> Array:
    """(A, B) Euclidean gap between boxes in metres (0 when they touch or overlap).

    On tensors the result is differentiable everywhere (a positive gap below 1 micrometre reads as 1e-6).
    """
    gaps = box_axis_gaps(a, b)
    if _is_torch(gaps):
        return _norm(gaps) * (gaps.amax(dim=-1) > 0)
    return _norm(gaps)


def box_centre_distance(a: Array, b: Array) -> Array:
    """(A, B) distance between the box centres in metres (tensors: floored at 1e-6, see ``_norm``)."""
    a, b = _as_array(a), _as_array(b)
    centre_a = (a[:, None, :3] + a[:, None, 3:]) / 2
    centre_b = (b[None, :, :3] + b[None, :, 3:]) / 2
    return _norm(centre_a - centre_b)
