"""``sim``: SAM-like fragments made from ground-truth parts, with SAM's typical mistakes.

What "segment anything" masks get wrong on real frames, reproduced with a seeded generator so a
model can be trained and scored on synthetic scenes:

* over-segmentation: a part is cut into pieces (``split_prob``; lighting edges, occlusion);
* under-segmentation: neighbouring parts of one object merged (``merge_prob``) and, more rarely,
  touching parts of two different objects merged (``cross_merge_prob``);
* ragged, shrunken boundaries (``erode_px``, ``boundary_noise``);
* missed fragments (``miss_prob``) and tiny regions dropped (``min_area``).

The room shell (floor, walls; part id 0) is cut into planar pieces by surface orientation, as SAM
returns masks for floors and walls too. Everything is a function of ``seed`` and the frame index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from samosaic3d_core.masks.base import result_from_labels
from samosaic3d_core.masks.regions import adjacent_pairs, boundary, split_components, surface_classes
from samosaic3d_core.types import Frame, MaskResult


@dataclass
class SimConfig:
    split_prob: float = 0.3
    """Probability that a part is cut in two along a random line (applied twice: up to 4 pieces)."""
    merge_prob: float = 0.15
    """Probability that a fragment is merged with a touching fragment of the same object."""
    cross_merge_prob: float = 0.03
    """Probability that a fragment is merged with a touching fragment of another object."""
    erode_px: int = 1
    """Pixels removed along every fragment boundary."""
    boundary_noise: float = 0.3
    """Probability that a pixel on a fragment boundary is dropped (ragged edges)."""
    miss_prob: float = 0.05
    """Probability that a fragment is missed entirely."""
    min_area: int = 30
    """Fragments with fewer pixels are dropped."""
    background: bool = True
    """Also return masks for the room shell (floor, walls), split by surface orientation."""
    score_range: tuple[float, float] = (0.6, 1.0)
    """Scores are drawn uniformly in this range; merged fragments get the lower end."""
    seed: int = 0
    """Seed; combined with the frame index."""

    def __post_init__(self):
        for name in ("split_prob", "merge_prob", "cross_merge_prob", "boundary_noise", "miss_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SimConfig.{name} must be in [0, 1], got {value}")
        if self.erode_px < 0 or self.min_area < 1:
            raise ValueError("SimConfig.erode_px must be >= 0 and min_area >= 1")


class SimMasks:
    """Fragments from ``frame.part_gt`` (or ``instance_gt`` when a scene has no part images)."""

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()

    def __call__(self, frame: Frame) -> MaskResult:
        cfg = self.config
        parts = frame.part_gt if frame.part_gt is not None else frame.instance_gt
        if parts is None:
            raise ValueError(
                f"frame {frame.index}: the sim mask source needs ground-truth part or instance images; "
                "this scene has none (use --masks oversegment or fastsam)"
            )
        rng = np.random.default_rng([cfg.seed, max(int(frame.index), 0)])
        labels = split_components(np.asarray(parts))  # occlusion already splits parts into pieces
        instance = _owner_instance(labels, frame.instance_gt)
        labels, instance = self._split(labels, instance, rng)
        labels, merged = self._merge(labels, instance, rng)
        if cfg.background:
            labels = self._add_background(frame, labels, parts)
        labels = self._degrade(labels, rng)
        ids = np.unique(labels[labels > 0])
        keep = ids[rng.random(len(ids)) >= cfg.miss_prob]
        labels = np.where(np.isin(labels, keep), labels, 0)
        low, high = cfg.score_range
        scores = {int(i): float(low if i in merged else rng.uniform(low, high)) for i in keep}
        return result_from_labels(labels, scores, cfg.min_area)

    def _split(self, labels, instance, rng):
        """Cut regions along random lines through their centroid."""
        cfg = self.config
        for _ in range(2):
            next_id = int(labels.max()) + 1
            ids = np.unique(labels[labels > 0])
            for i in ids[rng.random(len(ids)) < cfg.split_prob].tolist():
                ys, xs = np.nonzero(labels == i)
                if len(ys) < 4 * cfg.min_area:
                    continue
                angle = rng.uniform(0, np.pi)
                proj = (xs - xs.mean()) * np.cos(angle) + (ys - ys.mean()) * np.sin(angle)
                side = proj > rng.uniform(-0.3, 0.3) * proj.std()
                labels[ys[side], xs[side]] = next_id
                instance[next_id] = instance.get(i, 0)
                next_id += 1
        return labels, instance

    def _merge(self, labels, instance, rng):
        """Union touching regions: same object with ``merge_prob``, different objects with ``cross_merge_prob``."""
        cfg = self.config
        parent = {int(i): int(i) for i in np.unique(labels[labels > 0])}

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        merged = set()
        pairs = adjacent_pairs(labels)
        for a, b in pairs[rng.permutation(len(pairs))].tolist() if len(pairs) else []:
            same = instance.get(a, 0) == instance.get(b, 0) and instance.get(a, 0) > 0
            if rng.random() < (cfg.merge_prob if same else cfg.cross_merge_prob):
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[rb] = ra
                    merged.add(ra)
        if not parent:
            return labels, merged
        lut = np.zeros(int(labels.max()) + 1, np.int64)
        for i in parent:
            lut[i] = find(i)
        return lut[labels], merged

    def _add_background(self, frame, labels, parts):
        """Label room-shell pixels with valid depth by connected planar-orientation regions."""
        shell = (np.asarray(parts) == 0) & np.isfinite(frame.depth) & (frame.depth > 0) & (labels == 0)
        if not shell.any():
            return labels
        classes = np.where(shell, surface_classes(frame), 0)
        pieces = split_components(classes, start=int(labels.max()) + 1)
        return np.where(pieces > 0, pieces, labels)

    def _degrade(self, labels, rng):
        """Erode every region by ``erode_px`` and drop boundary pixels at random."""
        cfg = self.config
        edge = boundary(labels)
        if cfg.erode_px > 1:
            edge = ndimage.binary_dilation(edge, iterations=cfg.erode_px - 1)
        drop = edge if cfg.erode_px > 0 else np.zeros_like(edge)
        ring = ndimage.binary_dilation(edge) & ~drop
        drop = drop | (ring & (rng.random(labels.shape) < cfg.boundary_noise))
        return np.where(drop, 0, labels)


def _owner_instance(labels: np.ndarray, instance_gt: np.ndarray | None) -> dict[int, int]:
    """Label -> ground-truth instance it lies on (by majority; all 0 without instance images)."""
    ids = np.unique(labels[labels > 0])
    if instance_gt is None or len(ids) == 0:
        return {int(i): 0 for i in ids}
    sel = labels > 0
    label, inst = labels[sel].astype(np.int64), instance_gt[sel].astype(np.int64)
    span = int(inst.max()) + 1 if len(inst) else 1
    keys, counts = np.unique(label * span + inst, return_counts=True)  # sorted by (label, instance)
    label, inst = keys // span, keys % span
    # per label the most frequent instance, the smallest one among ties
    order = np.lexsort((inst, -counts, label))
    first = np.ones(len(order), bool)
    first[1:] = label[order][1:] != label[order][:-1]
    return dict(zip(label[order][first].tolist(), inst[order][first].tolist()))
