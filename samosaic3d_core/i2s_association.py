"""Learned association (the paper's cascaded merging) over the dual-level ``SceneMemory``.

    stage 1  semantic:  M_short = I2SMerger(frame instances, short-term instances, cell overlap)   (K, S)
                        each frame instance joins its best short-term instance when M > i2s_merge_threshold
    stage 2  geometric: frame instances left over vs alive long-term instances by 3D box IoU (K', L)
                        each joins its best long-term instance when IoU > long_term_iou
    the rest            new instances (0)

Both stages let several frame instances join one memory instance: frame instances are unions of
fragments, and an object the frame model left in pieces must still end up as one map instance
(a one-to-one assignment would turn every extra piece into a new map instance). But two frame
instances the frame model holds clearly apart (``Instances.linkage`` below ``cannot_link``) and
that meet at a concave angle (``Instances.concave``: a book and its shelf, a bottle and the counter,
not a counter's front and top) never join the same one: in order of descending score, a frame
instance skips a memory instance one of those already joined and takes its next best above the
threshold, else becomes a new instance. A long-term
instance merged in stage 2 is promoted back to short-term by ``SceneMemory.integrate`` (every
merged id re-enters the short-term FIFO at its newest end). Memory instance features are
point-weighted running means of the frame instances' features ([F2I query, colour descriptor],
``MemoryConfig.feature_update = "mean"``), so they live in the space the merger was trained on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from samosaic3d_core.geometry import box_iou
from samosaic3d_core.memory import FrameObservation, SceneMemory
from samosaic3d_core.model.i2s import I2SMerger
from samosaic3d_core.types import Instances


@dataclass
class LearnedAssociationConfig:
    """Thresholds of the two merging stages."""

    i2s_merge_threshold: float = 0.5
    """Stage 1: a frame instance joins its best short-term instance when their M_short exceeds this."""
    long_term_iou: float = 0.25
    """Stage 2: a frame instance joins its best long-term instance when their 3D box IoU exceeds this."""
    long_term_containment: bool = False
    """Stage 2 scores pairs by max(IoU, cell containment of ``FrameObservation``) instead of IoU
    alone: a partial view lying inside a long-term instance has a low box IoU but a high containment."""
    cannot_link: float = 0.05
    """Two frame instances whose grouping affinity in the frame model (``Instances.linkage``) lies
    below this, and that meet at a concave angle (``Instances.concave``, where the frame model
    gives it), never join one memory instance (0: off). Books and boxes in shelves, items on
    counters were sent to their support's map instance although the frame model kept them apart.
    0.05 was chosen over 0.02-0.3 on the default and hard validation scenes; without the concavity
    test large objects whose faces the frame model keeps apart (counters) ended in two instances
    (docs/map_quality.md, "Keeping apart what the frame model keeps apart")."""
    oversegment_cannot_link: float | None = 0.0
    """``cannot_link`` with the weight-free ``oversegment`` mask source (None: ``cannot_link``). The
    frame model gives its small pieces of one object low affinities too (validation: -5.5 AP at
    0.05, -3.4 at 0.01 at any meeting; concave meetings only, -2.9 at 0.05, -2.3 at 0.02), so it
    stays off for them."""

    @property
    def reads_concavity(self) -> bool:
        """Whether the associator reads ``Instances.concave`` (the frame model must compute it)."""
        return self.cannot_link > 0

    def __post_init__(self):
        for name in ("cannot_link", "oversegment_cannot_link"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"LearnedAssociationConfig.{name} must be in [0, 1], got {value}")


def association_config_for_masks(config: LearnedAssociationConfig, mask_source: str) -> LearnedAssociationConfig:
    """``config`` with the ``cannot_link`` of ``mask_source`` (``oversegment_cannot_link``)."""
    if mask_source == "oversegment" and config.oversegment_cannot_link is not None:
        return dataclasses.replace(config, cannot_link=config.oversegment_cannot_link)
    return config


def best_above(score: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose best column scores above ``threshold``, and that column (several rows may share one)."""
    if score.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    best = score.argmax(axis=1)
    rows = np.flatnonzero(score[np.arange(len(score)), best] > threshold)
    return rows, best[rows]


