"""Learned association (the paper's cascaded merging) over the dual-level ``SceneMemory``.

    stage 1  semantic:  M_short = I2SMerger(frame instances, short-term instances, cell overlap)   (K, S)
                        each frame instance joins its best short-term instance when M > i2s_merge_threshold
    stage 2  geometric: frame instances left over vs alive long-term instances by 3D box IoU (K', L)
                        each joins its best long-term instance when IoU > long_term_iou
    the rest            new instances (0)

Both stages let several frame instances join one memory instance: frame instances are unions of
fragments, and an object the frame model left in pieces must still end up as one map instance
(a one-to-one assignment would turn every extra piece into a new map instance). A long-term
instance merged in stage 2 is promoted back to short-term by ``SceneMemory.integrate`` (every
merged id re-enters the short-term FIFO at its newest end). Memory instance features are
point-weighted running means of the frame instances' features ([F2I query, colour descriptor],
``MemoryConfig.feature_update = "mean"``), so they live in the space the merger was trained on.
"""

from __future__ import annotations

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


def best_above(score: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose best column scores above ``threshold``, and that column (several rows may share one)."""
    if score.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    best = score.argmax(axis=1)
    rows = np.flatnonzero(score[np.arange(len(score)), best] > threshold)
    return rows, best[rows]


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
        short = memory.instances(np.asarray(memory.short_term_ids(), np.int64))
        if len(short):
            width = self.merger.config.width
            if frame.feats is None or frame.feats.shape[1] != width or short.feats.shape[1] != width:
                raise ValueError(f"the learned associator needs {width}-wide instance features (F2I query + colour "
                                 "descriptor) in the frame and the memory; check the frame model")
            merge = self.merge_matrix(frame, short, pair_overlap(obs, short.ids))
            rows, cols = best_above(merge, cfg.i2s_merge_threshold)
            matches[rows] = short.ids[cols]

        long = memory.instances(np.asarray(memory.long_term_ids(), np.int64))
        left = np.flatnonzero(matches == 0)
        if len(long) and len(left):
            score = box_iou(frame[left].boxes, long.boxes)  # (K', L)
            if cfg.long_term_containment:
                score = np.maximum(score, obs.containment()[left][:, long.ids])
            rows, cols = best_above(score, cfg.long_term_iou)
            matches[left[rows]] = long.ids[cols]
        return matches
