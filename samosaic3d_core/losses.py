"""F2I losses: pure functions of (predictions, targets) -> scalar terms.

Per frame and decoder layer l, instance queries are matched to ground-truth instances
(Hungarian, cost = mask BCE + dice + box L1 - objectness), then

    L_inst^l = sum_j w_j L_query(j, sigma(j)) / sum_j w_j,      w_j = max_i A_ij

where L_query is mask BCE + dice + box L1 (+ GIoU) + objectness BCE for a matched query and
objectness BCE (target 0) for an unmatched one. Dividing by sum_j w_j makes the term a weighted
mean whose scale does not depend on N̂. w_j is detached by default (see LossConfig.detach_weights).
The frame loss is  lambda_count L_count + sum_l L_inst^l + lambda_aff L_aff  (count: cross-entropy
over 1..N_max).

L_aff supervises the affinity W = A A^T itself (an addition to the paper's losses, which reach A
only through the instance queries): a balanced BCE of W_ij against "fragments i and j have the same
ground-truth instance" over fragment pairs i != j; pairs of two fragments of no instance (floor,
walls) are left out, a fragment of no instance and one of an instance must not group. Negative
pairs of fragments that nearly touch (the hard cases: a box on a box, a monitor on its desk, a
chair under its table) are averaged as a group of their own, so the many easy far-apart pairs do
not drown them.

Temporal association (I2S): L_merge = BCE(M_short, G) with G_ij = 1 iff frame instance i and
memory instance j carry the same non-zero ground-truth id (``merge_targets``, ``merge_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from samosaic3d_core.geometry import box_gap, group_boxes, majority_vote
from samosaic3d_core.model.f2i import F2IPrediction
from samosaic3d_core.model.heads import LayerPrediction, frame_box, normalize_boxes


@dataclass
class LossConfig:
    """Loss weights (also the matching cost weights) and target rules."""

    mask_bce: float = 2.0
    """Weight of the per-point mask BCE (mean over the frame's valid points)."""
    mask_dice: float = 2.0
    """Weight of the mask dice loss."""
    box_l1: float = 1.0
    """Weight of the L1 loss on boxes in frame-box units."""
    box_giou: float = 0.0
    """Weight of the 3D axis-aligned GIoU loss (0 = off)."""
    objectness: float = 1.0
    """Weight of the objectness BCE (matched -> 1, unmatched -> 0)."""
    count: float = 0.5
    """lambda_count: weight of the instance-count cross-entropy."""
    affinity: float = 1.0
    """lambda_aff: weight of the affinity BCE on W (0 = off, the paper's losses only)."""
    affinity_near_gap: float = 0.0
    """Negative fragment pairs whose 3D boxes are at most this far apart (metres) form their own group
    in the affinity BCE (hard negatives); 0 = one group for all negatives."""
    assignment_weighting: bool = True
    """Weight each query's loss by w_j = max_i A_ij (False: every query weighs 1, plain set loss)."""
    detach_weights: bool = True
    """Stop the gradient through w_j. With the gradient, every w_j is pushed down, and the loss is
    minimised by sending all fragments to one center (the others' losses then weigh ~0): measured to
    collapse the grouping. Detached, w_j only re-weights the queries; A learns through the queries."""
    unlabeled: str = "background"
    """Points with ground-truth id 0 (wall, floor, unlabeled): 'background' = negatives of every mask,
    'ignore' = left out of the mask losses."""
    min_gt_points: int = 10
    """A ground-truth instance with fewer points in the frame is not a target."""

    def __post_init__(self) -> None:
        if self.unlabeled not in ("background", "ignore"):
            raise ValueError(f"LossConfig.unlabeled must be 'background' or 'ignore', got {self.unlabeled!r}")


@dataclass
class F2ITarget:
    """Ground truth of one frame: G instances over its N points.

    ids:   (G,) int64 ground-truth instance ids
    masks: (G, N) float32 0/1
    valid: (N,) bool, points that count in the mask losses
    boxes: (G, 6) float32 [centre, size] in frame-box units (see ``model.heads.frame_box``)
    fragment_ids: (M,) int64 target id each fragment belongs to (its majority id if that is a
                  target, else 0 = none); None leaves the affinity loss out
    fragment_near: (M, M) bool, fragment boxes within ``LossConfig.affinity_near_gap``; None = none
    """

    ids: Tensor
    masks: Tensor
    valid: Tensor
    boxes: Tensor
    fragment_ids: Optional[Tensor] = None
    fragment_near: Optional[Tensor] = None

    @property
    def count(self) -> int:
        return int(len(self.ids))

    def to(self, device: torch.device | str) -> "F2ITarget":
        moved = [None if t is None else t.to(device) for t in (self.fragment_ids, self.fragment_near)]
        return F2ITarget(self.ids.to(device), self.masks.to(device), self.valid.to(device), self.boxes.to(device),
                         *moved)


@dataclass
class LossTerms:
    """Scalar loss terms of a batch; ``total`` is what to backpropagate, the rest are for logging
    (instance terms are summed over layers, everything averaged over frames)."""

    total: Tensor
    count: Tensor
    instance: Tensor
    mask_bce: Tensor
    mask_dice: Tensor
    box: Tensor
    objectness: Tensor
    affinity: Tensor

    def as_dict(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def make_target(
    point_ids: np.ndarray, fragment: np.ndarray, num_fragments: int, xyz: np.ndarray, config: LossConfig
) -> F2ITarget:
    """Targets of one frame from the ground-truth instance id of each point (0 = unlabeled).

    The targets are the instances that are the majority label of at least one fragment (the model
    can only build instances out of fragments) and have >= ``min_gt_points`` points in the frame.
    The target mask covers every frame point with that id, inside fragments or not.
    """
    point_ids = np.asarray(point_ids, np.int64)
    fragment = np.asarray(fragment, np.int64)
    if point_ids.shape != fragment.shape or len(xyz) != len(point_ids):
        raise ValueError(f"make_target: point_ids {point_ids.shape}, fragment {fragment.shape}, xyz {np.shape(xyz)} differ")
    member = fragment >= 0
    majority = majority_vote(fragment[member], point_ids[member], num_fragments)  # (M,)
    ids, counts = np.unique(point_ids, return_counts=True)
    big = set(ids[counts >= config.min_gt_points].tolist())
    ids = np.array(sorted(i for i in set(majority.tolist()) if i != 0 and i in big), np.int64)  # (G,)
    masks = torch.as_tensor(point_ids[None, :] == ids[:, None], dtype=torch.float32)  # (G, N)
    valid = torch.as_tensor(point_ids != 0 if config.unlabeled == "ignore" else np.ones(len(point_ids), bool))
    xyz_t = torch.as_tensor(np.asarray(xyz, np.float32))
    origin, extent = frame_box(xyz_t)
    box_min = torch.stack([xyz_t[m.bool()].min(dim=0).values for m in masks]) if len(ids) else xyz_t.new_zeros(0, 3)
    box_max = torch.stack([xyz_t[m.bool()].max(dim=0).values for m in masks]) if len(ids) else xyz_t.new_zeros(0, 3)
    fragment_ids = np.where(np.isin(majority, ids), majority, 0).astype(np.int64)  # (M,)
    near = None
    if config.affinity_near_gap > 0:
        near = torch.as_tensor(fragment_box_gaps(np.asarray(xyz)[member], fragment[member], num_fragments)
                               <= config.affinity_near_gap)
    return F2ITarget(torch.as_tensor(ids), masks, valid, normalize_boxes(box_min, box_max, origin, extent),
                     torch.as_tensor(fragment_ids), near)


def fragment_box_gaps(xyz: np.ndarray, fragment: np.ndarray, num_fragments: int) -> np.ndarray:
    """(M, M) Euclidean gap (metres, 0 when overlapping) between the boxes of the fragments' points.

    xyz: (N, 3); fragment: (N,) in 0..M-1; a fragment without points is infinitely far from everything.
    """
    boxes = group_boxes(xyz, fragment, num_fragments)
    return box_gap(boxes, boxes)


def pairwise_mask_bce(logits: Tensor, targets: Tensor) -> Tensor:
    """(P, N) logits, (G, N) 0/1 targets -> (P, G) mean BCE over the N points."""
    pos, neg = F.softplus(-logits), F.softplus(logits)  # -log p, -log(1 - p)
    return (pos @ targets.T + neg @ (1 - targets).T) / max(logits.shape[1], 1)


def pairwise_dice(logits: Tensor, targets: Tensor) -> Tensor:
    """(P, N) logits, (G, N) 0/1 targets -> (P, G) dice loss 1 - (2|p y| + 1) / (|p| + |y| + 1)."""
    probs = logits.sigmoid()
    inter = probs @ targets.T
    return 1 - (2 * inter + 1) / (probs.sum(dim=1)[:, None] + targets.sum(dim=1)[None, :] + 1)


def box_giou(a: Tensor, b: Tensor) -> Tensor:
    """(K,) generalized IoU of axis-aligned boxes (K, 6) [centre, size] paired row by row."""
    a_lo, a_hi = a[:, :3] - a[:, 3:] / 2, a[:, :3] + a[:, 3:] / 2
    b_lo, b_hi = b[:, :3] - b[:, 3:] / 2, b[:, :3] + b[:, 3:] / 2
    inter = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp(min=0).prod(dim=1)
    union = a[:, 3:].prod(dim=1) + b[:, 3:].prod(dim=1) - inter
    hull = (torch.maximum(a_hi, b_hi) - torch.minimum(a_lo, b_lo)).prod(dim=1)
    return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)


def hungarian_match(layer: LayerPrediction, target: F2ITarget, config: LossConfig) -> tuple[Tensor, Tensor]:
    """Matched (query index (K,), target index (K,)), K = min(N̂, G), minimising the weighted cost."""
    num_queries, num_targets = len(layer.objectness), target.count
    if num_queries == 0 or num_targets == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    with torch.no_grad():
        logits, masks = layer.mask_logits[:, target.valid], target.masks[:, target.valid]
        cost = (
            config.mask_bce * pairwise_mask_bce(logits, masks)
            + config.mask_dice * pairwise_dice(logits, masks)
            + config.box_l1 * torch.cdist(layer.boxes, target.boxes, p=1) / 6  # mean L1, as in the loss
            - config.objectness * layer.objectness.sigmoid()[:, None]
        )  # (N̂, G)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)


def query_losses(layer: LayerPrediction, target: F2ITarget, config: LossConfig) -> dict[str, Tensor]:
    """Per-query loss terms (N̂,) each: mask_bce, mask_dice, box, objectness (unmatched: only objectness)."""
    rows, cols = hungarian_match(layer, target, config)
    rows, cols = rows.to(layer.objectness.device), cols.to(layer.objectness.device)
    zeros = layer.objectness.new_zeros(len(layer.objectness))
    bce, dice, box = zeros.clone(), zeros.clone(), zeros.clone()
    if len(rows):
        logits, masks = layer.mask_logits[rows][:, target.valid], target.masks[cols][:, target.valid]
        bce = bce.index_put((rows,), F.binary_cross_entropy_with_logits(logits, masks, reduction="none").mean(dim=1))
        dice = dice.index_put((rows,), pairwise_dice(logits, masks).diagonal())
        matched_box = (layer.boxes[rows] - target.boxes[cols]).abs().mean(dim=1) * config.box_l1
        if config.box_giou > 0:
            matched_box = matched_box + config.box_giou * (1 - box_giou(layer.boxes[rows], target.boxes[cols]))
        box = box.index_put((rows,), matched_box)
    obj_target = zeros.index_put((rows,), torch.ones_like(rows, dtype=zeros.dtype))
    obj = F.binary_cross_entropy_with_logits(layer.objectness, obj_target, reduction="none")
    return {
        "mask_bce": config.mask_bce * bce,
        "mask_dice": config.mask_dice * dice,
        "box": box,
        "objectness": config.objectness * obj,
    }


def query_weights(assign: Tensor, config: LossConfig) -> Tensor:
    """(N̂,) w_j = max_i A_ij over the active assignment (M, N̂), or ones without assignment weighting."""
    if not config.assignment_weighting or assign.shape[0] == 0:
        return assign.new_ones(assign.shape[1])
    weights = assign.max(dim=0).values
    return weights.detach() if config.detach_weights else weights


def affinity_loss(affinity: Tensor, fragment_ids: Tensor, near: Optional[Tensor] = None) -> Tensor:
    """Balanced BCE of W (M, M) against same-instance pairs of ``fragment_ids`` (M,) (0 = none).

    Pairs i != j count; a pair of two fragments of no instance is left out. Positives and negatives
    are averaged separately and the means averaged, so the term does not depend on how many
    fragments an object is cut into; with ``near`` (M, M) bool, near negatives and far negatives
    are two separate groups. 0 (graph kept) without pairs.
    """
    ids = fragment_ids.to(affinity.device)
    same = (ids[:, None] == ids[None, :]) & (ids[:, None] > 0)
    counted = ~torch.eye(len(ids), dtype=torch.bool, device=affinity.device) & ((ids[:, None] > 0) | (ids[None, :] > 0))
    prob = affinity.clamp(1e-6, 1 - 1e-6)
    negative = ~same & counted
    groups = [(same & counted, prob.log())]
    if near is None:
        groups.append((negative, (1 - prob).log()))
    else:
        near = near.to(affinity.device)
        groups += [(negative & near, (1 - prob).log()), (negative & ~near, (1 - prob).log())]
    terms = [-log_p[chosen].mean() for chosen, log_p in groups if chosen.any()]
    return torch.stack(terms).mean() if terms else affinity.sum() * 0.0


def frame_losses(pred: F2IPrediction, target: F2ITarget, config: LossConfig) -> dict[str, Tensor]:
    """Loss terms of one frame: 'total', 'count', 'instance', 'affinity' and the per-term sums over layers."""
    zero = pred.count_logits.sum() * 0.0  # keeps the graph alive for frames with nothing to supervise
    terms = {k: zero for k in ("instance", "mask_bce", "mask_dice", "box", "objectness")}
    count = zero
    if pred.assign.shape[0] > 0:  # a frame with fragments: supervise the count
        n_max = len(pred.count_logits)
        label = torch.tensor([min(max(target.count, 1), n_max) - 1], device=pred.count_logits.device)
        count = F.cross_entropy(pred.count_logits[None], label)
    weights = query_weights(pred.active_assign, config)  # (N̂,)
    norm = weights.sum().clamp(min=1e-6)
    for layer in pred.layers:
        if len(layer.objectness) == 0:
            continue
        per_query = query_losses(layer, target, config)
        for name, values in per_query.items():
            weighted = (weights * values).sum() / norm
            terms[name] = terms[name] + weighted
            terms["instance"] = terms["instance"] + weighted
    affinity = zero
    if config.affinity > 0 and target.fragment_ids is not None and pred.affinity.shape[0] > 1:
        affinity = affinity_loss(pred.affinity, target.fragment_ids, target.fragment_near)
    total = config.count * count + terms["instance"] + config.affinity * affinity
    return {"total": total, "count": count, **terms, "affinity": affinity}


def f2i_loss(preds: Sequence[F2IPrediction], targets: Sequence[F2ITarget], config: LossConfig) -> LossTerms:
    """Loss of a batch of frames (mean over frames)."""
    if len(preds) != len(targets) or not preds:
        raise ValueError(f"f2i_loss: {len(preds)} predictions for {len(targets)} targets (need equal, >= 1)")
    per_frame = [frame_losses(p, t, config) for p, t in zip(preds, targets)]
    mean = {name: torch.stack([f[name] for f in per_frame]).mean() for name in per_frame[0]}
    return LossTerms(**mean)


def merge_targets(frame_ids: Tensor, memory_ids: Tensor) -> Tensor:
    """(K, S) float G: 1 where frame instance i and memory instance j have the same non-zero
    ground-truth id (their majority id), else 0. frame_ids: (K,) int; memory_ids: (S,) int."""
    same = frame_ids[:, None] == memory_ids[None, :]
    return (same & (frame_ids[:, None] > 0)).float()


def merge_loss(logits: Tensor, targets: Tensor, pos_weight: float = 1.0) -> Tensor:
    """Mean BCE of the merge matrix sigmoid(logits) (K, S) against ``merge_targets``; positives
    (rare: at most one per row) count ``pos_weight`` times. 0 (graph kept) for an empty matrix."""
    if logits.numel() == 0:
        return logits.sum() * 0.0
    weight = torch.where(targets > 0, torch.full_like(targets, pos_weight), torch.ones_like(targets))
    return F.binary_cross_entropy_with_logits(logits, targets, weight=weight)
