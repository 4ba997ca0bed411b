"""Voxel grids and seeded point sampling."""

from __future__ import annotations

import numpy as np


def voxel_keys(xyz: np.ndarray, voxel_size: float) -> np.ndarray:
    """(N, 3) int64 integer voxel coordinates ``floor(xyz / voxel_size)``."""
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0, got {voxel_size}")
    return np.floor(np.asarray(xyz, np.float64) / voxel_size).astype(np.int64)


def voxelize(xyz: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group points by voxel.

    Returns:
        keep:    (V,) int64 index of the first point (in input order) of each occupied voxel
        inverse: (N,) int64 voxel index of every input point
        coords:  (V, 3) int64 voxel coordinates, sorted lexicographically
    """
    keys = voxel_keys(xyz, voxel_size)
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64)
    if not packable(keys):  # too far from the origin to pack: slower row-wise unique
        coords, keep, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        return keep.astype(np.int64), inverse.reshape(-1).astype(np.int64), coords
    _, keep, inverse = np.unique(pack_voxel_keys(keys), return_index=True, return_inverse=True)
    return keep.astype(np.int64), inverse.reshape(-1).astype(np.int64), keys[keep]


KEY_BITS = 21
"""Bits per axis of a packed voxel key (three axes in one int64)."""
KEY_MIN = -(1 << (KEY_BITS - 1))
"""Smallest voxel coordinate a key can hold, per axis (at 2 cm voxels: -20.97 km)."""
KEY_MAX = (1 << (KEY_BITS - 1)) - 1
"""Largest voxel coordinate a key can hold, per axis."""
_AXIS_MASK = (1 << KEY_BITS) - 1


def packable(coords: np.ndarray) -> bool:
    """Whether every (N, 3) voxel coordinate lies in [KEY_MIN, KEY_MAX] (an empty set does)."""
    coords = np.asarray(coords, np.int64)
    return coords.size == 0 or bool(coords.min() >= KEY_MIN and coords.max() <= KEY_MAX)


def pack_voxel_keys(coords: np.ndarray, what: str = "points") -> np.ndarray:
    """(N, 3) int64 voxel coordinates -> (N,) int64 keys that sort like the rows (lexicographically).

    Each axis is offset by ``-KEY_MIN`` into 21 bits: x in bits 42..62, y in 21..41, z in 0..20.
    The keys are stored in map state files, so this layout is fixed. Raises ValueError (naming
    ``what``) when a coordinate lies outside [KEY_MIN, KEY_MAX].
    """
    coords = np.asarray(coords, np.int64).reshape(-1, 3)
    if not packable(coords):
        raise ValueError(
            f"{what}: voxel coordinates {coords.min()}..{coords.max()} lie beyond [{KEY_MIN}, {KEY_MAX}] voxels "
            "from the origin and cannot be packed; check the pose units (metres) or use a larger voxel size"
        )
    shifted = coords - KEY_MIN
    return (shifted[:, 0] << (2 * KEY_BITS)) | (shifted[:, 1] << KEY_BITS) | shifted[:, 2]


def unpack_voxel_keys(keys: np.ndarray) -> np.ndarray:
    """(N,) int64 keys of ``pack_voxel_keys`` -> (N, 3) int64 voxel coordinates."""
    keys = np.asarray(keys, np.int64).reshape(-1)
    shifted = np.stack([keys >> (2 * KEY_BITS), (keys >> KEY_BITS) & _AXIS_MASK, keys & _AXIS_MASK], axis=1)
    return shifted + KEY_MIN


def voxel_downsample(xyz: np.ndarray, voxel_size: float) -> np.ndarray:
    """Indices of one representative point (the first) per occupied voxel, in the order of ``voxelize``.

    Points of a depth image arrive in pixel order, and neighbouring pixels mostly share a voxel:
    only the first point of each run of equal keys can be a voxel's first point, so the sort
    runs over the runs (about a sixth of the points of a 640x480 frame at 2 cm) with the same result.
    """
    keys = voxel_keys(xyz, voxel_size)
    if len(keys) == 0 or not packable(keys):
        return voxelize(xyz, voxel_size)[0]
    packed = pack_voxel_keys(keys)
    starts = np.flatnonzero(np.concatenate([[True], packed[1:] != packed[:-1]]))
    _, first = np.unique(packed[starts], return_index=True)
    return starts[first].astype(np.int64)


def sample_indices(n: int, budget: int, seed: int = 0) -> np.ndarray:
    """At most ``budget`` sorted indices out of ``range(n)``, uniformly without replacement.

    Deterministic for a given (n, budget, seed).
    """
    if budget <= 0 or n <= budget:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=budget, replace=False)).astype(np.int64)


_HASH_AXES = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], np.uint64)


def key_hash(keys: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N,) uint64 seeded hash of (N, 3) or (N,) integer keys (SplitMix64's finaliser over a mix of the axes)."""
    keys = np.asarray(keys, np.int64)
    keys = keys.reshape(len(keys), -1).view(np.uint64)
    with np.errstate(over="ignore"):
        x = (keys * _HASH_AXES[: keys.shape[1]]).sum(axis=1, dtype=np.uint64)
        x = x + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0xD6E8FEB86659FD93)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def hash_sample(keys: np.ndarray, budget: int, seed: int = 0) -> np.ndarray:
    """At most ``budget`` sorted row indices of ``keys``: the rows whose seeded ``key_hash`` is smallest.

    A uniform sample like ``sample_indices``, but whether a row is kept depends on its own key and
    on the others only through the cut-off: a few points more or less change a few choices instead
    of the whole draw.
    """
    n = len(keys)
    if budget <= 0 or n <= budget:
        return np.arange(n, dtype=np.int64)
    h = key_hash(keys, seed)
    return np.sort(np.argpartition(h, budget - 1)[:budget]).astype(np.int64)


