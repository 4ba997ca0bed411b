"""Splitting what views keep apart: the parts of map instances.

View consensus between map instances (``PairEvidence``) can only merge: once a frame has put a
book and its shelf into one map instance, later frames that hold them in two frame instances
send both to that instance (association lets several frame instances join one map instance, as
an object the frame model leaves in pieces must stay one), and nothing records that they were
apart. Parts record it one level down:

  * every labelled map voxel carries a part id (the memory voxel table's ``part`` column);
  * a frame that divides a map instance among several of its frame instances gives each share a
    part: the largest part under it that no larger share took (and that covers at least half of
    its voxels that carry a part: new surface does not make a new part), else a new one; the
    share's voxels take that part. A frame that keeps the instance in one frame instance only
    gives its part to voxels that had none;
  * for every two parts of one map instance that a frame sees (each on ``min_voxels`` voxels,
    each mostly in one frame instance) it counts whether one frame instance held both (together)
    or two did (apart);
  * at consolidation, a part that frames kept apart from its instance's largest part in at least
    ``split_min_views`` frames and in at least ``split_ratio`` of the frames that saw both, and
    holds at least ``split_min_voxels`` voxels, becomes a map instance of its own
    (``MapRevision._split_parts``).
"""

from __future__ import annotations

import numpy as np


class PartLedger:
    """Part evidence of a ``SceneMemory``: how often frames held each pair of parts of one map
    instance together or apart, and the next part id. The part of each voxel lives in the memory's
    voxel table (column ``part``, 0 = none)."""

    def __init__(self):
        self.counts: dict[tuple[int, int], list[int]] = {}  # (low part, high part) -> [together, apart]
        self.next_part = 1

    def observe(self, map_ids: np.ndarray, local: np.ndarray, part: np.ndarray, min_share: float,
                min_voxels: int) -> np.ndarray:
        """One frame's voxels that have a map id and a frame instance: ``map_ids``, ``local`` (frame
        instance) and ``part`` (the voxel's part, 0 = none), each (U,). Counts the pairs of parts the
        frame saw and returns the (U,) part each voxel takes."""
        new_part = part.copy()
        if len(map_ids) == 0:
            return new_part
        triples, counts = np.unique(np.stack([map_ids, local, part], 1), axis=0, return_counts=True)
        self._count(triples, counts, min_share, min_voxels)
        for map_id in np.unique(triples[:, 0]).tolist():
            mine = triples[:, 0] == map_id
            chosen = self._assign(triples[mine, 1:], counts[mine], min_share)
            for frame_inst, chosen_part in chosen.items():
                rows = (map_ids == map_id) & (local == frame_inst)
                if len(chosen) == 1:  # not divided: only voxels without a part take it
                    rows &= part == 0
                new_part[rows] = chosen_part
        return new_part

    def _assign(self, pairs: np.ndarray, counts: np.ndarray, min_share: float) -> dict[int, int]:
        """The part each frame instance gives its share of one map instance (``pairs``: (frame
        instance, part) with ``counts`` voxels): in order of overlap, its largest part that covers
        at least ``min_share`` of the share's voxels that carry a part (voxels seen for the first time
        carry none) and that no larger overlap took, else a new part."""
        share: dict[int, int] = {}  # per frame instance, its voxels that carry a part
        for (frame_inst, part), count in zip(pairs.tolist(), counts.tolist()):
            share[frame_inst] = share.get(frame_inst, 0) + (count if part else 0)
        chosen: dict[int, int] = {}
        for k in np.argsort(-counts, kind="stable").tolist():
            frame_inst, part = pairs[k].tolist()
            if part == 0 or frame_inst in chosen or part in chosen.values():
                continue
            if counts[k] >= min_share * share[frame_inst]:
                chosen[frame_inst] = part
        for frame_inst in share:
            if frame_inst not in chosen:
                chosen[frame_inst] = self.next_part
                self.next_part += 1
        return chosen

    def _count(self, triples: np.ndarray, counts: np.ndarray, min_share: float, min_voxels: int) -> None:
        """Together / apart for the pairs of parts of one map instance that the frame saw."""
        seen = triples[:, 2] > 0
        triples, counts = triples[seen], counts[seen]
        for map_id in np.unique(triples[:, 0]).tolist():
            rows = triples[:, 0] == map_id
            held: dict[int, int] = {}  # part -> the frame instance holding most of it
            totals: dict[int, int] = {}
            best: dict[int, int] = {}
            for (_, frame_inst, part), count in zip(triples[rows].tolist(), counts[rows].tolist()):
                totals[part] = totals.get(part, 0) + count
                if count > best.get(part, 0):
                    best[part], held[part] = count, frame_inst
            parts = [p for p in totals if totals[p] >= min_voxels and best[p] >= min_share * totals[p]]
            for i, a in enumerate(parts):
                for b in parts[i + 1:]:
                    entry = self.counts.setdefault((min(a, b), max(a, b)), [0, 0])
                    entry[0 if held[a] == held[b] else 1] += 1

    def apart(self, a: int, b: int, min_views: int, ratio: float) -> bool:
        """Whether frames kept parts ``a`` and ``b`` apart in at least ``min_views`` frames and in at
        least ``ratio`` of those that saw both."""
        together, apart = self.counts.get((min(a, b), max(a, b)), (0, 0))
        return apart >= max(min_views, 1) and apart >= ratio * (together + apart)

    def keep_only(self, parts: np.ndarray) -> None:
        """Drop the counts of parts no voxel carries any longer (``parts``: those still carried)."""
        held = set(np.asarray(parts).tolist())
        self.counts = {key: entry for key, entry in self.counts.items() if key[0] in held and key[1] in held}

    def state(self) -> np.ndarray:
        """(P, 4) int64 rows (low part, high part, together, apart)."""
        rows = [(a, b, t, s) for (a, b), (t, s) in sorted(self.counts.items())]
        return np.asarray(rows, np.int64).reshape(-1, 4)

    @classmethod
    def from_state(cls, rows: np.ndarray, voxel_parts: np.ndarray, source: str) -> "PartLedger":
        """Inverse of ``state``; the next part id follows the largest one in use."""
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != 4 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(f"{source}: 'part_evidence' must be an (P, 4) integer array, got {rows.dtype} {rows.shape}")
        if len(rows) and (rows[:, :2].min() < 1 or rows[:, 2:].min() < 0):
            raise ValueError(f"{source}: 'part_evidence' holds part ids below 1 or negative counts")
        ledger = cls()
        ledger.counts = {(int(a), int(b)): [int(t), int(s)] for a, b, t, s in rows.tolist()}
        largest = max(int(rows[:, :2].max()) if len(rows) else 0, int(voxel_parts.max()) if len(voxel_parts) else 0)
        ledger.next_part = largest + 1
        return ledger
