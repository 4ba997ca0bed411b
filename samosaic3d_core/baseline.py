"""The heuristic baseline (ESAM-style): every fragment is an instance, merged into the map by rules.

Two parts, each plugging into ``OnlineSegmenter``:
  * ``FragmentsAsInstances`` - the frame model: fragment j of the frame becomes frame instance
    j + 1, described by a colour descriptor (``color_descriptor``).
  * ``HeuristicAssociator`` - matches frame instances to map instances with a score that mixes
    3D box IoU, voxel overlap and colour similarity, solved by Hungarian matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import box_gap, box_iou
from samosaic3d_core.memory import FrameObservation, SceneMemory
from samosaic3d_core.types import Fragments, Frame, FramePoints, Instances


@dataclass
class DescriptorConfig:
    """The colour descriptor of frame and map instances (``color_descriptor``)."""

    color_bins: int = 8
    """Bins per RGB channel of the colour histogram."""

    def __post_init__(self):
        if not 1 <= self.color_bins <= 256:
            raise ValueError(f"color_bins must be in 1..256, got {self.color_bins}")

    @property
    def dim(self) -> int:
        """Width of one descriptor: ``descriptor_dim(color_bins)``."""
        return descriptor_dim(self.color_bins)


def descriptor_dim(color_bins: int) -> int:
    """Width of a colour descriptor with ``color_bins`` bins per channel: three histograms and the mean colour."""
    return 3 * color_bins + 3


@dataclass
class AssociationConfig:
    """The baseline's merge rule: score = w_iou * IoU + w_overlap * overlap + w_feat * cosine.

    IoU is the 3D box IoU; overlap the containment of ``FrameObservation``: association cells the
    two share over the cells of the smaller one (near 1 when a partial view lies on an instance
    seen before, or a fuller view covers an instance first seen partially, where box IoU is low);
    cosine the colour-descriptor similarity clipped to [0, 1]. Keep ``merge_threshold`` above
    ``feature_weight`` so that colour alone never merges anything.
    """

    iou_weight: float = 0.3
    """Weight of the 3D box IoU in the merge score."""
    overlap_weight: float = 0.5
    """Weight of the cell containment in the merge score."""
    feature_weight: float = 0.2
    """Weight of the colour-descriptor cosine similarity in the merge score."""
    merge_threshold: float = 0.3
    """A Hungarian match is kept only if its merge score reaches this."""
    max_box_gap: float = 0.1
    """Pairs whose boxes are farther apart than this (metres) are never matched."""
    overlap_join_threshold: float = 0.5
    """A frame instance left unmatched joins the map instance owning at least this fraction of its
    association cells (several frame instances may join one map instance); above 1 disables the rule."""


def color_descriptor(rgb: np.ndarray, group: np.ndarray, num_groups: int, bins: int) -> np.ndarray:
    """Colour descriptor of each group of points.

    The square roots of the per-channel colour histograms (``bins`` per channel, each summing to
    1; with square roots the cosine of two histograms is their Bhattacharyya coefficient),
    followed by the mean colour in [0, 1]; the whole vector is L2-normalised.

    Args:
        rgb: (N, 3) uint8; group: (N,) int in [0, num_groups).
    Returns:
        (num_groups, 3 * bins + 3) float32; a group without points gets zeros.
    """
    rgb = np.asarray(rgb)
    group = np.asarray(group, np.int64)
    bin_of = (rgb.astype(np.int64) * bins) >> 8  # (N, 3) in 0..bins-1
    slot = group[:, None] * (3 * bins) + np.arange(3) * bins + bin_of  # (N, 3)
    hist = np.bincount(slot.reshape(-1), minlength=num_groups * 3 * bins).reshape(num_groups, 3, bins)
    count = np.bincount(group, minlength=num_groups).astype(np.float64)
    hist = np.sqrt(hist / np.maximum(count, 1)[:, None, None]).reshape(num_groups, 3 * bins)
    mean = np.stack([np.bincount(group, rgb[:, c], num_groups) for c in range(3)], 1).astype(np.float64)
    mean /= 255.0 * np.maximum(count, 1)[:, None]
    desc = np.concatenate([hist, mean], axis=1)
    desc /= np.maximum(np.linalg.norm(desc, axis=1, keepdims=True), 1e-12)
    return desc.astype(np.float32)


def instance_color_descriptors(points: FramePoints, point_local: np.ndarray, num_instances: int, bins: int) -> np.ndarray:
    """(K, descriptor_dim(bins)) float32 ``color_descriptor`` of the points of each of K frame instances.

    point_local: (N,) int frame-local instance id 1..K of each of the N ``points``, 0 = none.
    """
    member = point_local > 0
    return color_descriptor(points.rgb[member], point_local[member] - 1, num_instances, bins)


class FragmentsAsInstances:
    """Frame model of the baseline: each lifted fragment is one frame instance.

    Instance j + 1 is fragment j: its box, centroid and point count, the mask score as its score
    and ``color_descriptor`` of its points as its feature.
    """

    def __init__(self, config: DescriptorConfig | None = None):
        self.config = config or DescriptorConfig()

    @property
    def feat_dim(self) -> int:
        return self.config.dim

    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """Returns the K = len(fragments) frame instances and (N,) int64 local id per point (0 = none)."""
        num = len(fragments)
        point_local = points.fragment.astype(np.int64) + 1
        feats = instance_color_descriptors(points, point_local, num, self.config.color_bins)
        instances = Instances(
            ids=np.arange(1, num + 1, dtype=np.int64),
            scores=fragments.score.astype(np.float32),
            box_min=fragments.box_min,
            box_max=fragments.box_max,
            num_points=fragments.num_points,
            feats=feats,
            centroid=fragments.centroid,
        )
        return instances, point_local


class ColorFeatures:
    """Wraps a frame model so its instances carry ``color_descriptor`` features.

    The heuristic associator compares colour descriptors; a learned frame model's own features
    (instance queries) mean nothing to it. With this, "F2I + heuristic merging" is the learned
    frame model followed by exactly the baseline's association. With ``append`` the descriptor is
    appended to the model's own features instead ([query, colour], what the learned merger reads).
    """

    def __init__(self, frame_model, config: DescriptorConfig | None = None, append: bool = False):
        self.frame_model = frame_model
        self.config = config or DescriptorConfig()
        self.append = append

    @property
    def color_dim(self) -> int:
        return self.config.dim

    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        instances, point_local = self.frame_model(frame, points, fragments)
        point_local = np.asarray(point_local, np.int64)
        color = instance_color_descriptors(points, point_local, len(instances), self.config.color_bins)
        instances.feats = np.concatenate([instances.feats, color], axis=1) if self.append else color
        return instances, point_local


class HeuristicAssociator:
    """Associator of the baseline; searches all alive map instances (see ``AssociationConfig``)."""

    def __init__(self, config: AssociationConfig | None = None):
        self.config = config or AssociationConfig()

    def merge_scores(self, obs: FrameObservation, candidates: Instances) -> np.ndarray:
        """(K, A) merge score of each frame instance with each candidate map instance (0 = gated out)."""
        cfg, frame = self.config, obs.instances
        score = cfg.iou_weight * box_iou(frame.boxes, candidates.boxes)
        score += cfg.overlap_weight * obs.containment()[:, candidates.ids]
        if cfg.feature_weight and frame.feats is not None and frame.feats.shape[1]:
            score += cfg.feature_weight * np.clip(_cosine(frame.feats, candidates.feats), 0.0, 1.0)
        gap = box_gap(frame.boxes, candidates.boxes)
        score[gap > cfg.max_box_gap] = 0.0
        return score

    def __call__(self, obs: FrameObservation, memory: SceneMemory) -> np.ndarray:
        """(K,) int64 map id per frame instance, 0 = create a new instance."""
        matches = np.zeros(len(obs.instances), np.int64)
        candidates = memory.instances(scored=False)
        if len(matches) == 0 or len(candidates) == 0:
            return matches
        score = self.merge_scores(obs, candidates)  # (K, A)
        from scipy.optimize import linear_sum_assignment  # here: the learned pipeline never loads it

        rows, cols = linear_sum_assignment(score, maximize=True)
        keep = score[rows, cols] >= self.config.merge_threshold
        matches[rows[keep]] = candidates.ids[cols[keep]]

        overlap = obs.owned_fraction()[:, candidates.ids]  # (K, A)
        best = overlap.argmax(axis=1)
        join = (matches == 0) & (overlap[np.arange(len(matches)), best] >= self.config.overlap_join_threshold)
        matches[join] = candidates.ids[best[join]]
        return matches


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, C), (B, C) -> (A, B) cosine similarity (0 for zero vectors)."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T
