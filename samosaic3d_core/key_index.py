"""``KeyIndex``: distinct int64 keys -> int64 rows, inserted and looked up in whole batches.

An open-addressing hash table with linear probing held in two numpy arrays (keys, rows; row -1 =
empty slot), kept at most half full. Every probe step handles all pending keys at once, so a frame's
ten thousand voxel keys cost a few vectorised passes instead of a Python dict call each, and the
cost does not grow with the number of keys held.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the top bits
_MIN_BITS = 10


class KeyIndex:
    """Map distinct int64 keys to int64 rows (>= 0)."""

    def __init__(self, capacity: int = 0):
        self._bits = max(_MIN_BITS, int(np.ceil(np.log2(max(2 * capacity, 1)))))
        self._keys = np.zeros(1 << self._bits, np.int64)
        self._rows = np.full(1 << self._bits, -1, np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @classmethod
    def from_keys(cls, keys: np.ndarray) -> "KeyIndex":
        """Index of ``keys[i] -> i``; ValueError if a key repeats."""
        keys = np.asarray(keys, np.int64).reshape(-1)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("KeyIndex.from_keys: keys repeat")
        index = cls(len(keys))
        index._place(keys, np.arange(len(keys), dtype=np.int64))
        return index

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """(U,) keys -> (U,) int64 rows, -1 for keys not held."""
        keys = np.asarray(keys, np.int64).reshape(-1)
        out = np.full(len(keys), -1, np.int64)
        pending = np.arange(len(keys))
        slot = self._slot(keys)
        mask = len(self._rows) - 1
        while len(pending):
            rows = self._rows[slot]
            occupied = rows >= 0
            found = occupied & (self._keys[slot] == keys[pending])
            out[pending[found]] = rows[found]
            go_on = occupied & ~found  # an empty slot ends the probe: the key is not held
            pending, slot = pending[go_on], (slot[go_on] + 1) & mask
        return out

    def insert(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add distinct ``keys`` not held yet, with their ``rows`` (the caller guarantees both)."""
        keys = np.asarray(keys, np.int64).reshape(-1)
        rows = np.asarray(rows, np.int64).reshape(-1)
        if len(keys) != len(rows):
            raise ValueError(f"KeyIndex.insert: {len(keys)} keys but {len(rows)} rows")
        if 2 * (self._count + len(keys)) > len(self._rows):
            self._grow(self._count + len(keys))
        self._place(keys, rows)

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.view(np.uint64) * _GOLDEN) >> np.uint64(64 - self._bits)).astype(np.int64)

    def _grow(self, needed: int) -> None:
        held = self._rows >= 0
        keys, rows = self._keys[held], self._rows[held]
        self._bits = max(self._bits + 1, int(np.ceil(np.log2(2 * needed))))
        self._keys = np.zeros(1 << self._bits, np.int64)
        self._rows = np.full(1 << self._bits, -1, np.int64)
        self._count = 0
        self._place(keys, rows)

    def _place(self, keys: np.ndarray, rows: np.ndarray) -> None:
        mask = len(self._rows) - 1
        pending = np.arange(len(keys))
        slot = self._slot(keys)
        while len(pending):
            free = np.flatnonzero(self._rows[slot] < 0)
            # several pending keys may want the same free slot: the first takes it, the rest probe on
            _, first = np.unique(slot[free], return_index=True)
            winners = free[first]
            self._keys[slot[winners]] = keys[pending[winners]]
            self._rows[slot[winners]] = rows[pending[winners]]
            left = np.ones(len(pending), bool)
            left[winners] = False
            pending, slot = pending[left], (slot[left] + 1) & mask
        self._count += len(keys)
