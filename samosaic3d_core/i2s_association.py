"""Learned association (the paper's cascaded merging) over the dual-level ``SceneMemory``.

    stage 1  semantic:  M_short = I2SMerger(frame instances, short-term instances)     (K, S)
                        Hungarian on M_short; a pair is merged when M > i2s_merge_threshold
    stage 2  geometric: frame instances left over vs alive long-term instances by 3D box IoU (K', L)
                        Hungarian on IoU; a pair is merged when IoU > long_term_iou
    the rest            new instances (0)

A long-term instance merged in stage 2 is promoted back to short-term by ``SceneMemory.integrate``
(every merged id re-enters the short-term FIFO at its newest end). Memory instance features are
point-weighted running means of the F2I query features of the frame instances merged into them
(``MemoryConfig.feature_update = "mean"``), so they live in the space the merger was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from samosaic3d_core.geometry import iou_3d
from samosaic3d_core.memory import FrameObservation, SceneMemory
from samosaic3d_core.model.i2s import I2SMerger
from samosaic3d_core.types import Instances


@dataclass
class LearnedAssociationConfig:
    """Thresholds of the two merging stages."""

    i2s_merge_threshold: float = 0.5
    """Stage 1: a Hungarian pair is merged when its M_short exceeds this."""
    long_term_iou: float = 0.25
    """Stage 2: a Hungarian pair is merged when its 3D box IoU exceeds this."""
    long_term_containment: bool = False
    """Stage 2 scores pairs by max(IoU, cell containment of ``FrameObservation``) instead of IoU
    alone: a partial view lying inside a long-term instance has a low box IoU but a high containment."""
    device: str = "cpu"
    """Torch device the merger runs on."""


def boxes_of(instances: Instances) -> np.ndarray:
    """(K, 6) float32 min xyz, max xyz."""
    return np.concatenate([instances.box_min, instances.box_max], axis=1).astype(np.float32)


def hungarian_above(score: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the maximum-score one-to-one assignment whose score exceeds ``threshold``."""
    if score.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = linear_sum_assignment(score, maximize=True)
    keep = score[rows, cols] > threshold
    return rows[keep], cols[keep]


class LearnedAssociator:
    """Associator of the learned pipeline (``OnlineSegmenter``'s ``Associator`` protocol)."""

    def __init__(self, merger: I2SMerger, config: LearnedAssociationConfig | None = None):
        self.config = config or LearnedAssociationConfig()
        self.merger = merger.to(self.config.device).eval()

    @torch.no_grad()
    def merge_matrix(self, frame: Instances, memory_instances: Instances) -> np.ndarray:
        """(K, S) float32 M_short of frame instances with memory instances."""
        dev = self.config.device
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32), device=dev)  # noqa: E731
        merge = self.merger.merge_matrix(as_tensor(frame.feats), as_tensor(boxes_of(frame)),
                                         as_tensor(memory_instances.feats), as_tensor(boxes_of(memory_instances)))
        return merge.cpu().numpy()

    def __call__(self, obs: FrameObservation, memory: SceneMemory) -> np.ndarray:
        """(K,) int64 map id per frame instance, 0 = create a new instance."""
        frame, cfg = obs.instances, self.config
        matches = np.zeros(len(frame), np.int64)
        if len(frame) == 0:
            return matches
        short = memory.instances(np.asarray(memory.short_term_ids(), np.int64))
        if len(short):
            if frame.feats is None or frame.feats.shape[1] != short.feats.shape[1]:
                raise ValueError("the learned associator needs frame instance features of the memory's width "
                                 "(the F2I query features); check the frame model")
            rows, cols = hungarian_above(self.merge_matrix(frame, short), cfg.i2s_merge_threshold)
            matches[rows] = short.ids[cols]

        long = memory.instances(np.asarray(memory.long_term_ids(), np.int64))
        left = np.flatnonzero(matches == 0)
        if len(long) and len(left):
            score = iou_3d(frame.box_min[left], frame.box_max[left], long.box_min, long.box_max)  # (K', L)
            if cfg.long_term_containment:
                score = np.maximum(score, obs.containment()[left][:, long.ids])
            rows, cols = hungarian_above(score, cfg.long_term_iou)
            matches[left[rows]] = long.ids[cols]
        return matches
