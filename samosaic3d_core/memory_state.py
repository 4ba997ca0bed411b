"""The scene memory's tables and their persistence: the columns of its map voxels and instances,
and ``state`` / ``from_state`` (plain arrays for ``np.savez``), which ``SceneMemory`` inherits.

States of earlier versions load: version 1 without the view-consensus evidence, versions 1-2
without the boundary planes, versions 1-3 without the frames that saw and kept each instance, versions
1-4 without the parts of instances (every voxel in none, no part evidence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from samosaic3d_core.memory_consolidation import PairEvidence
from samosaic3d_core.memory_grid import ColumnTable, OwnerGrid
from samosaic3d_core.memory_parts import PartLedger
from samosaic3d_core.memory_tiers import ShortTermTier

if TYPE_CHECKING:
    from samosaic3d_core.memory import MemoryConfig, SceneMemory

VOXEL_COLUMNS = {
    "xyz": ((3,), np.float32, 0.0),  # running mean of the points seen in the voxel
    "rgb": ((3,), np.float32, 0.0),  # running mean colour, 0..255
    "hits": ((), np.int32, 0),  # frames that observed the voxel
    "part": ((), np.int64, 0),  # part of its instance that frames hold apart (memory_parts), 0 = none
}


def instance_columns(feat_dim: int) -> dict:
    """The columns of the instance table (one row per id ever created; row = id - 1)."""
    return {
        "box_min": ((3,), np.float32, 0.0),
        "box_max": ((3,), np.float32, 0.0),
        "centroid": ((3,), np.float32, 0.0),
        "feats": ((feat_dim,), np.float32, 0.0),
        "feat_weight": ((), np.float64, 0.0),  # points that went into the feature mean
        "score": ((), np.float32, 0.0),  # running mean of the frame scores
        "obs_count": ((), np.int64, 0),  # frames the instance was observed in
        "seen_frames": ((), np.int64, 0),  # frames that saw >= consolidation.min_voxels of its voxels
        "given_frames": ((), np.int64, 0),  # of those, frames that gave most of them to another id
        "num_voxels": ((), np.int64, 0),  # map voxels owned; 0 = dead (derived, rebuilt on load)
        "num_cells": ((), np.int64, 0),  # association cells owned (derived, rebuilt on load)
        "first_frame": ((), np.int64, -1),
        "last_frame": ((), np.int64, -1),
        "first_seen": ((), np.float64, 0.0),  # timestamps, seconds
        "last_seen": ((), np.float64, 0.0),
        "tier": ((), np.int8, 0),  # 0 = short-term, 1 = long-term
    }


class MemoryPersistence:
    """``SceneMemory``'s persistence (its tables are built in ``memory.py``)."""

    def state(self) -> dict[str, np.ndarray]:
        """All state as plain arrays (for ``np.savez``); ``from_state`` inverts it."""
        arrays = {**self._voxels.state("voxel_"), **self._cells.state("cell_"), **self._inst.arrays("inst_")}
        arrays["short_term"] = np.asarray(self._short.ids(), np.int64)
        arrays["pair_evidence"] = self._evidence.state()
        arrays["part_evidence"] = self._parts.state()
        arrays["structure_planes"] = self._planes.copy()
        arrays["feat_dim"] = np.asarray(-1 if self._feat_dim is None else self._feat_dim, np.int64)
        return arrays

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], config: MemoryConfig, source: str) -> SceneMemory:
        """A new memory from ``state()`` arrays; ValueError naming ``source`` if they are inconsistent."""
        memory = cls(config)
        for key in ("short_term", "feat_dim"):
            if key not in arrays:
                raise ValueError(f"{source}: memory state lacks array '{key}'")
        feat_dim = int(arrays["feat_dim"])
        if "inst_seen_frames" not in arrays and "inst_obs_count" in arrays:  # none before version 4: kept share 1
            empty = np.zeros_like(arrays["inst_obs_count"])
            arrays = {**arrays, "inst_seen_frames": empty, "inst_given_frames": empty}
        if "voxel_part" not in arrays and "voxel_key" in arrays:  # none before version 5: no parts
            arrays = {**arrays, "voxel_part": np.zeros(len(arrays["voxel_key"]), np.int64)}
        memory._inst = ColumnTable.from_arrays(instance_columns(max(feat_dim, 0)), arrays, "inst_", source)
        memory._feat_dim = None if feat_dim < 0 else feat_dim
        num_ids = len(memory._inst)
        if memory._feat_dim is None and num_ids:
            raise ValueError(f"{source}: memory state has instances but no feature dimension")
        memory._voxels = OwnerGrid.from_state(
            config.map_voxel_size, config.vote_cap, VOXEL_COLUMNS, arrays, "voxel_", num_ids, source
        )
        memory._cells = OwnerGrid.from_state(
            config.association_voxel_size, config.vote_cap, None, arrays, "cell_", num_ids, source
        )
        short = arrays["short_term"].astype(np.int64).reshape(-1)
        if len(short) and (short.min() < 1 or short.max() > num_ids or len(np.unique(short)) != len(short)):
            raise ValueError(f"{source}: short-term ids must be distinct ids in 1..{num_ids}")
        # derived state: cells owned per id and the member lists
        owner = memory._voxels.owner
        memory._inst["num_voxels"][:] = memory._voxels.owned_per_id(num_ids)
        memory._inst["num_cells"][:] = memory._cells.owned_per_id(num_ids)
        order = np.argsort(owner, kind="stable")
        starts = np.searchsorted(owner[order], np.arange(1, num_ids + 2))
        memory._members = [[order[starts[i] : starts[i + 1]]] for i in range(num_ids)]
        memory._short = ShortTermTier(config.short_term_size, short.tolist())
        if "pair_evidence" in arrays:  # states of version 1 have none
            memory._evidence = PairEvidence.from_state(arrays["pair_evidence"], num_ids, source,
                                                      config.consolidation.count_apart)
        if "part_evidence" in arrays:  # none before version 5
            memory._parts = PartLedger.from_state(arrays["part_evidence"], memory._voxels.table["part"], source)
        elif len(memory._voxels):
            memory._parts.next_part = int(memory._voxels.table["part"].max()) + 1
        if "structure_planes" in arrays and config.structure.every_passes:  # none before version 3
            planes = np.asarray(arrays["structure_planes"])
            if planes.ndim != 2 or planes.shape[1] != 4 or not np.isfinite(planes).all():
                raise ValueError(f"{source}: 'structure_planes' must be a finite (P, 4) array, got {planes.shape}")
            memory._planes = planes.astype(np.float64)
        memory._inst["tier"][np.asarray(memory._short.trim(), np.int64) - 1] = 1
        return memory
