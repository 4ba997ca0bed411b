"""Map consolidation: the scene memory revises its grouping with evidence from many views.

A frame's association decides where its instances go at first sight; consolidation corrects the
map afterwards, every ``ConsolidationConfig.every`` frames:

  * view consensus (``PairEvidence``): for two map instances seen in the same frame, the frame
    either groups them (its instances carry most of the voxels of both into one map id) or keeps
    them apart. Pairs grouped in at least ``merge_min_views`` frames and in at least
    ``merge_ratio`` of the frames that saw both are merged into the older id. A revisit that
    started a new instance on top of an old one, an object left in pieces, or a wall split
    between instances are all grouped by later frames.
  * splitting (``samosaic3d_core.memory_parts``): the same consensus one level down, between the
    parts of one map instance that frames divide among their frame instances; a part kept apart
    from the rest in at least ``split_min_views`` frames (and ``split_ratio`` of those that saw
    both) becomes an instance of its own. A book fused with its shelf at first sight comes apart.
  * pruning: an instance observed in fewer than ``prune_min_frames`` frames and not seen for
    ``prune_after`` frames is dissolved (a one-frame mistake); its voxels become unlabelled.
  * label fill and smoothing (``mode_labels``): unlabelled voxels (points no frame instance
    covered: mask boundaries, missed fragments) take the id most frequent among their 26
    neighbours when it outnumbers the unlabelled ones (``fill_passes``), and labelled voxels
    that their neighbours outvote are relabelled (``smooth_passes``); only voxels seen since the
    last pass are revised.

``SceneMemory`` records the evidence in ``integrate`` and applies the changes (``consolidate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import neighbourhood_mode
from samosaic3d_core.memory_backrests import BackrestRule


COUNT_APART = ("all", "after_grouped")
"""``ConsolidationConfig.count_apart`` values."""


@dataclass
class ConsolidationConfig:
    """When and how the map revises its grouping (``samosaic3d_core.memory_consolidation``)."""

    every: int = 5
    """Frames between consolidation passes (0 = never: the first decision of each frame is final)."""
    merge_min_views: int = 3
    """View consensus: frames that must group two map instances before they are merged (0 = no merging)."""
    merge_ratio: float = 0.6
    """View consensus: share of the frames that saw both instances that must group them."""
    count_apart: str = "after_grouped"
    """View consensus: which frames that keep two map instances apart are counted: ``all`` (every
    frame that saw both) or ``after_grouped`` (only those after a frame first grouped them)."""
    min_share: float = 0.5
    """A map instance counts as grouped in a frame when one map id takes at least this share of its
    observed voxels (and at least ``min_voxels`` of them)."""
    min_voxels: int = 10
    """Observed voxels of a map instance below which a frame gives no evidence about it."""
    prune_min_frames: int = 2
    """Instances observed in fewer frames than this are dissolved once unseen for ``prune_after`` frames (0 = never)."""
    prune_after: int = 15
    """Frames after its last observation at which a rarely seen instance is dissolved."""
    prune_min_voxels: int = 0
    """Instances owning fewer voxels than this are dissolved too once unseen for ``prune_after`` frames (0 = never)."""
    fill_passes: int = 4
    """Passes in which unlabelled voxels take their neighbours' majority id."""
    smooth_passes: int = 0
    """Passes in which labelled voxels take their neighbours' majority id when it outvotes their own."""
    join_supports: bool = True
    """An instance that stands on the floor and holds up a larger one (a table's legs under its top)
    joins it, at each search for boundary planes, and splitting does not take it off again
    (``samosaic3d_core.memory_supports``; needs ``structure``)."""
    support_floor: float = 0.05
    """Metres above the floor within which an instance's lowest voxel stands on it."""
    support_reach: float = 0.045
    """Metres within which a holder's voxels touch the top of what holds it up."""
    support_contact: int = 5
    """Voxels of the holder that must rest on the piece's top (and fewer below its base)."""
    support_footprint: float = 0.5
    """Largest footprint of a piece (its box seen from above) as a share of its holder's: legs under
    a wide top, not a box under a box."""
    support_gap: float = 0.35
    """Metres a thin piece (``support_leg_width``) may bridge from its top to the first instance
    straight above it: a leg whose upper end is never mapped under its table's top (0: off). 0.35
    and 0.1 were level on the short validation scenes; 0.35 also reaches the legs of a 1500-frame
    validation scan (docs/map_quality.md, "Legs whose upper end is never seen")."""
    support_leg_width: float = 0.1
    """Metres across that every part of a piece's footprint stays within for ``support_gap``."""
    join_backrests: bool = True
    """A thin upright slab standing along one edge of an instance's top (a chair's back on its seat)
    joins it at each search for boundary planes, and splitting does not take it off again
    (``samosaic3d_core.memory_backrests``; needs ``structure``). Its contact is ``support_reach``
    and ``support_contact``. Chosen on the validation scenes (docs/map_quality.md, "A chair's back
    on its seat")."""
    backrest_min_height: float = 0.3
    """Metres a backrest rises at least above its base's top (0.15 also joined a box stacked on a
    box on the hard validation scenes)."""
    backrest_max_thickness: float = 0.08
    """Metres: the greatest thickness of a backrest across its thin horizontal axis."""
    backrest_min_span: float = 0.8
    """Share of its base's top that a backrest spans along its long axis."""

    split_min_views: int = 3
    """Parts (``samosaic3d_core.memory_parts``): frames that must keep a part of a map instance apart
    from its largest part before it becomes an instance of its own (0 = no splitting). 3 was chosen
    over 2-5 on the validation scenes (docs/map_quality.md, "Splitting what views keep apart")."""
    oversegment_split_min_views: int | None = 0
    """``split_min_views`` with the weight-free ``oversegment`` mask source (None: ``split_min_views``):
    the frame model keeps the small pieces of one object apart in many frames, so it stays off."""
    split_ratio: float = 0.75
    """Parts: share of the frames that saw both that must keep them apart (0.6-0.9 gave the same maps)."""
    split_min_voxels: int = 30
    """Parts: voxels a part must hold to be split off."""

    def __post_init__(self):
        for name in ("every", "merge_min_views", "split_min_views", "split_min_voxels", "min_voxels", "prune_min_frames", "prune_after", "prune_min_voxels",
                     "fill_passes", "smooth_passes", "support_floor", "support_reach", "support_contact",
                     "support_footprint", "support_gap", "support_leg_width", "backrest_min_height", "backrest_max_thickness"):
            if getattr(self, name) < 0:
                raise ValueError(f"consolidation.{name} must be >= 0, got {getattr(self, name)}")
        if self.oversegment_split_min_views is not None and self.oversegment_split_min_views < 0:
            raise ValueError(f"consolidation.oversegment_split_min_views must be >= 0, got {self.oversegment_split_min_views}")
        if self.count_apart not in COUNT_APART:
            raise ValueError(f"consolidation.count_apart must be one of {COUNT_APART}, got {self.count_apart!r}")
        for name in ("merge_ratio", "min_share", "split_ratio", "backrest_min_span"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"consolidation.{name} must be in [0, 1], got {getattr(self, name)}")

    def backrest_rule(self) -> BackrestRule:
        """The backrest settings (``join_backrests``) as a ``BackrestRule``."""
        return BackrestRule(self.backrest_min_height, self.backrest_max_thickness, self.backrest_min_span,
                            self.support_reach, self.support_contact)


