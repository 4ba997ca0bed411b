"""One frame looked up in the scene memory's grids: what association reads (``FrameObservation``).

Built read-only by ``SceneMemory.observe``; ``SceneMemory.integrate`` fuses it into the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import majority_vote, pack_voxel_keys, unpack_voxel_keys
from samosaic3d_core.memory_grid import OwnerGrid
from samosaic3d_core.types import FramePoints, Instances

FACE_OFFSETS = np.array([(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], np.int64)


@dataclass
class FrameObservation:
    """One frame's instances and points, looked up in the memory's grids (``SceneMemory.observe``).

    instances:     K frame instances, frame-local ids 1..K in row order
    points:        the frame's N points
    point_local:   (N,) int64 frame-local instance id per point, 0 = none
    voxel_key / voxel_row: (U,) the frame's distinct map voxels (packed keys, sorted) and their
                   memory rows (-1 = not in the map yet); voxel_inverse: (N,) each point's voxel in 0..U-1
    cell_key / cell_row / cell_inverse: the same for the coarse association cells (C of them)
    shared_cells:  (K, I + 1) float32, distinct cells of frame instance k owned by map id j
                   (column j; I = ids created so far; column 0 = cells new or owned by nobody)
    frame_cells:   (K,) float32 distinct cells of each frame instance
    map_cells:     (I + 1,) float32 cells owned by each map id (entry 0 unused, 0)
    frame_index, timestamp: of the frame (timestamp in seconds)
    """

    instances: Instances
    points: FramePoints
    point_local: np.ndarray
    voxel_key: np.ndarray
    voxel_row: np.ndarray
    voxel_inverse: np.ndarray
    cell_key: np.ndarray
    cell_row: np.ndarray
    cell_inverse: np.ndarray
    shared_cells: np.ndarray
    frame_cells: np.ndarray
    map_cells: np.ndarray
    frame_index: int
    timestamp: float

    def owned_fraction(self) -> np.ndarray:
        """(K, I + 1) fraction of frame instance k's cells owned by map id j."""
        return self.shared_cells / np.maximum(self.frame_cells, 1.0)[:, None]

    def containment(self) -> np.ndarray:
        """(K, I + 1) shared cells over the cells of the smaller of the two (1 = one lies inside the other).

        Column 0 (cells of nobody) is the frame-side fraction, as in ``owned_fraction``.
        """
        smaller = np.minimum(self.frame_cells[:, None], self.map_cells[None, :])
        smaller[:, 0] = self.frame_cells
        return self.shared_cells / np.maximum(smaller, 1.0)

    def voxel_labels(self, point_ids: np.ndarray) -> np.ndarray:
        """(U,) most frequent map id among the labelled points of each of the frame's voxels, 0 if none.

        point_ids: (N,) map id per frame point, 0 = none.
        """
        return _majority_labels(self.voxel_inverse, point_ids, len(self.voxel_key))

    def cell_labels(self, point_ids: np.ndarray) -> np.ndarray:
        """(C,) the same as ``voxel_labels`` for the frame's association cells."""
        return _majority_labels(self.cell_inverse, point_ids, len(self.cell_key))

    @classmethod
    def look_up(
        cls, voxels: OwnerGrid, cells: OwnerGrid, cells_per_id: np.ndarray, points: FramePoints, instances: Instances,
        point_local: np.ndarray, frame_index: int, timestamp: float, borrow: bool = False,
    ) -> "FrameObservation":
        """The frame's points looked up (read-only) in the map ``voxels`` and association ``cells``.

        cells_per_id: (I,) int association cells owned by each map id 1..I (I = ids created so far).
        borrow: a frame cell that no map id owns counts for the owner of a face neighbour, so that a
        surface a few centimetres off (a residual pose error) still overlaps its map instance.
        """
        point_local = np.asarray(point_local, np.int64)
        num_inst = len(instances)
        if point_local.shape != (len(points),):
            raise ValueError(f"point_local has shape {point_local.shape}, expected ({len(points)},)")
        if len(point_local) and (point_local.min() < 0 or point_local.max() > num_inst):
            raise ValueError(f"point_local ids must lie in 0..{num_inst} (the frame's instances)")
        voxel_key, voxel_inverse = np.unique(voxels.keys(points.xyz), return_inverse=True)
        cell_key, cell_inverse = np.unique(cells.keys(points.xyz), return_inverse=True)
        cell_inverse = cell_inverse.reshape(-1)
        cell_row = cells.lookup(cell_key)
        cell_owner = np.zeros(len(cell_row), np.int64)
        cell_owner[cell_row >= 0] = cells.owner[cell_row[cell_row >= 0]]
        if borrow:
            _borrow_owners(cells, cell_key, cell_owner)

        labelled = point_local > 0
        num_cells = max(len(cell_key), 1)
        pairs = np.unique(point_local[labelled] * num_cells + cell_inverse[labelled])  # distinct (instance, cell)
        pair_inst, pair_cell = pairs // num_cells, pairs % num_cells
        shared = np.zeros((num_inst + 1, len(cells_per_id) + 1), np.float32)
        np.add.at(shared, (pair_inst, cell_owner[pair_cell]), 1.0)
        map_cells = np.concatenate([[0], cells_per_id]).astype(np.float32)
        return cls(
            instances=instances, points=points, point_local=point_local,
            voxel_key=voxel_key, voxel_row=voxels.lookup(voxel_key), voxel_inverse=voxel_inverse.reshape(-1),
            cell_key=cell_key, cell_row=cell_row, cell_inverse=cell_inverse,
            shared_cells=shared[1:], frame_cells=shared[1:].sum(axis=1), map_cells=map_cells,
            frame_index=int(frame_index), timestamp=float(timestamp),
        )


def _borrow_owners(cells: OwnerGrid, cell_key: np.ndarray, cell_owner: np.ndarray) -> None:
    """Give cells without an owner the owner of their first owned face neighbour (in place)."""
    empty = np.flatnonzero(cell_owner == 0)
    if len(empty) == 0 or len(cells) == 0:
        return
    coords = unpack_voxel_keys(cell_key[empty])
    for offset in FACE_OFFSETS:
        still = cell_owner[empty] == 0
        if not still.any():
            break
        rows = cells.lookup(pack_voxel_keys(coords[still] + offset, "map grid"))
        found = rows >= 0
        cell_owner[empty[still][found]] = cells.owner[rows[found]]


def _majority_labels(group: np.ndarray, point_ids: np.ndarray, num_groups: int) -> np.ndarray:
    """(num_groups,) most frequent map id among the labelled points of each group, 0 if none.

    ``majority_vote`` runs only on the few groups whose labelled points disagree (object borders).
    """
    labelled = point_ids > 0
    group, point_ids = group[labelled], point_ids[labelled].astype(np.int64)
    lowest = np.full(num_groups, np.iinfo(np.int64).max)
    label = np.zeros(num_groups, np.int64)
    np.minimum.at(lowest, group, point_ids)
    np.maximum.at(label, group, point_ids)
    mixed = (label > 0) & (lowest != label)
    if mixed.any():
        sel = mixed[group]
        label[mixed] = majority_vote(group[sel], point_ids[sel], num_groups)[mixed]
    return label
