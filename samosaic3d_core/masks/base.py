"""The mask-source protocol and helpers shared by the sources.

A mask source is any callable ``frame -> MaskResult``: (K, H, W) bool masks that may overlap,
(K,) scores in [0, 1], and an (H, W) fragment map giving each pixel at most one mask.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from samosaic3d_core.types import Frame, MaskResult


class MaskSource(Protocol):
    def __call__(self, frame: Frame) -> MaskResult:
        """2D fragments of ``frame``."""


def empty_result(shape: tuple[int, int]) -> MaskResult:
    """No masks for an image of ``shape``."""
    return MaskResult(
        masks=np.zeros((0, *shape), bool),
        scores=np.zeros(0, np.float32),
        fragment_map=np.full(shape, -1, np.int32),
    )


def fragment_map_from_masks(masks: np.ndarray) -> np.ndarray:
    """Resolve overlapping (K, H, W) masks into one (H, W) index map, -1 = none.

    Larger masks are painted first, so where masks overlap the smaller one wins (a part drawn on
    top of the whole it belongs to), as SAM-based 3D pipelines resolve overlaps.
    """
    num, height, width = masks.shape
    out = np.full((height, width), -1, np.int32)
    if num == 0:
        return out
    order = np.argsort(-masks.reshape(num, -1).sum(axis=1), kind="stable")
    for k in order.tolist():
        out[masks[k]] = k
    return out


def label_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels >= 1 present in a label image, ascending, and their pixel counts.

    ``np.unique`` without the sort: a count per value up to the largest label (label images hold
    small ids: connected pieces, mask indices)."""
    flat = np.asarray(labels).ravel()
    if flat.size == 0 or flat.max() < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.bincount(np.clip(flat, 0, None))
    counts[0] = 0
    ids = np.flatnonzero(counts)
    return ids, counts[ids]


def result_from_labels(labels: np.ndarray, scores: dict[int, float] | float = 1.0, min_area: int = 1) -> MaskResult:
    """Non-overlapping masks from an (H, W) label image (labels < 1 are background).

    Regions smaller than ``min_area`` pixels are dropped. ``scores`` maps label -> score or is one
    score for all. Masks are ordered by label.
    """
    labels = np.asarray(labels)
    shape = labels.shape
    ids, counts = label_counts(labels)
    ids = ids[counts >= min_area]
    if len(ids) == 0:
        return empty_result(shape)
    index = np.full(int(labels.max()) + 1, -1, np.int32)
    index[ids] = np.arange(len(ids), dtype=np.int32)
    fragment_map = np.where(labels > 0, index[np.clip(labels, 0, None)], -1).astype(np.int32)
    if isinstance(scores, dict):
        score_array = np.array([scores.get(int(i), 1.0) for i in ids], np.float32)
    else:
        score_array = np.full(len(ids), float(scores), np.float32)
    return MaskResult(masks=None, scores=score_array, fragment_map=fragment_map)  # masks built on use


def depth_edges(depth: np.ndarray, jump: float) -> np.ndarray:
    """(H, W) bool: pixels whose 4-neighbour depth differs by more than ``jump`` x its depth, or invalid depth."""
    depth = np.asarray(depth, np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    d = np.where(valid, depth, 0.0)
    edges = ~valid
    for axis in (0, 1):
        diff = np.abs(np.diff(d, axis=axis))
        ref = np.minimum(
            np.delete(d, -1, axis=axis), np.delete(d, 0, axis=axis)
        )
        big = diff > jump * np.maximum(ref, 1e-6)
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        edges |= np.pad(big, pad)
        pad[axis] = (1, 0)
        edges |= np.pad(big, pad)
    return edges