def frame_grouping(owner: np.ndarray, target: np.ndarray, min_share: float, min_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """Which map id a frame carries each observed map instance into.

    Args:
        owner: (U,) map id owning each of the frame's voxels before the frame (0 = none).
        target: (U,) map id the frame gives each voxel (0 = none).
    Returns:
        (P,) map ids observed on at least ``min_voxels`` voxels whose voxels went mostly (at
        least ``min_share``) to one map id, and (P,) that map id.
    """
    sel = (owner > 0) & (target > 0)
    if not sel.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs, counts = np.unique(np.stack([owner[sel], target[sel]], 1).astype(np.int64), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))  # per owner, the largest target first
    pairs, counts = pairs[order], counts[order]
    first = np.ones(len(pairs), bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    totals = np.add.reduceat(counts, np.flatnonzero(first))
    best, best_count = pairs[first], counts[first]
    keep = (totals >= max(min_voxels, 1)) & (best_count >= min_share * totals)
    return best[keep, 0], best[keep, 1]


class PairEvidence:
    """How often frames grouped / kept apart each pair of map instances they saw together."""

    def __init__(self, count_apart: str = "after_grouped"):
        self.counts: dict[tuple[int, int], list[int]] = {}  # (low id, high id) -> [together, apart]
        self.count_apart = count_apart

    def __len__(self) -> int:
        return len(self.counts)

    def observe(self, observed: np.ndarray, grouped_into: np.ndarray) -> None:
        """One frame's ``frame_grouping``: pairs carried into one id together, the others apart.

        A map instance absorbed into another map id (``grouped_into`` differs from itself) counts
        as grouped with that id too. Each pair counts at most once per frame. Frames that keep a
        pair apart count from the first frame that saw both (``count_apart`` ``all``) or only
        once a frame has grouped them (``after_grouped``).
        """
        together: set[tuple[int, int]] = set()
        apart: set[tuple[int, int]] = set()
        for a, into in zip(observed.tolist(), grouped_into.tolist()):
            if into != a:
                together.add((min(a, into), max(a, into)))
        for i in range(len(observed)):
            for j in range(i + 1, len(observed)):
                key = (int(min(observed[i], observed[j])), int(max(observed[i], observed[j])))
                (together if grouped_into[i] == grouped_into[j] else apart).add(key)
        for key in together:
            self.counts.setdefault(key, [0, 0])[0] += 1
        for key in apart - together:
            if self.count_apart == "all":
                self.counts.setdefault(key, [0, 0])[1] += 1
            elif key in self.counts:
                self.counts[key][1] += 1

    def merges(self, min_views: int, ratio: float) -> list[tuple[int, int]]:
        """Pairs (low, high) with enough grouping evidence, the best supported first."""
        if min_views <= 0:
            return []
        ready = [(t, key) for key, (t, apart) in self.counts.items() if t >= min_views and t >= ratio * (t + apart)]
        return [key for _, key in sorted(ready, key=lambda item: (-item[0], item[1]))]

    def merge_ids(self, keep: int, gone: int) -> None:
        """``gone`` merged into ``keep``: its pairs become ``keep``'s (counts added)."""
        for key in [k for k in self.counts if gone in k]:
            together, apart = self.counts.pop(key)
            other = key[0] if key[1] == gone else key[1]
            if other == keep:
                continue
            entry = self.counts.setdefault((min(keep, other), max(keep, other)), [0, 0])
            entry[0] += together
            entry[1] += apart

    def forget(self, ids) -> None:
        """Drop the pairs of dissolved ``ids``."""
        ids = set(ids)
        for key in [k for k in self.counts if k[0] in ids or k[1] in ids]:
            del self.counts[key]

    def state(self) -> np.ndarray:
        """(P, 4) int64 rows (low id, high id, together, apart)."""
        rows = [(a, b, t, s) for (a, b), (t, s) in sorted(self.counts.items())]
        return np.asarray(rows, np.int64).reshape(-1, 4)

    @classmethod
    def from_state(cls, rows: np.ndarray, num_ids: int, source: str,
                   count_apart: str = "after_grouped") -> "PairEvidence":
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != 4 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(f"{source}: 'pair_evidence' must be an (P, 4) integer array, got {rows.dtype} {rows.shape}")
        if len(rows) and (rows[:, :2].min() < 1 or rows[:, :2].max() > num_ids or rows[:, 2:].min() < 0):
            raise ValueError(f"{source}: 'pair_evidence' names ids outside 1..{num_ids} or negative counts")
        evidence = cls(count_apart)
        evidence.counts = {(int(a), int(b)): [int(t), int(s)] for a, b, t, s in rows.tolist()}
        return evidence


def mode_labels(labels: np.ndarray, neighbours: np.ndarray, rows: np.ndarray, passes: int, fill_only: bool) -> np.ndarray:
    """Relabel ``rows`` of ``labels`` by their neighbourhood's majority, ``passes`` times.

    A voxel takes the most frequent id among its neighbours (0 = unlabelled counts as an id) when
    that id is labelled and outnumbers the voxel's own id there; with ``fill_only`` only unlabelled
    voxels change. Args: labels (V,) int map id per voxel; neighbours (R, 26) rows of the
    neighbours of ``rows`` (-1 = empty). Returns the new labels (a copy).
    """
    labels = np.asarray(labels, np.int64).copy()
    for _ in range(passes):
        around = np.where(neighbours >= 0, labels[np.maximum(neighbours, 0)], -1)
        best, best_count = neighbourhood_mode(around)
        own = labels[rows]
        change = (best > 0) & (best != own) & (best_count > (around == own[:, None]).sum(axis=1))
        if fill_only:
            change &= own == 0
        if not change.any():
            break
        labels[rows[change]] = best[change]
    return labels