def majority_vote(group: np.ndarray, label: np.ndarray, num_groups: int) -> np.ndarray:
    """Most frequent ``label`` per group (ties -> smallest label).

    group: (N,) int in [0, num_groups); label: (N,) non-negative int.
    Returns (num_groups,) int64; groups with no member get 0.
    """
    group = np.asarray(group, np.int64)
    label = np.asarray(label, np.int64)
    out = np.zeros(num_groups, np.int64)
    if len(group) == 0:
        return out
    pairs, counts = np.unique(np.stack([group, label], 1), axis=0, return_counts=True)
    # sort by group, then count descending, then label ascending; take the first per group
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    pairs = pairs[order]
    first = np.ones(len(pairs), bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    out[pairs[first, 0]] = pairs[first, 1]
    return out


NEIGHBOUR_OFFSETS = np.array(
    [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) != (0, 0, 0)], np.int64
)
"""The 26 voxels around a voxel: every voxel centre within 1.8 voxels (sqrt(3) = 1.73 < 1.8 < 2)."""


class VoxelIndex:
    """Rows of a set of occupied voxels by coordinate, for neighbourhood look-ups (sorted packed keys).

    ``keys``: (V,) packed keys (``pack_voxel_keys``) of rows 0..V-1, distinct.
    """

    def __init__(self, keys: np.ndarray):
        keys = np.asarray(keys, np.int64).reshape(-1)
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """(Q,) packed keys -> (Q,) int64 rows, -1 where the voxel is not in the set."""
        keys = np.asarray(keys, np.int64)
        if len(self._sorted) == 0:
            return np.full(keys.shape, -1, np.int64)
        slot = np.minimum(np.searchsorted(self._sorted, keys), len(self._sorted) - 1)
        return np.where(self._sorted[slot] == keys, self._order[slot], -1)

    def neighbours(self, coords: np.ndarray, what: str = "voxels",
                   offsets: np.ndarray = NEIGHBOUR_OFFSETS) -> np.ndarray:
        """(Q, 3) voxel coordinates -> (Q, K) rows of their neighbours at the (K, 3) ``offsets`` (by default
        ``NEIGHBOUR_OFFSETS``, K = 26), -1 = empty."""
        coords = np.asarray(coords, np.int64).reshape(-1, 3)
        out = np.full((len(coords), len(offsets)), -1, np.int64)
        for k, offset in enumerate(np.asarray(offsets, np.int64)):
            out[:, k] = self.rows(pack_voxel_keys(coords + offset, what))
        return out


def neighbourhood_mode(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Most frequent label per row of (Q, M) non-negative ``labels`` (-1 = no neighbour there).

    Returns (Q,) int64 the label (ties -> smallest; -1 for a row without any) and (Q,) int64 its count.
    """
    labels = np.asarray(labels, np.int64)
    rows = np.sort(labels, axis=1)
    best = np.full(len(rows), -1, np.int64)
    best_count = np.zeros(len(rows), np.int64)
    run = np.zeros(len(rows), np.int64)
    for j in range(rows.shape[1]):
        present = rows[:, j] >= 0
        same = present & (rows[:, j] == rows[:, j - 1]) if j else np.zeros(len(rows), bool)
        run = np.where(same, run + 1, present.astype(np.int64))
        better = run > best_count
        best = np.where(better, rows[:, j], best)
        best_count = np.where(better, run, best_count)
    return best, best_count
