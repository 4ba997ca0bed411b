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
    weight = _edge_weights(np.ascontiguousarray(image))
    return _segment(h, w, edge_order(weight), weight, scale / 255.0, min_size).reshape(h, w)


def edge_order(weight: np.ndarray) -> np.ndarray:
    """Indices sorting non-negative ``weight`` ascending by its 32-bit quantisation, ties in index order."""
    top = float(weight.max()) if len(weight) else 0.0
    key = (weight * (WEIGHT_LEVELS / top) + 0.5).astype(np.uint32) if top > 0 else np.zeros(len(weight), np.uint32)
    low = np.argsort(key.astype(np.uint16), kind="stable")  # numpy sorts 16-bit keys by radix
    return low[np.argsort((key >> 16).astype(np.uint16)[low], kind="stable")]


def _edge_weights_py(image: np.ndarray) -> np.ndarray:
    """Colour distance of the 8-connected grid's edges, in skimage's order (see ``_edge_ends``)."""
    h, w, _ = image.shape
    weight = np.empty(h * (w - 1) + (h - 1) * w + 2 * (h - 1) * (w - 1))
    e = 0
    for y in range(h):
        for x in range(w - 1):
            weight[e] = _distance(image, y, x + 1, y, x)
            e += 1
    for y in range(h - 1):
        for x in range(w):
            weight[e] = _distance(image, y + 1, x, y, x)
            e += 1
    for y in range(h - 1):
        for x in range(w - 1):
            weight[e] = _distance(image, y + 1, x + 1, y, x)
            e += 1
    for y in range(h - 1):
        for x in range(w - 1):
            weight[e] = _distance(image, y, x + 1, y + 1, x)
            e += 1
    return weight


def _distance_py(image: np.ndarray, ya: int, xa: int, yb: int, xb: int) -> float:
    total = 0.0
    for c in range(image.shape[2]):
        d = image[ya, xa, c] - image[yb, xb, c]
        total += d * d
    return np.sqrt(total)


def _edge_ends_py(e: int, h: int, w: int) -> tuple[int, int]:
    """The two pixels (flat indices) of edge ``e``: edges to the right, down, down-right, up-right."""
    right, down, diagonal = h * (w - 1), (h - 1) * w, (h - 1) * (w - 1)
    if e < right:
        y, x = e // (w - 1), e % (w - 1)
        return y * w + x + 1, y * w + x
    e -= right
    if e < down:
        y, x = e // w, e % w
        return (y + 1) * w + x, y * w + x
    e -= down
    up = e >= diagonal
    y, x = (e - diagonal * up) // (w - 1), (e - diagonal * up) % (w - 1)
    if up:
        return y * w + x + 1, (y + 1) * w + x
    return (y + 1) * w + x + 1, y * w + x


def _segment_py(h: int, w: int, order: np.ndarray, weight: np.ndarray, k: float, min_size: int) -> np.ndarray:
    """Union-find over the edges in ``order``: merge while the weight is below both segments' thresholds."""
    num = h * w
    parent = np.arange(num, dtype=np.int64)
    size = np.ones(num, dtype=np.int64)
    inner = np.zeros(num, dtype=np.float64)
    for e in order:
        first, second = _edge_ends(e, h, w)
        a, b = _root(parent, first), _root(parent, second)
        # thresholds in single precision, as skimage computes them
        if a != b and weight[e] < min(np.float32(inner[a] + k / size[a]), np.float32(inner[b] + k / size[b])):
            root = _join(parent, size, a, b)
            inner[root] = weight[e]
    for e in order:  # small segments join the neighbour across their lightest edge
        first, second = _edge_ends(e, h, w)
        a, b = _root(parent, first), _root(parent, second)
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
    _distance = njit(cache=True, nogil=True)(_distance_py)
    _edge_weights = njit(cache=True, nogil=True)(_edge_weights_py)
    _edge_ends = njit(cache=True, nogil=True)(_edge_ends_py)
    _root = njit(cache=True, nogil=True)(_root_py)
    _join = njit(cache=True, nogil=True)(_join_py)
    _segment = njit(cache=True, nogil=True)(_segment_py)
