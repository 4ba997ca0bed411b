"""Scene memory: the map instances, their points on a voxel grid, and the short/long-term tiers.

Streaming state lives here, outside any nn.Module, and is shared by the heuristic baseline and
the learned merging. One frame goes through it in two calls:

    obs = memory.observe(points, frame_instances, point_local, frame_index, timestamp)
    matches = associator(obs, memory)            # (K,) map id per frame instance, 0 = new
    point_ids, created, updated = memory.integrate(obs, matches)

Layout
  * Voxels: one row per occupied cell of the ``map_voxel_size`` grid, holding the running mean
    xyz and rgb of the points seen in it, how many frames saw it, and its owner (a map id, 0 =
    none) with a small vote confidence. A re-observed voxel is updated in place, so the map grows
    with the observed surface, not with the number of frames. A dict maps the packed voxel key to
    its row, so a frame costs O(frame points) whatever the map size.
  * Instances: one row per id ever created (row = id - 1; ids are never reused until ``reset``):
    box, centroid, feature, score, observation count, first/last seen, tier, voxels owned.
    An instance whose voxels were all taken over by others is dead and no longer reported.
  * Tiers (the paper's dual-level memory): short-term is a FIFO of the ``short_term_size`` most
    recently observed/merged ids; when it overflows the least recently merged id is demoted to
    long-term (tier 1); a long-term id that is merged again is promoted back.

Ownership votes: each frame, a voxel observed as part of map instance ``a`` adds one vote for
``a`` if ``a`` owns it (up to ``vote_cap``), or takes one away from its current owner otherwise;
ownership passes to ``a`` when the owner's confidence reaches zero. A single wrong frame cannot
relabel a voxel that several frames agreed on.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import majority_vote, voxel_keys
from samosaic3d_core.types import FramePoints, Instances, SceneMap

_KEY_BITS = 21
_KEY_OFFSET = 1 << (_KEY_BITS - 1)


@dataclass
class MemoryConfig:
    """How the scene memory stores and ages map instances."""

    map_voxel_size: float = 0.02
    """Map instances keep their points on a voxel grid of this size (metres)."""
    short_term_size: int = 50
    """Capacity of the short-term FIFO (N_short); the least recently merged id is demoted beyond it."""
    vote_cap: int = 5
    """Largest ownership confidence of a voxel: how many contrary frames it takes to relabel it."""
    feature_update: str = "mean"
    """How a merged observation updates an instance feature: "mean" (point-weighted running mean) or "replace"."""
    keep_unassigned: bool = True
    """Keep voxels of points that belong to no instance in the map (instance id 0)."""

    def __post_init__(self):
        if self.map_voxel_size <= 0:
            raise ValueError(f"map_voxel_size must be > 0 metres, got {self.map_voxel_size}")
        if self.short_term_size < 1:
            raise ValueError(f"short_term_size must be >= 1, got {self.short_term_size}")
        if self.vote_cap < 1:
            raise ValueError(f"vote_cap must be >= 1, got {self.vote_cap}")
        if self.feature_update not in ("mean", "replace"):
            raise ValueError(f"feature_update must be 'mean' or 'replace', got {self.feature_update!r}")


@dataclass
class FrameObservation:
    """One frame's instances and points, looked up in the map's voxel grid (``SceneMemory.observe``).

    instances:     K frame instances, frame-local ids 1..K in row order
    points:        the frame's N points
    point_local:   (N,) int64 frame-local instance id per point, 0 = none
    voxel_inverse: (N,) int64 index of each point's voxel among the frame's U distinct map voxels
    voxel_key:     (U,) int64 packed map-voxel keys, sorted
    voxel_row:     (U,) int64 memory voxel row, -1 = not in the map yet
    voxel_owner:   (U,) int64 map id owning the voxel, 0 = none
    owned_fraction: (K, I + 1) float32, fraction of instance k's distinct voxels owned by map id j
                   (column j; I = ids created so far; column 0 = voxels new or owned by nobody)
    frame_index, timestamp: of the frame (timestamp in seconds)
    """

    instances: Instances
    points: FramePoints
    point_local: np.ndarray
    voxel_inverse: np.ndarray
    voxel_key: np.ndarray
    voxel_row: np.ndarray
    voxel_owner: np.ndarray
    owned_fraction: np.ndarray
    frame_index: int
    timestamp: float


class _Table:
    """Equal-length numpy columns with amortised O(1) appends (capacity doubles).

    ``table[name]`` is a writable view of the first ``len(table)`` rows.
    """

    def __init__(self, spec: dict[str, tuple[tuple[int, ...], type, object]]):
        self.spec = spec  # name -> (row shape, dtype, fill value)
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
        return {prefix + name: self[name].copy() for name in self.spec}

    @classmethod
    def from_arrays(cls, spec, arrays: dict[str, np.ndarray], prefix: str, source: str) -> "_Table":
        """Rebuild from ``arrays()`` output; ValueError naming ``source`` if a column is missing or malformed."""
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


_VOXEL_SPEC = {
    "key": ((), np.int64, 0),
    "xyz": ((3,), np.float32, 0.0),  # running mean of the points seen in the voxel
    "rgb": ((3,), np.float32, 0.0),  # running mean colour, 0..255
    "hits": ((), np.int32, 0),  # frames that observed the voxel
    "owner": ((), np.int64, 0),  # map id, 0 = none
    "confidence": ((), np.int32, 0),  # owner's vote confidence, 0..vote_cap
}


def _instance_spec(feat_dim: int) -> dict:
    return {
        "box_min": ((3,), np.float32, 0.0),
        "box_max": ((3,), np.float32, 0.0),
        "centroid": ((3,), np.float32, 0.0),
        "feats": ((feat_dim,), np.float32, 0.0),
        "feat_weight": ((), np.float64, 0.0),  # points that went into the feature mean
        "score": ((), np.float32, 0.0),  # running mean of the frame scores
        "obs_count": ((), np.int64, 0),  # frames the instance was observed in
        "num_voxels": ((), np.int64, 0),  # voxels owned; 0 = dead
        "first_frame": ((), np.int64, -1),
        "last_frame": ((), np.int64, -1),
        "first_seen": ((), np.float64, 0.0),  # timestamps, seconds
        "last_seen": ((), np.float64, 0.0),
        "tier": ((), np.int8, 0),  # 0 = short-term, 1 = long-term
    }


def pack_voxel_keys(coords: np.ndarray) -> np.ndarray:
    """(N, 3) int64 voxel coordinates -> (N,) int64 keys (21 bits per axis)."""
    shifted = np.asarray(coords, np.int64) + _KEY_OFFSET
    if len(shifted) and (shifted.min() < 0 or shifted.max() >= (1 << _KEY_BITS)):
        raise ValueError(
            f"points lie beyond +-{_KEY_OFFSET} voxels from the origin and cannot be stored in the map grid; "
            "check the pose units (metres) or use a larger map_voxel_size"
        )
    return (shifted[:, 0] << (2 * _KEY_BITS)) | (shifted[:, 1] << _KEY_BITS) | shifted[:, 2]


class SceneMemory:
    """Map instances and their voxels; see the module docstring for the layout and update rules."""

    def __init__(self, config: MemoryConfig | None = None):
        self.config = config or MemoryConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next instance gets id 1."""
        self._voxels = _Table(_VOXEL_SPEC)
        self._voxel_row: dict[int, int] = {}
        self._inst = _Table(_instance_spec(0))
        self._feat_dim: int | None = None  # fixed by the first instance created
        self._members: list[list[np.ndarray]] = []  # per id: voxel-row chunks, may hold stale rows
        self._short: OrderedDict[int, None] = OrderedDict()  # least recently merged first

    # ----------------------------------------------------------------- reading
    @property
    def num_ids(self) -> int:
        """Ids created so far (alive or dead); the next id is ``num_ids + 1``."""
        return len(self._inst)

    @property
    def num_voxels(self) -> int:
        return len(self._voxels)

    @property
    def feat_dim(self) -> int | None:
        return self._feat_dim

    def alive_ids(self) -> np.ndarray:
        """(A,) int64 ids that own at least one voxel, ascending."""
        return np.flatnonzero(self._inst["num_voxels"] > 0).astype(np.int64) + 1

    def short_term_ids(self) -> list[int]:
        """Short-term ids, least recently merged first."""
        return list(self._short)

    def long_term_ids(self) -> list[int]:
        """Alive long-term ids, ascending."""
        alive = self._inst["num_voxels"] > 0
        return (np.flatnonzero(alive & (self._inst["tier"] == 1)) + 1).tolist()

    def instances(self, ids: np.ndarray | None = None) -> Instances:
        """Map instances (default: all alive ones, ascending id) with every optional field filled."""
        ids = self.alive_ids() if ids is None else np.asarray(ids, np.int64)
        rows = ids - 1
        inst = self._inst
        return Instances(
            ids=ids.copy(),
            scores=inst["score"][rows],
            box_min=inst["box_min"][rows],
            box_max=inst["box_max"][rows],
            num_points=inst["num_voxels"][rows],
            feats=inst["feats"][rows],
            centroid=inst["centroid"][rows],
            first_seen=inst["first_seen"][rows],
            last_seen=inst["last_seen"][rows],
            tier=inst["tier"][rows],
        )

    def instance_points(self, map_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(P, 3) float32 xyz and (P, 3) uint8 rgb of the voxels ``map_id`` owns."""
        rows = self._member_rows(int(map_id))
        return self._voxels["xyz"][rows].copy(), _to_uint8(self._voxels["rgb"][rows])

    def scene_map(self) -> SceneMap:
        """All map voxels as points (owned ones, plus unowned ones when ``keep_unassigned``)."""
        owner = self._voxels["owner"]
        rows = np.arange(len(owner)) if self.config.keep_unassigned else np.flatnonzero(owner > 0)
        owner = owner[rows]
        scores = np.zeros(len(rows), np.float32)
        scores[owner > 0] = self._inst["score"][owner[owner > 0] - 1]
        return SceneMap(
            xyz=self._voxels["xyz"][rows].copy(),
            rgb=_to_uint8(self._voxels["rgb"][rows]),
            instance_ids=owner.astype(np.int32),
            scores=scores,
        )

    # ----------------------------------------------------------------- one frame
    def observe(
        self,
        points: FramePoints,
        instances: Instances,
        point_local: np.ndarray,
        frame_index: int,
        timestamp: float,
    ) -> FrameObservation:
        """Look the frame's points up in the voxel grid (read-only); see ``FrameObservation``."""
        point_local = np.asarray(point_local, np.int64)
        num_inst = len(instances)
        if point_local.shape != (len(points.xyz),):
            raise ValueError(f"point_local has shape {point_local.shape}, expected ({len(points.xyz)},)")
        if len(point_local) and (point_local.min() < 0 or point_local.max() > num_inst):
            raise ValueError(f"point_local ids must lie in 0..{num_inst} (the frame's instances)")
        keys = pack_voxel_keys(voxel_keys(points.xyz, self.config.map_voxel_size))
        voxel_key, voxel_inverse = np.unique(keys, return_inverse=True)
        voxel_inverse = voxel_inverse.reshape(-1)
        lookup = self._voxel_row.get
        voxel_row = np.fromiter((lookup(k, -1) for k in voxel_key.tolist()), np.int64, len(voxel_key))
        voxel_owner = np.zeros(len(voxel_row), np.int64)
        voxel_owner[voxel_row >= 0] = self._voxels["owner"][voxel_row[voxel_row >= 0]]

        # fraction of each frame instance's distinct voxels owned by each map id
        labelled = point_local > 0
        num_frame_voxels = max(len(voxel_key), 1)
        pairs = np.unique(point_local[labelled] * num_frame_voxels + voxel_inverse[labelled])
        pair_inst, pair_voxel = pairs // num_frame_voxels, pairs % num_frame_voxels
        owned = np.zeros((num_inst + 1, self.num_ids + 1), np.float32)
        np.add.at(owned, (pair_inst, voxel_owner[pair_voxel]), 1.0)
        owned /= np.maximum(owned.sum(axis=1, keepdims=True), 1.0)
        return FrameObservation(
            instances=instances, points=points, point_local=point_local, voxel_inverse=voxel_inverse,
            voxel_key=voxel_key, voxel_row=voxel_row, voxel_owner=voxel_owner, owned_fraction=owned[1:],
            frame_index=int(frame_index), timestamp=float(timestamp),
        )

    def integrate(self, obs: FrameObservation, matches: np.ndarray) -> tuple[np.ndarray, list[int], list[int]]:
        """Fuse an observed frame into the map.

        Args:
            obs: from ``observe`` on the current state (no other integrate in between).
            matches: (K,) int map id per frame instance; 0 = create a new instance. Several frame
                instances may name the same map id (they are merged into it).

        Returns:
            point_ids: (N,) int32 map id per frame point, 0 = none
            created, updated: map ids created / merged into by this frame, in frame-instance order
        """
        matches = np.asarray(matches, np.int64).reshape(-1)
        num_inst = len(obs.instances)
        if len(matches) != num_inst:
            raise ValueError(f"matches has {len(matches)} entries for {num_inst} frame instances")
        if num_inst and (matches.min() < 0 or matches.max() > self.num_ids):
            raise ValueError(f"matches must be 0 (new) or an existing map id 1..{self.num_ids}")
        if obs.owned_fraction.shape[1] != self.num_ids + 1:
            raise ValueError("observation is stale: integrate() was called after observe() on another state")
        local_to_map = np.zeros(num_inst + 1, np.int64)
        local_to_map[1:] = matches
        new_locals = np.flatnonzero(matches == 0)
        created = self._create(len(new_locals), obs)
        local_to_map[new_locals + 1] = created
        point_ids = local_to_map[obs.point_local]

        losers = self._fuse_voxels(obs, point_ids)
        touched = list(dict.fromkeys(local_to_map[1:].tolist()))
        self._update_instances(obs, local_to_map[1:], np.asarray(touched, np.int64))
        self._refresh_geometry(sorted(set(touched) | set(losers)))
        for map_id in touched:
            self._touch(map_id)
        for map_id in list(self._short):
            if self._inst["num_voxels"][map_id - 1] == 0:
                self._demote(map_id)
        created_set = set(created.tolist())
        updated = [i for i in touched if i not in created_set]
        return point_ids.astype(np.int32), created.tolist(), updated

    # ----------------------------------------------------------------- internals
    def _create(self, count: int, obs: FrameObservation) -> np.ndarray:
        feats = obs.instances.feats
        feat_dim = 0 if feats is None else feats.shape[1]
        if count and self._feat_dim is None:
            self._feat_dim = feat_dim
            self._inst = _Table(_instance_spec(feat_dim))
        if self._feat_dim is not None and feat_dim != self._feat_dim and len(obs.instances):
            raise ValueError(
                f"frame instance features have dimension {feat_dim}, the map's have {self._feat_dim}; "
                "a memory cannot mix frame models"
            )
        rows = self._inst.append(count)
        self._inst["first_frame"][rows] = obs.frame_index
        self._inst["first_seen"][rows] = obs.timestamp
        self._members.extend([] for _ in range(count))
        return rows + 1

    def _fuse_voxels(self, obs: FrameObservation, point_ids: np.ndarray) -> list[int]:
        """Running-mean update of the frame's voxels and ownership votes; returns ids that lost voxels."""
        num_frame_voxels = len(obs.voxel_key)
        inverse = obs.voxel_inverse
        labelled = point_ids > 0
        voxel_label = majority_vote(inverse[labelled], point_ids[labelled], num_frame_voxels)  # (U,)
        count = np.bincount(inverse, minlength=num_frame_voxels).astype(np.float64)
        mean_xyz = np.stack([np.bincount(inverse, obs.points.xyz[:, a], num_frame_voxels) for a in range(3)], 1)
        mean_rgb = np.stack([np.bincount(inverse, obs.points.rgb[:, a], num_frame_voxels) for a in range(3)], 1)
        mean_xyz /= np.maximum(count, 1)[:, None]
        mean_rgb /= np.maximum(count, 1)[:, None]

        vox = self._voxels
        rows = obs.voxel_row.copy()
        old = rows >= 0
        hits = vox["hits"][rows[old]] + 1
        vox["hits"][rows[old]] = hits
        step = 1.0 / hits[:, None]
        vox["xyz"][rows[old]] += (mean_xyz[old] - vox["xyz"][rows[old]]) * step
        vox["rgb"][rows[old]] += (mean_rgb[old] - vox["rgb"][rows[old]]) * step

        new = ~old & ((voxel_label > 0) | self.config.keep_unassigned)
        new_rows = vox.append(int(new.sum()))
        vox["key"][new_rows] = obs.voxel_key[new]
        vox["xyz"][new_rows] = mean_xyz[new]
        vox["rgb"][new_rows] = mean_rgb[new]
        vox["hits"][new_rows] = 1
        self._voxel_row.update(zip(obs.voxel_key[new].tolist(), new_rows.tolist()))
        rows[new] = new_rows

        voted = rows >= 0
        voted &= voxel_label > 0
        return self._vote(rows[voted], voxel_label[voted])

    def _vote(self, rows: np.ndarray, label: np.ndarray) -> list[int]:
        """One ownership vote per (distinct) voxel row for ``label``; returns ids that lost voxels."""
        vox = self._voxels
        owner = vox["owner"][rows]
        confidence = vox["confidence"][rows]
        agrees = owner == label
        confidence = np.where(agrees, np.minimum(confidence + 1, self.config.vote_cap), confidence - 1)
        switch = ~agrees & (confidence <= 0)
        vox["owner"][rows[switch]] = label[switch]
        confidence[switch] = 1
        vox["confidence"][rows] = confidence

        num_voxels = self._inst["num_voxels"]
        gained_rows, gained_by = rows[switch], label[switch]
        lost_by = owner[switch]
        lost_by = lost_by[lost_by > 0]
        np.add.at(num_voxels, gained_by - 1, 1)
        np.add.at(num_voxels, lost_by - 1, -1)
        order = np.argsort(gained_by, kind="stable")
        ids, starts = np.unique(gained_by[order], return_index=True)
        for map_id, chunk in zip(ids.tolist(), np.split(gained_rows[order], starts[1:])):
            self._members[map_id - 1].append(chunk)
        return np.unique(lost_by).tolist()

    def _update_instances(self, obs: FrameObservation, local_to_map: np.ndarray, touched: np.ndarray) -> None:
        """Score, feature, counts and last-seen of the touched ids from their frame instances."""
        if len(touched) == 0:
            return
        ids = np.sort(touched)
        group = np.searchsorted(ids, local_to_map)  # (K,) index into ids
        weight = np.maximum(obs.instances.num_points.astype(np.float64), 1.0)
        group_weight = np.bincount(group, weight, len(ids))
        frame_score = np.bincount(group, weight * obs.instances.scores, len(ids)) / group_weight
        inst, rows = self._inst, ids - 1
        seen = inst["obs_count"][rows]
        inst["score"][rows] = (inst["score"][rows] * seen + frame_score) / (seen + 1)
        inst["obs_count"][rows] = seen + 1
        inst["last_frame"][rows] = obs.frame_index
        inst["last_seen"][rows] = obs.timestamp
        if self._feat_dim:
            frame_feats = np.zeros((len(ids), self._feat_dim))
            np.add.at(frame_feats, group, obs.instances.feats * weight[:, None])
            frame_feats /= group_weight[:, None]
            old_weight = inst["feat_weight"][rows]
            if self.config.feature_update == "replace":
                old_weight = np.zeros_like(old_weight)
            total = old_weight + group_weight
            inst["feats"][rows] = (inst["feats"][rows] * old_weight[:, None] + frame_feats * group_weight[:, None]) / total[:, None]
            inst["feat_weight"][rows] = total

    def _member_rows(self, map_id: int) -> np.ndarray:
        """Voxel rows owned by ``map_id`` (compacts its member chunks)."""
        chunks = self._members[map_id - 1]
        rows = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
        rows = rows[self._voxels["owner"][rows] == map_id]
        if len(rows) != self._inst["num_voxels"][map_id - 1]:
            rows = np.unique(rows)  # a voxel lost and regained appears twice
        self._members[map_id - 1] = [rows]
        return rows

    def _refresh_geometry(self, ids: list[int]) -> None:
        """Recompute box and centroid of ``ids`` from the voxels they own (O(their size))."""
        xyz_all, inst = self._voxels["xyz"], self._inst
        for map_id in ids:
            rows = self._member_rows(map_id)
            if len(rows) == 0:
                continue
            xyz = xyz_all[rows]
            inst["box_min"][map_id - 1] = xyz.min(axis=0)
            inst["box_max"][map_id - 1] = xyz.max(axis=0)
            inst["centroid"][map_id - 1] = xyz.mean(axis=0)

    def _touch(self, map_id: int) -> None:
        """Mark ``map_id`` as just merged: (re)enter the short-term FIFO at its newest end."""
        if map_id in self._short:
            self._short.move_to_end(map_id)
        else:
            self._short[map_id] = None
            self._inst["tier"][map_id - 1] = 0
        while len(self._short) > self.config.short_term_size:
            self._demote(next(iter(self._short)))

    def _demote(self, map_id: int) -> None:
        del self._short[map_id]
        self._inst["tier"][map_id - 1] = 1

    # ----------------------------------------------------------------- persistence
    def state(self) -> dict[str, np.ndarray]:
        """All state as plain arrays (for ``np.savez``); ``from_state`` inverts it."""
        arrays = {**self._voxels.arrays("voxel_"), **self._inst.arrays("inst_")}
        arrays["short_term"] = np.asarray(list(self._short), np.int64)
        arrays["feat_dim"] = np.asarray(-1 if self._feat_dim is None else self._feat_dim, np.int64)
        return arrays

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], config: MemoryConfig, source: str) -> "SceneMemory":
        """A new memory from ``state()`` arrays; ValueError naming ``source`` if they are inconsistent."""
        memory = cls(config)
        for key in ("short_term", "feat_dim"):
            if key not in arrays:
                raise ValueError(f"{source}: memory state lacks array '{key}'")
        feat_dim = int(arrays["feat_dim"])
        memory._voxels = _Table.from_arrays(_VOXEL_SPEC, arrays, "voxel_", source)
        memory._inst = _Table.from_arrays(_instance_spec(max(feat_dim, 0)), arrays, "inst_", source)
        memory._feat_dim = None if feat_dim < 0 else feat_dim
        num_ids = len(memory._inst)
        if memory._feat_dim is None and num_ids:
            raise ValueError(f"{source}: memory state has instances but no feature dimension")
        if num_ids and memory._inst["feats"].shape[1] != max(feat_dim, 0):
            raise ValueError(f"{source}: instance features are {memory._inst['feats'].shape[1]}-d, feat_dim says {feat_dim}")
        keys = memory._voxels["key"]
        memory._voxel_row = dict(zip(keys.tolist(), range(len(keys))))
        if len(memory._voxel_row) != len(keys):
            raise ValueError(f"{source}: memory state has duplicate voxel keys")
        owner = memory._voxels["owner"]
        if len(owner) and (owner.min() < 0 or owner.max() > num_ids):
            raise ValueError(f"{source}: voxel owners must lie in 0..{num_ids}")
        short = arrays["short_term"].astype(np.int64).reshape(-1)
        if len(short) and (short.min() < 1 or short.max() > num_ids or len(np.unique(short)) != len(short)):
            raise ValueError(f"{source}: short-term ids must be distinct ids in 1..{num_ids}")
        # derived state: voxels owned per id and the member lists
        memory._inst["num_voxels"][:] = np.bincount(owner, minlength=num_ids + 1)[1:]
        order = np.argsort(owner, kind="stable")
        starts = np.searchsorted(owner[order], np.arange(1, num_ids + 2))
        memory._members = [[order[starts[i]: starts[i + 1]]] for i in range(num_ids)]
        memory._short = OrderedDict((int(i), None) for i in short)
        while len(memory._short) > config.short_term_size:
            memory._demote(next(iter(memory._short)))
        return memory


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)
