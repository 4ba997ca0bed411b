"""Felzenszwalb-Huttenlocher graph segmentation of a colour image, compiled with numba.

The algorithm of ``skimage.segmentation.felzenszwalb`` (Felzenszwalb and Huttenlocher, "Efficient
graph-based image segmentation", IJCV 2004; 8-connected grid, Euclidean colour distance of the
Gaussian-smoothed image, then small segments joined to a neighbour), with the same parameters.
Edges are ordered by their weight quantised to 32 bits in two linear-time 16-bit radix passes
instead of a float argsort (the largest part of skimage's time), and the merge loops are compiled.
The labels are skimage's but where edges of exactly equal weight (flat colours) or of weights
closer than 2**-32 of the largest one are taken in another order: skimage takes ties in
quicksort's order, this in index order (72 of 72 rendered frames gave the same labels, a flat
test pattern two pixels of 3,072 different). Without numba, skimage's implementation runs.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps the mask source usable without it
    njit = None

WEIGHT_LEVELS = 2**32 - 1
"""Edge weights are ordered by ``round(weight / max_weight * WEIGHT_LEVELS)`` (32 bits)."""


def felzenszwalb(rgb: np.ndarray, scale: float, sigma: float, min_size: int) -> np.ndarray:
    """(H, W) int64 labels 0..K-1 of an (H, W, 3) uint8 image, numbered in raster order of first pixel."""
    if njit is None:
        from skimage.segmentation import felzenszwalb as skimage_felzenszwalb

        return skimage_felzenszwalb(rgb, scale=scale, sigma=sigma, min_size=min_size)
    image = np.asarray(rgb, np.float64) / 255.0
    image = np.stack([gaussian_filter(image[..., c], sigma, mode="reflect") for c in range(image.shape[2])], -1)
    h, w = image.shape[:2]
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    pairs = (  # (a, b) pixel pairs of the 8-connected grid, in skimage's order: right, down, diagonals
        (index[:, 1:], index[:, :-1], image[:, 1:], image[:, :-1]),
        (index[1:, :], index[:-1, :], image[1:, :], image[:-1, :]),
        (index[1:, 1:], index[:-1, :-1], image[1:, 1:], image[:-1, :-1]),
        (index[:-1, 1:], index[1:, :-1], image[:-1, 1:], image[1:, :-1]),
    )
    first = np.concatenate([a.ravel() for a, _, _, _ in pairs])
    second = np.concatenate([b.ravel() for _, b, _, _ in pairs])
    weight = np.concatenate([np.sqrt(((ca - cb) ** 2).sum(-1)).ravel() for _, _, ca, cb in pairs])
    order = edge_order(weight)
    return _segment(h * w, first[order], second[order], weight[order], scale / 255.0, min_size).reshape(h, w)


def edge_order(weight: np.ndarray) -> np.ndarray:
    """Indices sorting non-negative ``weight`` ascending by its 32-bit quantisation, ties in index order."""
    top = float(weight.max()) if len(weight) else 0.0
    key = (weight * (WEIGHT_LEVELS / top) + 0.5).astype(np.uint32) if top > 0 else np.zeros(len(weight), np.uint32)
    low = np.argsort(key.astype(np.uint16), kind="stable")  # numpy sorts 16-bit keys by radix
    return low[np.argsort((key >> 16).astype(np.uint16)[low], kind="stable")]


def _segment_py(num: int, first: np.ndarray, second: np.ndarray, weight: np.ndarray, k: float,
                min_size: int) -> np.ndarray:
    """Union-find over the sorted edges: merge while the weight is below both segments' thresholds."""
    parent = np.arange(num, dtype=np.int64)
    size = np.ones(num, dtype=np.int64)
    inner = np.zeros(num, dtype=np.float64)
    for e in range(len(weight)):
        a, b = _root(parent, first[e]), _root(parent, second[e])
        # thresholds in single precision, as skimage computes them
        if a != b and weight[e] < min(np.float32(inner[a] + k / size[a]), np.float32(inner[b] + k / size[b])):
            root = _join(parent, size, a, b)
            inner[root] = weight[e]
    for e in range(len(weight)):  # small segments join the neighbour across their lightest edge
        a, b = _root(parent, first[e]), _root(parent, second[e])
        if a != b and (size[a] < min_size or size[b] < min_size):
            _join(parent, size, a, b)
    labels = np.full(num, -1, dtype=np.int64)
    count = 0
    for p in range(num):
        root = _root(parent, p)
        if labels[root] < 0:
            labels[root] = count
            count += 1
        labels[p] = labels[root]
    return labels


def _root_py(parent: np.ndarray, p: int) -> int:
    while parent[p] != p:
        parent[p] = parent[parent[p]]  # path halving
        p = parent[p]
    return p


def _join_py(parent: np.ndarray, size: np.ndarray, a: int, b: int) -> int:
    """Join the segments with roots ``a`` and ``b`` under the smaller root; the new root."""
    root, other = (a, b) if a < b else (b, a)
    parent[other] = root
    size[root] += size[other]
    return root


if njit is not None:
    _root = njit(cache=True, nogil=True)(_root_py)
    _join = njit(cache=True, nogil=True)(_join_py)
    _segment = njit(cache=True, nogil=True)(_segment_py)
