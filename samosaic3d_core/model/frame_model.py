"""The learned frame model: F2I predictions -> the frame's Instances and a label per point.

Implements the frame-model protocol the online pipeline calls,
``__call__(frame, points, fragments) -> (Instances, point_instance_local)``; the other
implementation is the baseline that takes every fragment as an instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from samosaic3d_core.model.f2i import F2IInput, F2IModel
from samosaic3d_core.types import Fragments, Frame, FramePoints, Instances


@dataclass
class F2IFrameConfig:
    """Turning predictions into instances."""

    score_threshold: float = 0.3
    """Instances scoring below this are dropped."""
    mask_threshold: float = 0.5
    """A point belongs to an instance where the mask probability exceeds this."""
    min_points: int = 20
    """Instances with fewer points (after each point picks one instance) are dropped."""
    mask_quality: bool = True
    """Score = objectness x mean mask probability inside the mask (False: objectness alone)."""
    device: str = "cpu"
    """Device the model runs on ('cpu', 'cuda')."""


def instance_scores(objectness: torch.Tensor, probs: torch.Tensor, config: F2IFrameConfig) -> torch.Tensor:
    """(N̂,) scores from objectness logits (N̂,) and mask probabilities (N̂, N)."""
    scores = objectness.sigmoid()
    if config.mask_quality:
        inside = (probs > config.mask_threshold).to(probs.dtype)
        scores = scores * (probs * inside).sum(dim=1) / inside.sum(dim=1).clamp(min=1)
    return scores


class F2IFrameModel:
    """Runs an F2IModel on one frame (eval mode, no gradients)."""

    def __init__(self, model: F2IModel, config: F2IFrameConfig | None = None):
        self.config = config or F2IFrameConfig()
        self.model = model.to(self.config.device).eval()

    @torch.no_grad()
    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """Instances of the frame (local ids 1..K by descending score; ``feats`` = final instance
        queries) and (N,) int32 local id per point of ``points`` (0 = none)."""
        cfg = self.config
        channels = self.model.backbone.config.out_channels
        num_points = len(points.xyz)
        if len(fragments) == 0 or num_points == 0:
            return Instances.empty(channels), np.zeros(num_points, np.int32)
        pred = self.model([F2IInput.from_points(points, len(fragments), cfg.device)])[0]
        probs = pred.final.mask_logits.sigmoid()  # (N̂, N)
        scores = instance_scores(pred.final.objectness, probs, cfg)  # (N̂,)
        probs = torch.where(scores[:, None] >= cfg.score_threshold, probs, torch.zeros_like(probs))
        best_prob, best = probs.max(dim=0)  # (N,) each point's most likely instance
        label = torch.where(best_prob > cfg.mask_threshold, best + 1, torch.zeros_like(best)).cpu().numpy()
        counts = np.bincount(label, minlength=len(scores) + 1)[1:]  # (N̂,)
        keep = np.flatnonzero(counts >= max(cfg.min_points, 1))
        scores_np = scores.cpu().numpy()
        keep = keep[np.argsort(-scores_np[keep], kind="stable")]
        local = np.zeros(len(scores) + 1, np.int32)  # predicted index + 1 -> local id, 0 for dropped
        local[keep + 1] = np.arange(1, len(keep) + 1)
        point_instance = local[label]
        return self._instances(points, point_instance, scores_np[keep], pred.queries[keep].cpu().numpy()), point_instance

    @staticmethod
    def _instances(points: FramePoints, point_instance: np.ndarray, scores: np.ndarray, feats: np.ndarray) -> Instances:
        k = len(scores)
        box_min, box_max, centroid = (np.zeros((k, 3), np.float32) for _ in range(3))
        num_points = np.bincount(point_instance, minlength=k + 1)[1:].astype(np.int64)
        for i in range(k):
            xyz = points.xyz[point_instance == i + 1]
            box_min[i], box_max[i], centroid[i] = xyz.min(axis=0), xyz.max(axis=0), xyz.mean(axis=0)
        return Instances(
            ids=np.arange(1, k + 1, dtype=np.int64),
            scores=scores.astype(np.float32),
            box_min=box_min,
            box_max=box_max,
            num_points=num_points,
            feats=feats.astype(np.float32),
            centroid=centroid,
        )