def join_apart(score: np.ndarray, threshold: float, apart: np.ndarray) -> np.ndarray:
    """(K,) column each row joins (-1: none): its best column above ``threshold`` unless a row it
    must stay apart from (``apart`` (K, K) bool) already joined that column; rows are placed in
    order of descending score and then take their next best. Without any ``apart`` pair this is
    ``best_above``."""
    joined = np.full(len(score), -1, np.int64)
    rows, cols = np.nonzero(score > threshold)
    for k in np.argsort(-score[rows, cols], kind="stable"):
        row, col = rows[k], cols[k]
        if joined[row] < 0 and not apart[row, joined == col].any():
            joined[row] = col
    return joined


def pair_overlap(obs: FrameObservation, ids: np.ndarray) -> np.ndarray:
    """(K, S, 2) float32 cell containment and owned fraction of each frame instance with map ``ids``."""
    return np.stack([obs.containment()[:, ids], obs.owned_fraction()[:, ids]], axis=-1).astype(np.float32)


class LearnedAssociator:
    """Associator of the learned pipeline (``OnlineSegmenter``'s ``Associator`` protocol)."""

    def __init__(self, merger: I2SMerger, config: LearnedAssociationConfig | None = None, device: str = "cpu"):
        self.config = config or LearnedAssociationConfig()
        self.device = device
        self.merger = merger.to(device).eval()

    @torch.no_grad()
    def merge_matrix(self, frame: Instances, memory_instances: Instances, overlap: np.ndarray | None = None) -> np.ndarray:
        """(K, S) float32 M_short of frame instances with memory instances; overlap: (K, S, 2) or None."""
        dev = self.device
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=dev)  # noqa: E731
        merge = self.merger.merge_matrix(as_tensor(frame.feats), as_tensor(frame.boxes),
                                         as_tensor(memory_instances.feats), as_tensor(memory_instances.boxes),
                                         None if overlap is None else as_tensor(overlap))
        return merge.cpu().numpy()

    def __call__(self, obs: FrameObservation, memory: SceneMemory) -> np.ndarray:
        """(K,) int64 map id per frame instance, 0 = create a new instance."""
        frame, cfg = obs.instances, self.config
        matches = np.zeros(len(frame), np.int64)
        if len(frame) == 0:
            return matches
        apart = None
        if cfg.cannot_link > 0 and frame.linkage is not None:
            apart = frame.linkage < cfg.cannot_link
            if frame.concave is not None:
                apart &= frame.concave
            apart = apart if apart.any() else None
        short = memory.instances(np.asarray(memory.short_term_ids(), np.int64), scored=False)
        if len(short):
            width = self.merger.config.width
            if frame.feats is None or frame.feats.shape[1] != width or short.feats.shape[1] != width:
                raise ValueError(f"the learned associator needs {width}-wide instance features (F2I query + colour "
                                 "descriptor) in the frame and the memory; check the frame model")
            merge = self.merge_matrix(frame, short, pair_overlap(obs, short.ids))
            matches = self._join(merge, cfg.i2s_merge_threshold, short.ids, matches, np.arange(len(frame)), apart)

        long = memory.instances(np.asarray(memory.long_term_ids(), np.int64), scored=False)
        left = np.flatnonzero(matches == 0)
        if len(long) and len(left):
            score = box_iou(frame[left].boxes, long.boxes)  # (K', L)
            if cfg.long_term_containment:
                score = np.maximum(score, obs.containment()[left][:, long.ids])
            matches = self._join(score, cfg.long_term_iou, long.ids, matches, left, apart)
        return matches

    @staticmethod
    def _join(score: np.ndarray, threshold: float, ids: np.ndarray, matches: np.ndarray, rows: np.ndarray,
              apart: np.ndarray | None) -> np.ndarray:
        """``matches`` with frame instances ``rows`` joined to the memory ``ids`` they score best with
        (``score`` (R, S)), kept ``apart``. The stages' memory instances are disjoint (short-term,
        long-term), so only rows of the same stage can claim the same one."""
        matches = matches.copy()
        if apart is None:
            found, cols = best_above(score, threshold)
        else:
            joined = join_apart(score, threshold, apart[np.ix_(rows, rows)])
            found = np.flatnonzero(joined >= 0)
            cols = joined[found]
        matches[rows[found]] = ids[cols]
        return matches
