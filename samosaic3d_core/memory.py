"""Scene memory: the map instances, their points on a voxel grid, and the short/long-term tiers.

Streaming state lives here, outside any nn.Module, and is shared by the heuristic baseline and
the learned merging. One frame goes through it in two calls:

    obs = memory.observe(points, frame_instances, point_local, frame_index, timestamp)
    matches = associator(obs, memory)            # (K,) map id per frame instance, 0 = new
    point_ids, created, updated = memory.integrate(obs, matches)

Layout
  * Map voxels (``map_voxel_size`` grid, an ``OwnerGrid``): running mean xyz and rgb of the points
    seen in each voxel, how many frames saw it, and its owner. A re-observed voxel is updated in
    place, so the map grows with the observed surface, not with the number of frames.
  * Association cells (coarser ``association_voxel_size`` grid, an ``OwnerGrid`` too): who owns
    each cell, for the overlap cues of ``FrameObservation``. Frames keep a random subset of their
    points (the point budget), so two views of one surface share few fine voxels but nearly all
    coarse cells.
  * Instances: one row per id ever created (row = id - 1; ids are never reused until ``reset``):
    box, centroid, feature, score, observation count, first/last seen, tier, voxels and cells
    owned. An instance whose voxels were all taken over by others is dead and no longer reported.
  * Tiers (the paper's dual-level memory): short-term is a FIFO of the ``short_term_size`` most
    recently observed/merged ids; when it overflows the least recently merged id is demoted to
    long-term (tier 1); a long-term id that is merged again is promoted back.

Files: this one holds ``MemoryConfig`` and ``SceneMemory`` (updates);
``memory_observation.py`` the read-only ``FrameObservation``; ``memory_revision.py`` the
consolidation passes (merges, pruning, label fill) and ``memory_consolidation.py`` their evidence;
``memory_tiers.py`` the short-term FIFO; ``memory_grid.py`` the tables and owner grids underneath;
``memory_state.py`` the columns of the voxel and instance tables and the persistence (``state``);
``memory_confidence.py`` and ``instance_scorer.py`` what an instance's score is.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from samosaic3d_core import config as config_io
from samosaic3d_core.instance_scorer import instance_features, load_scorer
from samosaic3d_core.memory_confidence import check_confidence, instance_confidence
from samosaic3d_core.memory_consolidation import ConsolidationConfig, PairEvidence, frame_grouping
from samosaic3d_core.memory_grid import ColumnTable, OwnerGrid
from samosaic3d_core.memory_observation import FrameObservation
from samosaic3d_core.memory_parts import PartLedger
from samosaic3d_core.memory_revision import MapRevision
from samosaic3d_core.memory_state import VOXEL_COLUMNS, MemoryPersistence, instance_columns
from samosaic3d_core.memory_structure import StructureConfig, detached_on_planes, plane_shares
from samosaic3d_core.memory_tiers import ShortTermTier
from samosaic3d_core.types import FramePoints, Instances, SceneMap

__all__ = ["FrameObservation", "MemoryConfig", "SceneMemory", "memory_config_for_masks"]


@dataclass
class MemoryConfig:
    """How the scene memory stores and ages map instances."""

    map_voxel_size: float = 0.02
    """Map instances keep their points on a voxel grid of this size (metres)."""
    association_voxel_size: float = 0.06
    """Cell size (metres) of the coarse ownership grid behind the overlap cues of association."""
    association_borrow: bool = True
    """Overlap cues count a frame cell no map id owns for the owner of a face-neighbouring cell: a
    surface a few centimetres off (what pose error leaves) still overlaps its map instance."""
    short_term_size: int = 50
    """Capacity of the short-term FIFO (N_short); the least recently merged id is demoted beyond it."""
    vote_cap: int = 5
    """Largest ownership confidence of a voxel: how many contrary frames it takes to relabel it."""
    feature_update: Literal["mean", "replace"] = "mean"
    """How a merged observation updates an instance feature: "mean" (point-weighted running mean) or "replace"."""
    keep_unassigned: bool = True
    """Keep voxels of points that belong to no instance in the map (instance id 0)."""
    confidence: Literal["model", "support", "learned"] = "learned"
    """A map instance's score, the ranking of AP (``samosaic3d_core.memory_confidence``): "model", the
    mean of its frame instances' scores; "support", n / (n + ``confidence_voxels``) for its n voxels,
    times k / (k + ``confidence_frames``) for the k frames that observed it, times the share of
    frames that kept its surface (``confidence_kept``) and how firmly its voxels are held
    (``confidence_votes``); "learned", the expected IoU with its object that ``confidence_scorer``
    reads from the support and the instance's shape and borders (``samosaic3d_core.instance_scorer``).
    "learned" was chosen on the validation scenes (docs/map_quality.md, "A learned instance confidence")."""
    confidence_voxels: float = 100.0
    """"support" confidence: voxels at which an instance's support reaches one half."""
    confidence_frames: float = 5.0
    """"support" confidence: frames at which the observation factor reaches one half (0 = not counted).
    5 was chosen over 0-20 on the validation scenes (docs/map_quality.md, "Instance confidence")."""
    confidence_kept: bool = True
    """"support" confidence: times 1 - g / (s + 1) for the s frames that saw the instance's surface
    (at least ``consolidation.min_voxels`` of its voxels) and the g of them that handed most of it to
    another instance. Pieces of an object that frames keep giving to the rest of it, and leftovers
    of a fused object, rank lower."""
    confidence_votes: bool = True
    """"support" confidence: times the mean ownership votes of the instance's voxels over
    ``vote_cap``: how firmly the map holds its surface (voxels seen by one frame, contested by
    others or just taken over count little)."""
    confidence_scorer: str = ""
    """"learned" confidence: the scorer file (JSON written by scripts/train_instance_scorer.py); empty:
    the one that ships with the package (fitted on maps of the shipped weights, 2 cm voxels)."""
    consolidation: ConsolidationConfig = field(default_factory=ConsolidationConfig)
    structure: StructureConfig = field(default_factory=StructureConfig)

    def __post_init__(self):
        config_io.check_sections(self)
        for name in ("map_voxel_size", "association_voxel_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 metres, got {getattr(self, name)}")
        if self.short_term_size < 1:
            raise ValueError(f"short_term_size must be >= 1, got {self.short_term_size}")
        if self.vote_cap < 1:
            raise ValueError(f"vote_cap must be >= 1, got {self.vote_cap}")
        if self.feature_update not in ("mean", "replace"):
            raise ValueError(f"feature_update must be 'mean' or 'replace', got {self.feature_update!r}")
        check_confidence(self.confidence, self.confidence_voxels, self.confidence_frames)


