"""Storage under ``SceneMemory``: growable column tables and voxel grids whose cells have an owner.

An ``OwnerGrid`` holds the occupied cells of one voxel grid. A ``KeyIndex`` (a vectorised hash
table) maps a cell's packed integer key to its row, so looking up a frame costs O(frame points)
whatever the map size. Each cell has
at most one owner (a map id, 0 = none) and a vote confidence:

    a frame that sees the cell as part of id ``a`` adds one vote if ``a`` owns it (up to
    ``vote_cap``), or takes one from the current owner otherwise; ownership passes to ``a`` when
    the owner's confidence reaches zero.

So one wrong frame cannot relabel a cell that several frames agreed on.
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.geometry import pack_voxel_keys, voxel_keys
from samosaic3d_core.key_index import KeyIndex


class ColumnTable:
    """Equal-length numpy columns with amortised O(1) row appends (capacity doubles).

    ``spec``: name -> (row shape, dtype, fill value). ``table[name]`` is a writable view of the
    first ``len(table)`` rows.
    """

    def __init__(self, spec: dict[str, tuple[tuple[int, ...], type, object]]):
        self.spec = spec
        self._n = 0
        self._data = {name: np.full((16, *shape), fill, dtype) for name, (shape, dtype, fill) in spec.items()}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self._n]

    def append(self, count: int) -> np.ndarray:
        """Add ``count`` rows filled with the defaults; return their (count,) int64 indices."""
        needed = self._n + count
        capacity = len(next(iter(self._data.values())))
        if needed > capacity:
            capacity = max(needed, 2 * capacity)
            for name, (shape, dtype, fill) in self.spec.items():
                grown = np.full((capacity, *shape), fill, dtype)
                grown[: self._n] = self._data[name][: self._n]
                self._data[name] = grown
        rows = np.arange(self._n, needed, dtype=np.int64)
        self._n = needed
        return rows

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Copies of all columns, named ``prefix + name``."""
        return {prefix + name: self[name].copy() for name in self.spec}

    @classmethod
    def from_arrays(cls, spec, arrays: dict[str, np.ndarray], prefix: str, source: str) -> "ColumnTable":
        """Inverse of ``arrays``; ValueError naming ``source`` if a column is missing or malformed."""
        table = cls(spec)
        columns = {}
        for name, (shape, dtype, _) in spec.items():
            key = prefix + name
            if key not in arrays:
                raise ValueError(f"{source}: memory state lacks array '{key}'")
            value = arrays[key]
            if value.dtype != np.dtype(dtype) or value.shape[1:] != shape:
                raise ValueError(
                    f"{source}: array '{key}' is {value.dtype} {value.shape}, expected {np.dtype(dtype)} (n, *{shape})"
                )
            columns[name] = value
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"{source}: memory arrays '{prefix}*' have inconsistent lengths {sorted(lengths)}")
        num_rows = lengths.pop() if lengths else 0
        if num_rows:
            table._data = {name: value.copy() for name, value in columns.items()}
            table._n = num_rows
        return table


_OWNER_SPEC = {
    "key": ((), np.int64, 0),
    "owner": ((), np.int64, 0),  # map id, 0 = none
    "confidence": ((), np.int32, 0),  # the owner's votes, 0..vote_cap
}


class OwnerGrid:
    """Occupied cells of a ``cell_size`` voxel grid with owner votes (see the module docstring).

    ``extra_spec`` adds per-cell columns (e.g. running mean colour) to ``table``.
    """

    def __init__(self, cell_size: float, vote_cap: int, extra_spec: dict | None = None):
        self.cell_size = cell_size
        self.vote_cap = vote_cap
        self.table = ColumnTable({**_OWNER_SPEC, **(extra_spec or {})})
        self._index = KeyIndex()

    def __len__(self) -> int:
        return len(self.table)

    @property
    def owner(self) -> np.ndarray:
        return self.table["owner"]

    def keys(self, xyz: np.ndarray) -> np.ndarray:
        """(N, 3) metres -> (N,) packed keys of the cells containing the points."""
        return pack_voxel_keys(voxel_keys(xyz, self.cell_size), "map grid")

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """(U,) keys -> (U,) int64 rows, -1 where the cell is not occupied."""
        return self._index.lookup(keys)

    def insert(self, keys: np.ndarray) -> np.ndarray:
        """Add cells for (U,) distinct keys not in the grid (no owner yet); return their rows."""
        rows = self.table.append(len(keys))
        self.table["key"][rows] = keys
        self._index.insert(keys, rows)
        return rows

    def vote(self, rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One vote per distinct row for map id ``labels`` (> 0).

        Returns the rows whose owner changed, their new owners and their previous owners (0 = none).
        """
        owner = self.table["owner"][rows]
        confidence = self.table["confidence"][rows]
        agrees = owner == labels
        confidence = np.where(agrees, np.minimum(confidence + 1, self.vote_cap), confidence - 1)
        switch = ~agrees & (confidence <= 0)
        confidence[switch] = 1
        self.table["owner"][rows[switch]] = labels[switch]
        self.table["confidence"][rows] = confidence
        return rows[switch], labels[switch], owner[switch]

    def owned_per_id(self, num_ids: int) -> np.ndarray:
        """(num_ids,) int64 cells owned by ids 1..num_ids."""
        return np.bincount(self.owner, minlength=num_ids + 1)[1 : num_ids + 1].astype(np.int64)

    def votes_per_id(self, num_ids: int) -> np.ndarray:
        """(num_ids,) float64 summed owner votes of the cells owned by ids 1..num_ids."""
        return np.bincount(self.owner, self.table["confidence"], minlength=num_ids + 1)[1 : num_ids + 1]

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return self.table.arrays(prefix)

    @classmethod
    def from_state(cls, cell_size, vote_cap, extra_spec, arrays, prefix: str, num_ids: int, source: str) -> "OwnerGrid":
        """Inverse of ``state``; ValueError naming ``source`` if the cells are inconsistent."""
        grid = cls(cell_size, vote_cap, extra_spec)
        grid.table = ColumnTable.from_arrays(grid.table.spec, arrays, prefix, source)
        keys = grid.table["key"]
        try:
            grid._index = KeyIndex.from_keys(keys)
        except ValueError:
            raise ValueError(f"{source}: memory state has duplicate keys in '{prefix}key'") from None
        owner = grid.owner
        if len(owner) and (owner.min() < 0 or owner.max() > num_ids):
            raise ValueError(f"{source}: '{prefix}owner' values (voxel owners) must lie in 0..{num_ids}")
        return grid
