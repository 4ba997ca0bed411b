"""The learned frame model: F2I predictions -> the frame's Instances and a label per point.

Implements the frame-model protocol the online pipeline calls,
``__call__(frame, points, fragments) -> (Instances, point_instance_local)``; the other
implementation is the baseline that takes every fragment as an instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from samosaic3d_core.model.f2i import F2IInput, F2IModel, F2IPrediction
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
    readout: str = "fragments"
    """"points": each point takes its most likely instance mask. "fragments": whole fragments join
    the instance whose mask covers them best (mean probability over the fragment's points >
    ``mask_threshold``); fragments no instance covers stay instances of their own, so instance
    boundaries are fragment boundaries and nothing is left unlabelled."""
    singleton_score: float = 0.5
    """With ``readout="fragments"``: score factor of a fragment left as its own instance."""

    def __post_init__(self):
        if self.readout not in ("points", "fragments"):
            raise ValueError(f"F2IFrameConfig.readout must be 'points' or 'fragments', got {self.readout!r}")


def instance_scores(objectness: torch.Tensor, probs: torch.Tensor, config: F2IFrameConfig) -> torch.Tensor:
    """(N̂,) scores from objectness logits (N̂,) and mask probabilities (N̂, N)."""
    scores = objectness.sigmoid()
    if config.mask_quality:
        inside = (probs > config.mask_threshold).to(probs.dtype)
        scores = scores * (probs * inside).sum(dim=1) / inside.sum(dim=1).clamp(min=1)
    return scores


def label_points(pred: F2IPrediction, config: F2IFrameConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a frame's final predictions into kept instances and one label per point.

    Each point picks its most likely instance among those scoring >= ``score_threshold`` (if that
    probability > ``mask_threshold``); instances left with < ``min_points`` points are dropped.
    Returns (labels (N,) int32 local id 1..K by descending score, 0 = none; kept (K,) indices
    into the predicted instances; scores (K,) float32).
    """
    probs = pred.final.mask_logits.sigmoid()  # (N̂, N)
    scores = instance_scores(pred.final.objectness, probs, config)  # (N̂,)
    probs = torch.where(scores[:, None] >= config.score_threshold, probs, torch.zeros_like(probs))
    if len(probs) == 0:
        return np.zeros(probs.shape[1], np.int32), np.zeros(0, np.int64), np.zeros(0, np.float32)
    best_prob, best = probs.max(dim=0)  # (N,) each point's most likely instance
    label = torch.where(best_prob > config.mask_threshold, best + 1, torch.zeros_like(best)).cpu().numpy()
    counts = np.bincount(label, minlength=len(scores) + 1)[1:]  # (N̂,)
    scores_np = scores.cpu().numpy().astype(np.float32)
    kept = np.flatnonzero(counts >= max(config.min_points, 1))
    kept = kept[np.argsort(-scores_np[kept], kind="stable")]
    local = np.zeros(len(scores) + 1, np.int32)  # predicted index + 1 -> local id, 0 for dropped
    local[kept + 1] = np.arange(1, len(kept) + 1)
    return local[label], kept, scores_np[kept]


def label_fragments(
    pred: F2IPrediction, fragment: np.ndarray, frag_scores: np.ndarray, config: F2IFrameConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fragment-snapped readout (``readout="fragments"``).

    fragment: (N,) fragment index per point (-1 = none); frag_scores: (M,) mask-source scores.
    Returns (labels (N,) int32 local id 1..K, 0 = none; source (K,) int64: predicted instance index,
    or -1 - j for fragment j left on its own; scores (K,) float32; unused (M,) bool).
    """
    probs = pred.final.mask_logits.sigmoid()  # (N̂, N)
    scores = instance_scores(pred.final.objectness, probs, config).cpu().numpy()
    m = len(frag_scores)
    member = np.flatnonzero(fragment >= 0)
    frag = torch.as_tensor(fragment[member], device=probs.device)
    sums = probs.new_zeros(m, len(probs)).index_add_(0, frag, probs[:, member].T)  # (M, N̂)
    counts = torch.bincount(frag, minlength=m).clamp(min=1).to(probs.dtype)
    cover = (sums / counts[:, None]).cpu().numpy()  # mean probability of each instance on each fragment
    best = cover.argmax(axis=1) if len(probs) else np.zeros(m, np.int64)
    best_cover = cover.max(axis=1) if len(probs) else np.zeros(m)
    grouped = (best_cover > config.mask_threshold) & (scores[best] >= config.score_threshold) if len(probs) else best_cover > 1
    groups = np.unique(best[grouped])
    source = np.concatenate([groups, -1 - np.flatnonzero(~grouped)]).astype(np.int64)
    group_scores = scores[groups] if len(groups) else np.zeros(0)
    single_scores = config.singleton_score * np.asarray(frag_scores, np.float64)[~grouped]
    all_scores = np.concatenate([group_scores, single_scores]).astype(np.float32)
    order = np.argsort(-all_scores, kind="stable")
    source, all_scores = source[order], all_scores[order]
    local_of_fragment = np.zeros(m, np.int32)
    for local, src in enumerate(source.tolist(), start=1):
        if src >= 0:
            local_of_fragment[grouped & (best == src)] = local
        else:
            local_of_fragment[-1 - src] = local
    labels = np.zeros(len(fragment), np.int32)
    labels[member] = local_of_fragment[fragment[member]]
    return labels, source, all_scores, ~grouped


class F2IFrameModel:
    """Runs an F2IModel on one frame (eval mode, no gradients)."""

    def __init__(self, model: F2IModel, config: F2IFrameConfig | None = None):
        self.config = config or F2IFrameConfig()
        self.model = model.to(self.config.device).eval()

    @torch.no_grad()
    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """Instances of the frame (local ids 1..K by descending score; ``feats`` = final instance
        queries) and (N,) int32 local id per point of ``points`` (0 = none)."""
        channels = self.model.backbone.config.out_channels
        if len(fragments) == 0 or len(points.xyz) == 0:
            return Instances.empty(channels), np.zeros(len(points.xyz), np.int32)
        pred = self.model([F2IInput.from_points(points, len(fragments), self.config.device)])[0]
        queries = pred.queries.cpu().numpy()
        if self.config.readout == "fragments":
            labels, source, scores, _ = label_fragments(pred, points.fragment, fragments.score, self.config)
            # a fragment on its own has no instance query: it gets the mean query (no identity cue)
            fallback = queries.mean(axis=0) if len(queries) else np.zeros(queries.shape[1], np.float32)
            feats = np.stack([queries[s] if s >= 0 else fallback for s in source.tolist()]) if len(source) \
                else np.zeros((0, queries.shape[1]), np.float32)
            return self._instances(points, labels, scores, feats), labels
        labels, kept, scores = label_points(pred, self.config)
        return self._instances(points, labels, scores, queries[kept]), labels

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