def memory_config_for_masks(config: MemoryConfig, mask_source: str) -> MemoryConfig:
    """``config`` with the splitting and wall outlines of ``mask_source``
    (``consolidation.oversegment_split_min_views``, ``structure.oversegment_enclosed``)."""
    if mask_source != "oversegment":
        return config
    views = config.consolidation.oversegment_split_min_views
    if views is not None:
        config = dataclasses.replace(config, consolidation=dataclasses.replace(config.consolidation, split_min_views=views))
    enclosed = config.structure.oversegment_enclosed
    if enclosed is not None:
        config = dataclasses.replace(config, structure=dataclasses.replace(config.structure, enclosed=enclosed))
    return config


class SceneMemory(MapRevision, MemoryPersistence):
    """Map instances and their voxels; see the module docstring for the layout and update rules."""

    def __init__(self, config: MemoryConfig | None = None):
        self.config = config or MemoryConfig()
        self._scorer = load_scorer(self.config.confidence_scorer) if self.config.confidence == "learned" else None
        if self._scorer is not None and self._scorer.voxel_size not in (None, self.config.map_voxel_size):
            warnings.warn(f"the instance scorer was fitted on {self._scorer.voxel_size} m map voxels, this map uses "
                          f"{self.config.map_voxel_size} m: its confidence ranks less well (fit one to maps of this "
                          "grid with scripts/train_instance_scorer.py, or set memory.confidence: support)", stacklevel=2)
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next instance gets id 1."""
        cfg = self.config
        self._voxels = OwnerGrid(cfg.map_voxel_size, cfg.vote_cap, VOXEL_COLUMNS)
        self._cells = OwnerGrid(cfg.association_voxel_size, cfg.vote_cap)
        self._inst = ColumnTable(instance_columns(0))
        self._feat_dim: int | None = None  # fixed by the first instance created
        self._members: list[list[np.ndarray]] = []  # per id: voxel-row chunks, may hold stale rows
        self._short = ShortTermTier(cfg.short_term_size)
        self._evidence = PairEvidence(cfg.consolidation.count_apart)
        self._parts = PartLedger()
        self._recent: list[np.ndarray] = []  # voxel rows seen since the last consolidation
        self._planes = np.zeros((0, 4))  # boundary planes (floor, walls, ceiling): unit normal, offset
        self._frames = 0  # frames integrated
        self._revision = 0  # bumped by every change of the map; keys the learned scores
        self._learned: tuple[int, np.ndarray] | None = None  # (revision, scores of ids 1..num_ids)

    # ----------------------------------------------------------------- reading
    @property
    def num_ids(self) -> int:
        """Ids created so far (alive or dead); the next id is ``num_ids + 1``."""
        return len(self._inst)

    @property
    def num_voxels(self) -> int:
        """Occupied map voxels (the number of points ``scene_map`` returns with ``keep_unassigned``)."""
        return len(self._voxels)

    @property
    def feat_dim(self) -> int | None:
        """Dimension of instance features, fixed by the first instance (None before)."""
        return self._feat_dim

    def alive_ids(self) -> np.ndarray:
        """(A,) int64 ids that own at least one voxel, ascending."""
        return np.flatnonzero(self._inst["num_voxels"] > 0).astype(np.int64) + 1

    def short_term_ids(self) -> list[int]:
        """Short-term ids, least recently merged first."""
        return self._short.ids()

    def long_term_ids(self) -> list[int]:
        """Alive long-term ids, ascending."""
        alive = self._inst["num_voxels"] > 0
        return (np.flatnonzero(alive & (self._inst["tier"] == 1)) + 1).tolist()

    def instances(self, ids: np.ndarray | None = None, scored: bool = True) -> Instances:
        """Map instances (default: all alive ones, ascending id) with every optional field filled.

        scored: False leaves ``scores`` at 0 without computing them (associators read features,
        boxes and overlap; the learned confidence reads the whole map, once per state of it)."""
        ids = self.alive_ids() if ids is None else np.asarray(ids, np.int64)
        rows, inst = ids - 1, self._inst
        return Instances(
            ids=ids.copy(),
            scores=self._confidence(rows) if scored else np.zeros(len(rows), np.float32),
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
        return self._voxels.table["xyz"][rows].copy(), _to_uint8(self._voxels.table["rgb"][rows])

    def voxel_rows(self, keys: np.ndarray) -> np.ndarray:
        """(U,) packed map-grid keys -> (U,) int64 voxel rows (-1: not in the map; rows never move)."""
        return self._voxels.lookup(np.asarray(keys))

    def voxel_owners(self) -> np.ndarray:
        """(V,) map id owning each voxel row (0 = none; a read-only view)."""
        owner = self._voxels.owner.view()
        owner.flags.writeable = False
        return owner

    def surface_points(self) -> np.ndarray:
        """(V, 3) float32 centre of mass of every map voxel (a read-only view; pose refinement aligns to it)."""
        xyz = self._voxels.table["xyz"].view()
        xyz.flags.writeable = False
        return xyz

    def scene_map(self) -> SceneMap:
        """All map voxels as points, in insertion order; instance id 0 = none."""
        owner = self._voxels.owner
        scores = np.zeros(len(owner), np.float32)
        if self.num_ids:
            scores[owner > 0] = self._confidence(np.arange(self.num_ids))[owner[owner > 0] - 1]
        return SceneMap(
            xyz=self._voxels.table["xyz"].copy(),
            rgb=_to_uint8(self._voxels.table["rgb"]),
            instance_ids=owner.astype(np.int32),
            scores=scores,
        )

    def structure_planes(self) -> np.ndarray:
        """(P, 4) float64 boundary planes found so far (unit normal towards the room, offset); see
        ``samosaic3d_core.memory_structure``."""
        return self._planes.copy()

    # ----------------------------------------------------------------- one frame
    def without_structure(
        self, points: FramePoints, instances: Instances, point_local: np.ndarray
    ) -> tuple[Instances, np.ndarray]:
        """The frame without its structure (``samosaic3d_core.memory_structure``): instances with at
        least ``structure.min_share`` of their points on one boundary plane are dropped and the rest
        renumbered; points on a plane away from the rest of their instance (``structure.attach``)
        get local id 0."""
        cfg = self.config.structure
        if len(self._planes) == 0 or len(instances) == 0:
            return instances, point_local
        local = np.asarray(point_local, np.int64)
        shares = plane_shares(points.xyz, local - 1, len(instances), self._planes, cfg.band)
        keep = shares < cfg.min_share
        renumber = np.zeros(len(instances) + 1, np.int64)
        renumber[1:][keep] = np.arange(1, keep.sum() + 1)
        local = renumber[local]
        local[detached_on_planes(points.xyz, local, self._planes, cfg.band, cfg.attach, cfg.enclosed)] = 0
        return instances[np.flatnonzero(keep)], local.astype(np.asarray(point_local).dtype)

    def observe(
        self, points: FramePoints, instances: Instances, point_local: np.ndarray, frame_index: int, timestamp: float
    ) -> FrameObservation:
        """Look the frame's points up in the grids (read-only); see ``FrameObservation``."""
        return FrameObservation.look_up(
            self._voxels, self._cells, self._inst["num_cells"], points, instances, point_local, frame_index, timestamp,
            borrow=self.config.association_borrow,
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
        self._revision += 1
        num_inst = len(obs.instances)
        if len(matches) != num_inst:
            raise ValueError(f"matches has {len(matches)} entries for {num_inst} frame instances")
        if num_inst and (matches.min() < 0 or matches.max() > self.num_ids):
            raise ValueError(f"matches must be 0 (new) or an existing map id 1..{self.num_ids}")
        if len(obs.map_cells) != self.num_ids + 1:
            raise ValueError("observation is stale: integrate() was called after observe() on another state")
        local_to_map = np.zeros(num_inst + 1, np.int64)
        local_to_map[1:] = matches
        new_locals = np.flatnonzero(matches == 0)
        created = self._create(len(new_locals), obs)
        local_to_map[new_locals + 1] = created
        point_ids = local_to_map[obs.point_local]

        label = obs.voxel_labels(point_ids)  # (U,) map id per frame voxel
        cfg = self.config.consolidation
        evidence = bool(cfg.every and cfg.merge_min_views)
        if evidence or self.config.confidence_kept:  # which id the frame gives each map instance, read before the votes
            seen = obs.voxel_row >= 0
            owner_before = np.zeros(len(label), np.int64)
            owner_before[seen] = self._voxels.owner[obs.voxel_row[seen]]
            observed, grouped_into = frame_grouping(owner_before, label, cfg.min_share, cfg.min_voxels)
            self._inst["seen_frames"][observed - 1] += 1
            self._inst["given_frames"][observed[grouped_into != observed] - 1] += 1
            if evidence:
                self._evidence.observe(observed, grouped_into)
        losers, voxel_rows = self._fuse_voxels(obs, label)
        if cfg.every and cfg.split_min_views:
            self._observe_parts(obs, label, voxel_rows)
        self._fuse_cells(obs, point_ids)
        touched = list(dict.fromkeys(local_to_map[1:].tolist()))
        self._update_instances(obs, local_to_map[1:], np.asarray(touched, np.int64))
        self._refresh_geometry(sorted(set(touched) | set(losers)))
        for map_id in touched:
            self._touch(map_id)
        for map_id in self._short.ids():
            if self._inst["num_voxels"][map_id - 1] == 0:
                self._demote(map_id)
        created_set = set(created.tolist())
        updated = [i for i in touched if i not in created_set]
        self._frames += 1
        if cfg.every and self._frames % cfg.every == 0:
            self.consolidate(obs.frame_index)
        return point_ids.astype(np.int32), created.tolist(), updated

    # ----------------------------------------------------------------- internals
    def _confidence(self, rows: np.ndarray) -> np.ndarray:
        """(R,) float32 confidence of instance ``rows`` (ids - 1) (``samosaic3d_core.memory_confidence``)."""
        if self._scorer is not None:
            return self._learned_confidence()[rows]
        return self._support(rows, self.config.confidence)

    def _support(self, rows: np.ndarray, kind: str = "support") -> np.ndarray:
        cfg, inst = self.config, self._inst
        factor = np.ones(len(rows))
        if kind == "support" and cfg.confidence_kept:
            factor *= 1.0 - inst["given_frames"][rows] / (inst["seen_frames"][rows] + 1.0)
        if kind == "support" and cfg.confidence_votes:
            votes = self._voxels.votes_per_id(self.num_ids)[rows]
            factor *= votes / (np.maximum(inst["num_voxels"][rows], 1) * cfg.vote_cap)
        return instance_confidence(kind, inst["score"][rows], inst["num_voxels"][rows],
                                   inst["obs_count"][rows], cfg.confidence_voxels, cfg.confidence_frames, factor)

    def _learned_confidence(self) -> np.ndarray:
        """(num_ids,) float32 learned scores of every id, computed once per state of the map."""
        if self._learned is None or self._learned[0] != self._revision or len(self._learned[1]) != self.num_ids:
            features = instance_features(self._voxels.table["xyz"], self._voxels.owner, self.num_ids,
                                         self.config.map_voxel_size, self._support(np.arange(self.num_ids)))
            self._learned = (self._revision, self._scorer(features))
        return self._learned[1]

    def _create(self, count: int, obs: FrameObservation) -> np.ndarray:
        feats = obs.instances.feats
        feat_dim = 0 if feats is None else feats.shape[1]
        if count and self._feat_dim is None:
            self._feat_dim = feat_dim
            self._inst = ColumnTable(instance_columns(feat_dim))
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

    def _fuse_voxels(self, obs: FrameObservation, label: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Running-mean update of the frame's map voxels and their ownership votes (``label``: (U,)
        map id per frame voxel); returns ids that lost voxels and the (U,) voxel rows (-1: not kept)."""
        num, inverse = len(obs.voxel_key), obs.voxel_inverse
        count = np.maximum(np.bincount(inverse, minlength=num), 1).astype(np.float64)[:, None]
        mean_xyz = np.stack([np.bincount(inverse, obs.points.xyz[:, a], num) for a in range(3)], 1) / count
        mean_rgb = np.stack([np.bincount(inverse, obs.points.rgb[:, a], num) for a in range(3)], 1) / count

        table, rows = self._voxels.table, obs.voxel_row.copy()
        old = rows >= 0
        hits = table["hits"][rows[old]] + 1
        table["hits"][rows[old]] = hits
        table["xyz"][rows[old]] += (mean_xyz[old] - table["xyz"][rows[old]]) / hits[:, None]
        table["rgb"][rows[old]] += (mean_rgb[old] - table["rgb"][rows[old]]) / hits[:, None]

        new = ~old & ((label > 0) | self.config.keep_unassigned)
        rows[new] = new_rows = self._voxels.insert(obs.voxel_key[new])
        table["xyz"][new_rows] = mean_xyz[new]
        table["rgb"][new_rows] = mean_rgb[new]
        table["hits"][new_rows] = 1

        if self.config.consolidation.every:  # the voxels the next consolidation revises
            self._recent.append(rows[rows >= 0])
        voted = (rows >= 0) & (label > 0)
        gained_rows, gained_by, lost_by = self._voxels.vote(rows[voted], label[voted])
        self._record_owner_changes(gained_rows, gained_by, lost_by)
        return np.unique(lost_by[lost_by > 0]).tolist(), rows

    def _reassign_voxels(self, rows: np.ndarray, owners: np.ndarray, confidence: int | None = None) -> None:
        """Give voxel ``rows`` the (R,) map ids ``owners`` (0 = none), optionally with a new vote confidence."""
        lost = self._voxels.owner[rows].copy()
        self._voxels.owner[rows] = owners
        if confidence is not None:
            self._voxels.table["confidence"][rows] = confidence
        self._record_owner_changes(rows, owners, lost)

    def _record_owner_changes(self, rows: np.ndarray, gained_by: np.ndarray, lost_by: np.ndarray) -> None:
        """Voxel counts and member lists after voxel ``rows`` passed from ``lost_by`` to ``gained_by`` (0 = none)."""
        self._count_owner_changes("num_voxels", gained_by[gained_by > 0], lost_by)
        order = np.argsort(gained_by, kind="stable")
        ids, starts = np.unique(gained_by[order], return_index=True)
        for map_id, chunk in zip(ids.tolist(), np.split(rows[order], starts[1:])):
            if map_id > 0:
                self._members[map_id - 1].append(chunk)

    def _fuse_cells(self, obs: FrameObservation, point_ids: np.ndarray) -> None:
        """Ownership votes of the frame's association cells."""
        label = obs.cell_labels(point_ids)
        rows = obs.cell_row.copy()
        new = (rows < 0) & (label > 0)
        rows[new] = self._cells.insert(obs.cell_key[new])
        voted = label > 0
        _, gained_by, lost_by = self._cells.vote(rows[voted], label[voted])
        self._count_owner_changes("num_cells", gained_by, lost_by)

    def _count_owner_changes(self, column: str, gained_by: np.ndarray, lost_by: np.ndarray) -> None:
        counts = self._inst[column]
        np.add.at(counts, gained_by - 1, 1)
        np.add.at(counts, lost_by[lost_by > 0] - 1, -1)

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
            old_weight = inst["feat_weight"][rows]
            if self.config.feature_update == "replace":
                old_weight = np.zeros_like(old_weight)
            total = old_weight + group_weight
            inst["feats"][rows] = (inst["feats"][rows] * old_weight[:, None] + frame_feats) / total[:, None]
            inst["feat_weight"][rows] = total

    def _member_rows(self, map_id: int) -> np.ndarray:
        """Voxel rows owned by ``map_id`` (compacts its member chunks)."""
        chunks = self._members[map_id - 1]
        rows = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
        rows = rows[self._voxels.owner[rows] == map_id]
        if len(rows) != self._inst["num_voxels"][map_id - 1]:
            rows = np.unique(rows)  # a voxel lost and regained appears twice
        self._members[map_id - 1] = [rows]
        return rows

    def _refresh_geometry(self, ids: list[int]) -> None:
        """Recompute box and centroid of ``ids`` from the voxels they own (O(their size))."""
        xyz_all, inst = self._voxels.table["xyz"], self._inst
        for map_id in ids:
            rows = self._member_rows(map_id)
            if len(rows):
                xyz = xyz_all[rows]
                inst["box_min"][map_id - 1] = xyz.min(axis=0)
                inst["box_max"][map_id - 1] = xyz.max(axis=0)
                inst["centroid"][map_id - 1] = xyz.mean(axis=0)

    def _touch(self, map_id: int) -> None:
        """Mark ``map_id`` as just merged: (re)enter the short-term FIFO at its newest end."""
        added, pushed_out = self._short.touch(map_id)
        if added:
            self._inst["tier"][map_id - 1] = 0
        self._inst["tier"][np.asarray(pushed_out, np.int64) - 1] = 1

    def _demote(self, map_id: int) -> None:
        self._short.remove(map_id)
        self._inst["tier"][map_id - 1] = 1


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)
