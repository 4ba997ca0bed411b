"""Consolidation passes of ``SceneMemory`` (``MapRevision``): merges, splits, pruning and label fill.

The evidence and the rules are in ``memory_consolidation.py`` and ``memory_parts.py``; this mixin
applies them to the memory's tables and grids (``SceneMemory`` in ``memory.py`` owns them).
"""

from __future__ import annotations

import functools

import numpy as np

from samosaic3d_core.geometry import VoxelIndex, unpack_voxel_keys
from samosaic3d_core.memory_backrests import backrest_pair, find_base
from samosaic3d_core.memory_consolidation import mode_labels
from samosaic3d_core.memory_observation import FrameObservation
from samosaic3d_core.memory_structure import (
    detached_on_planes, enclosed_on_walls, find_boundary_planes, on_planes, plane_shares, wall_outlines,
    within_outlines,
)
from samosaic3d_core.memory_supports import find_support, floor_plane, holds_up, reach_offsets


class MapRevision:
    """``SceneMemory``'s consolidation: ``consolidate`` (called from ``integrate``) and ``merge``, and
    the parts of instances (``_observe_parts`` per frame, ``_split_parts`` per pass)."""

    def consolidate(self, frame_index: int) -> None:
        """Revise the grouping (``samosaic3d_core.memory_consolidation``): merge the pairs that views
        group, dissolve rarely seen instances, fill and smooth the labels of recently seen voxels."""
        cfg = self.config.consolidation
        self._revision += 1
        index = functools.cache(lambda: VoxelIndex(self._voxels.table["key"]))  # no voxel is added in a pass
        if cfg.split_min_views:
            self._split_parts(index)
        alive = self._inst["num_voxels"]
        for low, high in self._evidence.merges(cfg.merge_min_views, cfg.merge_ratio):
            # the older id survives, and comes back if the newer one had taken all its voxels
            if (alive[low - 1] or alive[high - 1]) and (low, high) in self._evidence.counts:
                self.merge(low, high)
        rows = [*self._recent, self._prune(frame_index), self._take_structure()]
        self._recent = []
        if cfg.join_supports and self._planes_searched():
            self._join_supports(index)
        if cfg.join_backrests and self._planes_searched():
            self._join_backrests(index)
        self._relabel_by_neighbours(np.unique(np.concatenate(rows)).astype(np.int64), index)

    def merge(self, keep: int, gone: int) -> None:
        """Merge map instance ``gone`` into ``keep``: its voxels, cells, feature, counts and evidence."""
        if keep == gone or not (1 <= keep <= self.num_ids and 1 <= gone <= self.num_ids):
            raise ValueError(f"cannot merge map id {gone} into {keep} (ids 1..{self.num_ids}, distinct)")
        self._revision += 1
        rows = self._member_rows(gone)
        self._reassign_voxels(rows, np.full(len(rows), keep))
        cells = np.flatnonzero(self._cells.owner == gone)
        self._cells.owner[cells] = keep
        self._count_owner_changes("num_cells", np.full(len(cells), keep), np.full(len(cells), gone))
        inst, k, g = self._inst, keep - 1, gone - 1
        weight = inst["feat_weight"][[k, g]]
        if self._feat_dim:
            inst["feats"][k] = (weight @ inst["feats"][[k, g]]) / max(weight.sum(), 1e-12)
        inst["feat_weight"][k] = weight.sum()
        seen = inst["obs_count"][[k, g]].astype(np.float64)
        inst["score"][k] = (seen @ inst["score"][[k, g]]) / max(seen.sum(), 1.0)
        for column, pick in (("first_frame", min), ("first_seen", min), ("last_frame", max), ("last_seen", max)):
            inst[column][k] = pick(inst[column][k], inst[column][g])
        # frame counts add up, but never beyond the frames between its first and last observation: a
        # part split off carries its instance's counts, and merged back it must not double them
        # (split and merge may repeat)
        span = max(int(inst["last_frame"][k] - inst["first_frame"][k]) + 1, 1)
        for column in ("obs_count", "seen_frames", "given_frames"):
            inst[column][k] = min(int(inst[column][k] + inst[column][g]), span)
        inst["given_frames"][k] = min(inst["given_frames"][k], inst["seen_frames"][k])
        self._refresh_geometry([keep])
        if gone in self._short:
            self._demote(gone)
        self._touch(keep)
        self._evidence.merge_ids(keep, gone)

    def _observe_parts(self, obs: FrameObservation, label: np.ndarray, rows: np.ndarray) -> None:
        """Part evidence and part labels of the frame's voxels (``samosaic3d_core.memory_parts``);
        rows: (U,) their voxel rows (-1: not kept in the map)."""
        cfg = self.config.consolidation
        local = obs.voxel_labels(obs.point_local)
        sel = (label > 0) & (local > 0) & (rows >= 0)
        part = self._voxels.table["part"]
        part[rows[sel]] = self._parts.observe(label[sel], local[sel], part[rows[sel]], cfg.min_share, cfg.min_voxels)

    def _split_parts(self, index) -> None:
        """Give each part that frames keep apart from its instance's largest part an id of its own
        (``samosaic3d_core.memory_parts``), unless the next search for planes would join them again:
        one stands on the other as a backrest (``consolidation.join_backrests``), or the part stands
        on the floor and holds up the rest (``consolidation.join_supports``)."""
        cfg = self.config.consolidation
        floor = floor_plane(self._planes) if cfg.join_backrests or cfg.join_supports else None
        owner, part = self._voxels.owner, self._voxels.table["part"]
        carried = np.flatnonzero(part > 0)
        self._parts.keep_only(np.unique(part[carried]))
        rows = carried[owner[carried] > 0]
        if len(rows) == 0:
            return
        span = self._parts.next_part
        keys, counts = np.unique(owner[rows] * span + part[rows], return_counts=True)
        ids, parts = keys // span, keys % span
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        for start, stop in zip(starts, np.r_[starts[1:], len(keys)]):
            if stop - start < 2:
                continue
            map_id, main = int(ids[start]), int(parts[start + counts[start:stop].argmax()])
            for k in range(start, stop):
                piece = int(parts[k])
                if piece != main and counts[k] >= cfg.split_min_voxels and \
                        self._parts.apart(main, piece, cfg.split_min_views, cfg.split_ratio):
                    members = rows[owner[rows] == map_id]
                    piece_rows = members[part[members] == piece]
                    if floor is not None and self._joined_again(map_id, piece_rows, floor, index):
                        continue
                    self._split_off(map_id, piece_rows)

    def _joined_again(self, map_id: int, rows: np.ndarray, floor: np.ndarray, index) -> bool:
        """Whether the next search for planes would join voxel ``rows`` of ``map_id`` and the rest of
        it again: one stands on the other as a backrest, or ``rows`` stand on the floor and hold up
        the rest."""
        cfg, voxel = self.config.consolidation, self.config.map_voxel_size
        rest = np.setdiff1d(self._member_rows(map_id), rows)
        xyz, keys = self._voxels.table["xyz"], self._voxels.table["key"]
        offsets = reach_offsets(cfg.support_reach, voxel)
        if cfg.join_backrests and backrest_pair(rows, rest, xyz, keys, index(), floor, offsets, cfg.backrest_rule(), voxel):
            return True
        return cfg.join_supports and holds_up(rows, rest, xyz, keys, index(), floor, offsets, cfg.support_reach,
                                              cfg.support_floor, cfg.support_contact, cfg.support_footprint, voxel,
                                              cfg.support_gap, cfg.support_leg_width, self._voxels.owner)

    def _split_off(self, map_id: int, rows: np.ndarray) -> int:
        """A new map id for voxel ``rows`` of ``map_id`` (its record copied; the cells where it holds
        most of ``map_id``'s voxels go with it); the new id."""
        self._revision += 1
        new = int(self._inst.append(1)[0]) + 1
        for name in self._inst.spec:
            self._inst[name][new - 1] = self._inst[name][map_id - 1]
        self._inst["num_voxels"][new - 1] = self._inst["num_cells"][new - 1] = 0
        self._members.append([])
        # the feature's weight is shared by voxels, so that a merge back restores it (not doubles it)
        weight, share = self._inst["feat_weight"][map_id - 1], len(rows) / max(self._inst["num_voxels"][map_id - 1], 1)
        self._inst["feat_weight"][[map_id - 1, new - 1]] = weight * (1.0 - share), weight * share
        self._reassign_voxels(rows, np.full(len(rows), new))
        xyz = self._voxels.table["xyz"]
        rest = self._member_rows(map_id)
        gone_keys, gone_n = np.unique(self._cells.keys(xyz[rows]), return_counts=True)
        rest_keys, rest_n = np.unique(self._cells.keys(xyz[rest]), return_counts=True)
        kept = np.zeros(len(gone_keys), np.int64)
        at = np.searchsorted(rest_keys, gone_keys)
        hit = (at < len(rest_keys)) & (rest_keys[np.minimum(at, len(rest_keys) - 1)] == gone_keys)
        kept[hit] = rest_n[at[hit]]
        cells = self._cells.lookup(gone_keys[gone_n > kept])
        cells = cells[cells >= 0]
        cells = cells[self._cells.owner[cells] == map_id]
        self._cells.owner[cells] = new
        self._count_owner_changes("num_cells", np.full(len(cells), new), np.full(len(cells), map_id))
        self._refresh_geometry([map_id, new])
        self._touch(new)
        return new

    def _prune(self, frame_index: int) -> np.ndarray:
        """Dissolve instances seen in too few frames or owning too few voxels, and not seen for ``prune_after``
        frames; their voxel rows."""
        cfg, inst = self.config.consolidation, self._inst
        if not (cfg.prune_min_frames or cfg.prune_min_voxels):
            return np.zeros(0, np.int64)
        weak = (inst["obs_count"] < cfg.prune_min_frames) | (inst["num_voxels"] < cfg.prune_min_voxels)
        stale = (inst["num_voxels"] > 0) & weak & (frame_index - inst["last_frame"] > cfg.prune_after)
        return self._dissolve(np.flatnonzero(stale) + 1)

    def _planes_searched(self) -> bool:
        """Whether this consolidation pass searches for boundary planes (every ``structure.every_passes``)."""
        cfg, passes = self.config.structure, self._frames // max(self.config.consolidation.every, 1)
        return bool(cfg.every_passes) and passes % cfg.every_passes == 0

    def _join_supports(self, index) -> None:
        """Merge each instance standing on the floor into the larger one it holds up
        (``samosaic3d_core.memory_supports``), the smallest pieces first; ``index()`` gives the
        ``VoxelIndex`` of the map voxels."""
        cfg, inst = self.config.consolidation, self._inst
        floor = floor_plane(self._planes)
        if floor is None:
            return
        box_min, box_max = inst["box_min"], inst["box_max"]
        alive = self.alive_ids()
        # a first cut by the boxes (the floor is about level): instances reaching down to the floor
        low = box_min[alive - 1] @ floor[:3] + floor[3]
        candidates = alive[low <= cfg.support_floor + 2 * self.config.map_voxel_size]
        if len(candidates) == 0:
            return
        table = self._voxels.table
        offsets = reach_offsets(cfg.support_reach, self.config.map_voxel_size)
        for piece in candidates[np.argsort(inst["num_voxels"][candidates - 1], kind="stable")].tolist():
            rows = self._member_rows(piece)
            holder = find_support(piece, rows, table["xyz"], self._voxels.owner, table["key"], index(), floor,
                                  inst["num_voxels"], box_min, box_max, offsets, cfg.support_reach,
                                  cfg.support_floor, cfg.support_contact, cfg.support_footprint,
                                  self.config.map_voxel_size, cfg.support_gap, cfg.support_leg_width)
            if holder:
                self.merge(holder, piece)

    def _join_backrests(self, index) -> None:
        """Merge each thin upright slab into the instance whose top it stands on along an edge
        (``samosaic3d_core.memory_backrests``), the smallest slabs first; the larger of the two keeps its id."""
        cfg, inst, voxel = self.config.consolidation, self._inst, self.config.map_voxel_size
        floor = floor_plane(self._planes)
        if floor is None:
            return
        rule = cfg.backrest_rule()
        alive = self.alive_ids()
        # a first cut by the boxes (the floor is about level): tall enough
        tall = (inst["box_max"][alive - 1] - inst["box_min"][alive - 1])[:, 2] + 2 * voxel >= rule.min_height
        candidates = alive[tall]
        table = self._voxels.table
        offsets = reach_offsets(cfg.support_reach, voxel)
        for slab in candidates[np.argsort(inst["num_voxels"][candidates - 1], kind="stable")].tolist():
            if not inst["num_voxels"][slab - 1]:
                continue  # merged into another slab's base earlier in this pass
            base = find_base(slab, self._member_rows(slab), table["xyz"], self._voxels.owner, table["key"], index(),
                             floor, self._member_rows, offsets, rule, voxel)
            if base:
                keep, gone = (base, slab) if inst["num_voxels"][base - 1] >= inst["num_voxels"][slab - 1] else (slab, base)
                self.merge(keep, gone)

    def _take_structure(self) -> np.ndarray:
        """Every ``structure.every_passes`` passes: find the boundary planes again and dissolve the
        instances that lie on one of them (``samosaic3d_core.memory_structure``); their voxel rows."""
        cfg = self.config.structure
        if not self._planes_searched():
            return np.zeros(0, np.int64)
        xyz = self._voxels.table["xyz"]
        self._planes = find_boundary_planes(xyz, self.config.map_voxel_size, cfg, seed=self._frames)
        if len(self._planes) == 0:
            return np.zeros(0, np.int64)
        alive = self.alive_ids()
        labelled = np.flatnonzero(self._voxels.owner > 0)
        owner = self._voxels.owner[labelled]
        shares = plane_shares(xyz[labelled], owner - 1, self.num_ids, self._planes, cfg.band)
        rows = self._dissolve(alive[shares[alive - 1] >= cfg.min_share])
        owner = self._voxels.owner[labelled]  # what is left after dissolving
        detached = labelled[detached_on_planes(xyz[labelled], owner, self._planes, cfg.band, cfg.attach, cfg.enclosed)]
        if len(detached):
            lost = np.unique(self._voxels.owner[detached])
            self._reassign_voxels(detached, np.zeros(len(detached), np.int64), confidence=0)
            self._refresh_geometry(lost.tolist())
        return np.concatenate([rows, detached])

    def _dissolve(self, ids: np.ndarray) -> np.ndarray:
        """Take map ``ids`` apart: their voxels and cells become unlabelled; their voxel rows."""
        if len(ids) == 0:
            return np.zeros(0, np.int64)
        rows = np.concatenate([self._member_rows(i) for i in ids.tolist()])
        self._reassign_voxels(rows, np.zeros(len(rows), np.int64), confidence=0)
        cells = np.flatnonzero(np.isin(self._cells.owner, ids))
        self._count_owner_changes("num_cells", np.zeros(0, np.int64), self._cells.owner[cells].copy())
        self._cells.owner[cells] = 0
        self._cells.table["confidence"][cells] = 0
        for map_id in ids.tolist():
            if map_id in self._short:
                self._demote(map_id)
        self._evidence.forget(ids.tolist())
        return rows

    def _relabel_by_neighbours(self, rows: np.ndarray, index) -> None:
        """``fill_passes`` then ``smooth_passes`` of ``mode_labels`` over voxel ``rows``; ``index()`` gives the
        ``VoxelIndex`` of the map voxels."""
        cfg = self.config.consolidation
        if len(rows) == 0 or not (cfg.fill_passes or cfg.smooth_passes):
            return
        keys, owner = self._voxels.table["key"], self._voxels.owner
        if not cfg.smooth_passes:  # filling changes unlabelled voxels only
            rows = rows[owner[rows] == 0]
        structure, xyz = self.config.structure, self._voxels.table["xyz"]
        on = on_planes(xyz[rows], self._planes, structure.band) if len(self._planes) else np.zeros(len(rows), bool)
        outlines = []
        if structure.enclosed and on.any():  # structure stays unlabelled, but inside an instance's outline on a wall
            labelled = np.flatnonzero(owner > 0)
            outlines = wall_outlines(xyz[labelled], owner[labelled], self._planes, structure.band, structure.attach)
            candidate = ~on
            candidate[on] = within_outlines(xyz[rows[on]], outlines, structure.band)
            rows, on = rows[candidate], on[candidate]
        else:
            rows, on = rows[~on], on[~on]
        if len(rows) == 0:
            return
        neighbours = index().neighbours(unpack_voxel_keys(keys[rows]), "map voxels")
        labels = mode_labels(owner, neighbours, rows, cfg.fill_passes, fill_only=True)
        labels = mode_labels(labels, neighbours, rows, cfg.smooth_passes, fill_only=False)
        on_changed = rows[on & (labels[rows] != owner[rows])]
        if len(on_changed):  # each takes a label only inside that instance's own outline
            inside = enclosed_on_walls(xyz[on_changed], labels[on_changed], self._planes, structure.band,
                                       structure.attach, outlines)
            labels[on_changed[~inside]] = owner[on_changed[~inside]]
        changed = rows[labels[rows] != owner[rows]]
        if len(changed) == 0:
            return
        gained, lost = labels[changed], owner[changed].copy()
        self._reassign_voxels(changed, gained, confidence=1)
        affected = sorted((set(gained.tolist()) | set(lost.tolist())) - {0})
        self._refresh_geometry(affected)
        for map_id in affected:
            if self._inst["num_voxels"][map_id - 1] == 0 and map_id in self._short:
                self._demote(map_id)
