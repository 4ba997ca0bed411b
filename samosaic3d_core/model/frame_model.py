"""The learned frame model: F2I predictions -> the frame's Instances and a label per point.

Implements the frame-model protocol the online pipeline calls,
``__call__(frame, points, fragments) -> (Instances, point_instance_local)``; the other
implementation is the baseline that takes every fragment as an instance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.spatial import cKDTree

from samosaic3d_core.geometry import facing, group_boxes, instance_concavity
from samosaic3d_core.masks.regions import world_normals
from samosaic3d_core.model.f2i import F2IInput, F2IModel, F2IPrediction
from samosaic3d_core.model.threads import torch_threads
from samosaic3d_core.types import Fragments, Frame, FramePoints, Instances

READOUTS = ("affinity", "fragments", "points")
FILL_BY = ("box", "nearest")
"""Where the affinity readout may place a point that lies in no fragment (``F2IFrameConfig.fill_by``)."""


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
    readout: Literal["affinity", "fragments", "points"] = "affinity"
    """"affinity": fragments are grouped by the affinity W = A Aᵀ (average linkage: two groups join
    while the mean affinity between them exceeds ``group_threshold``); a group is scored by the
    instance its fragments are assigned to (objectness x mean mask probability on the group).
    "points": each point takes its most likely instance mask. "fragments": whole fragments join
    the instance whose mask covers them best (mean probability over the fragment's points >
    ``mask_threshold``); fragments no instance covers stay instances of their own. With
    "fragments" (and "affinity", but for the points it fills), instance boundaries are fragment
    boundaries; both label every fragment point."""
    group_threshold: float | None = 0.7
    """With ``readout="affinity"``: the mean affinity above which two groups of fragments join.
    None: the model's own (``F2IModel.group_threshold``: ``PairHeadConfig.group_threshold`` for a
    model with a pair head, whose refined affinity replaces W, else ``W_GROUP_THRESHOLD``). The
    default was chosen with the shipped weights on the default and hard validation scenes
    (docs/map_quality.md): above the pair head's own 0.5, fewer touching objects are fused. The
    ``oversegment`` mask source has its own (``oversegment_group_threshold``)."""
    oversegment_group_threshold: float | None = 0.6
    """``group_threshold`` for the fragments of the weight-free ``oversegment`` mask source (None:
    ``group_threshold`` for them too). Its colour-and-depth pieces are smaller and more numerous
    than SAM's, and the shipped weights, trained on SAM-like fragments, group them best at a lower
    threshold: 0.6 was chosen over 0.5-0.8 on validation scenes at 320x240 and 640x480
    (docs/map_quality.md). Applied by the segmenter, which knows its mask source."""
    fill_unassigned: bool = True
    """With ``readout="affinity"``: a point in no fragment (eroded mask boundaries, thin parts no
    mask caught) joins a group near it (``fill_by``, ``fill_margin``) whose instance mask gives it a
    probability above ``mask_threshold``."""
    fill_margin: float = 0.03
    """Metres from a group's nearest fragment point (``fill_by: nearest``) or around its box (``box``)
    within which ``fill_unassigned`` may add points. Chosen with ``box``: with 0.1, 16 % of
    the filled points lay on another object than their group's (on hard validation scenes, as many
    wrong points as the fragments themselves put in frame instances); 0.03 was chosen over 0-0.1 and
    no fill on the default and hard validation scenes (docs/map_quality.md, "Filling the points no
    fragment covers")."""
    fill_by: str = "nearest"
    """Where ``fill_unassigned`` may place a point: ``nearest`` (to the group of the nearest fragment
    point within ``fill_margin``, if that group's mask holds it) or ``box`` (within ``fill_margin`` of
    the box of the group whose mask is surest of it). A box holds what stands in or on its object
    (books in a shelf, chairs under a table), so ``box`` gave their borders to the enclosing
    object: ``nearest`` gained 6.2 AP on the hard validation scenes and 2.6 on the default ones with
    SAM-like fragments (docs/map_quality.md, "Filling from the nearest fragment")."""
    oversegment_fill_by: str | None = "box"
    """``fill_by`` for the ``oversegment`` mask source (None: ``fill_by`` for it too): its small
    pieces lost 0.7 and 1.1 AP with ``nearest`` on validation scenes at 320x240 and 640x480."""
    singleton_score: float = 0.5
    """With ``readout="fragments"``: score factor of a fragment left as its own instance."""
    cpu_threads: int = 1
    """Torch threads of the frame model on the CPU (0: leave torch's setting). spconv's CPU
    convolutions must run single-threaded, and switching the thread count around each of them
    costs more than the other operators gain from more threads: 75 ms per 320x240 frame with 1
    against 115 ms with 2 on a 2-core CPU (docs/runtime.md)."""

    def __post_init__(self):
        if self.readout not in READOUTS:
            raise ValueError(f"F2IFrameConfig.readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        for name in ("group_threshold", "oversegment_group_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"F2IFrameConfig.{name} must be in [0, 1], got {value}")
        for name, value in (("fill_by", self.fill_by), ("oversegment_fill_by", self.oversegment_fill_by)):
            if value not in FILL_BY and not (name == "oversegment_fill_by" and value is None):
                raise ValueError(f"F2IFrameConfig.{name} must be one of {', '.join(FILL_BY)}, got {value!r}")
        if self.cpu_threads < 0:
            raise ValueError(f"F2IFrameConfig.cpu_threads must be >= 0, got {self.cpu_threads}")


def frame_config_for_masks(config: F2IFrameConfig, mask_source: str) -> F2IFrameConfig:
    """``config`` with the grouping threshold and fill of ``mask_source`` (``oversegment_group_threshold``,
    ``oversegment_fill_by``)."""
    if mask_source == "oversegment" and config.oversegment_group_threshold is not None:
        config = dataclasses.replace(config, group_threshold=config.oversegment_group_threshold)
    if mask_source == "oversegment" and config.oversegment_fill_by is not None:
        config = dataclasses.replace(config, fill_by=config.oversegment_fill_by)
    return config


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


def group_by_affinity(affinity: np.ndarray, threshold: float) -> np.ndarray:
    """(M,) int64 group 0..G-1 of each fragment: average-linkage clustering of the (M, M) affinity,
    cut where the mean affinity between two groups falls to ``threshold`` or below."""
    m = len(affinity)
    if m <= 1:
        return np.zeros(m, np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - np.clip((affinity + affinity.T) / 2, 0.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    # fcluster keeps merges at distance <= t; an affinity exactly at the threshold must not join
    cut = np.nextafter(1.0 - threshold, -np.inf)
    _, group = np.unique(fcluster(tree, t=cut, criterion="distance"), return_inverse=True)
    return group.astype(np.int64)


def instance_linkage(affinity: np.ndarray, fragment: np.ndarray, labels: np.ndarray, num_instances: int) -> np.ndarray:
    """(K, K) float32 mean grouping affinity between the fragments of each two instances: the
    average linkage at which ``group_by_affinity`` left them apart (1 on the diagonal).

    affinity: (M, M) of the fragments; fragment: (N,) fragment index per point (-1 = none); labels:
    (N,) local id 1..K per point (0 = none), all points of a fragment in one instance (as
    ``label_affinity`` gives them).
    """
    m = len(affinity)
    member = np.flatnonzero(fragment >= 0)
    instance_of = np.zeros(m, np.int64)  # 0: the fragment is in no instance
    instance_of[fragment[member]] = labels[member]
    onehot = np.zeros((m, num_instances + 1))
    onehot[np.arange(m), instance_of] = 1.0
    onehot = onehot[:, 1:]
    total = onehot.T @ np.clip((affinity + affinity.T) / 2, 0.0, 1.0) @ onehot
    sizes = onehot.sum(axis=0)
    linkage = total / np.maximum(np.outer(sizes, sizes), 1.0)
    np.fill_diagonal(linkage, 1.0)
    return linkage.astype(np.float32)


def label_affinity(
    pred: F2IPrediction, fragment: np.ndarray, config: F2IFrameConfig, xyz: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Affinity readout (``readout="affinity"``): fragments grouped by ``pred.grouping_affinity``
    (the pair head's refined affinity, else W), one instance per group, cut at
    ``config.group_threshold`` (which must be set: ``F2IFrameModel`` sets the model's own).

    fragment: (N,) fragment index per point (-1 = none); xyz: (N, 3) metres (needed to fill points
    outside fragments; None = no filling). Each group's instance query is the one its
    fragments are assigned to most (sum over the group of A_ik); its score is that query's
    objectness x the mean mask probability of the query over the group's fragment points. Points in
    no fragment are filled from the groups' masks (``fill_unassigned``).
    Returns (labels (N,) int32 local id 1..K by descending score, 0 = none; source (K,) int64
    instance query index; scores (K,) float32).
    """
    if config.group_threshold is None:
        raise ValueError("label_affinity: config.group_threshold is None; set it, or read out through "
                         "F2IFrameModel, which takes the model's own (F2IModel.group_threshold)")
    m = pred.assign.shape[0]
    group = group_by_affinity(pred.grouping_affinity.cpu().numpy(), config.group_threshold)  # (M,)
    num_groups = int(group.max()) + 1 if m else 0
    assign = pred.active_assign.cpu().numpy()  # (M, N̂)
    votes = np.zeros((num_groups, assign.shape[1]))
    np.add.at(votes, group, assign)
    source = votes.argmax(axis=1) if num_groups else np.zeros(0, np.int64)  # (G,)
    member = np.flatnonzero(fragment >= 0)
    point_group = group[fragment[member]]  # (N',)
    probs = pred.final.mask_logits.sigmoid().cpu().numpy()  # (N̂, N)
    on_group = probs[source[point_group], member]  # each member point's probability under its group's query
    counts = np.maximum(np.bincount(point_group, minlength=num_groups), 1)
    quality = np.bincount(point_group, on_group, minlength=num_groups) / counts
    scores = (1.0 / (1.0 + np.exp(-pred.final.objectness.cpu().numpy()[source])) * quality).astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    local_of_group = np.empty(num_groups, np.int32)
    local_of_group[order] = np.arange(1, num_groups + 1)
    labels = np.zeros(len(fragment), np.int32)
    labels[member] = local_of_group[point_group]
    outside = np.flatnonzero(fragment < 0)
    if config.fill_unassigned and xyz is not None and num_groups and len(outside):
        filled, group_of = fill_outside(xyz[member], point_group, xyz[outside], probs[source][:, outside], config)
        labels[outside[filled]] = local_of_group[group_of]
    return labels, source[order].astype(np.int64), scores[order]


def fill_outside(inside_xyz: np.ndarray, inside_group: np.ndarray, outside_xyz: np.ndarray, group_probs: np.ndarray,
                 config: F2IFrameConfig) -> tuple[np.ndarray, np.ndarray]:
    """Which points outside every fragment join a group, and which (``config.fill_by``).

    inside_xyz / inside_group: (N', 3) the fragment points and (N',) their group; outside_xyz:
    (N'', 3) the other points; group_probs: (G, N'') each group's mask probability on them.
    "box": the group whose mask is surest, if the point lies within ``fill_margin`` of that group's
    box; "nearest": the group of the nearest fragment point within ``fill_margin``. Either way the
    group's mask must exceed ``mask_threshold``. Returns indices into the outside points and their
    groups (each (F,)).
    """
    if config.fill_by == "nearest":
        distance, nearest = cKDTree(inside_xyz).query(outside_xyz, distance_upper_bound=config.fill_margin)
        near = np.flatnonzero(np.isfinite(distance))
        group = inside_group[nearest[near]]
        held = group_probs[group, near] > config.mask_threshold
        return near[held], group[held]
    best = group_probs.argmax(axis=0)
    boxes = group_boxes(inside_xyz, inside_group, len(group_probs))  # (G, 6)
    lo, hi = boxes[:, :3], boxes[:, 3:]
    near = np.all((outside_xyz >= lo[best] - config.fill_margin) & (outside_xyz <= hi[best] + config.fill_margin), axis=1)
    filled = np.flatnonzero((group_probs[best, np.arange(len(outside_xyz))] > config.mask_threshold) & near)
    return filled, best[filled]


class F2IFrameModel:
    """Runs an F2IModel on one frame (eval mode, no gradients) on ``device`` ('cpu', 'cuda').

    ``config.group_threshold`` None becomes the model's own (``F2IModel.group_threshold``) here.
    ``concavity``: also tell which frame instances meet at a concave angle (``Instances.concave``,
    from the depth image's surface normals), for the associator's ``cannot_link``.
    """

    def __init__(self, model: F2IModel, config: F2IFrameConfig | None = None, device: str | torch.device = "cpu",
                 concavity: bool = False):
        config = config or F2IFrameConfig()
        if config.group_threshold is None:
            config = dataclasses.replace(config, group_threshold=model.group_threshold)
        self.config, self.device = config, device
        self.concavity = concavity
        self.model = model.to(device).eval()

    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """Instances of the frame (local ids 1..K by descending score; ``feats`` = final instance
        queries; ``linkage`` with the affinity readout, and ``concave`` too with ``concavity``) and
        (N,) int32 local id per point of ``points`` (0 = none)."""
        on_cpu = torch.device(self.device).type == "cpu"
        with torch.no_grad(), torch_threads(self.config.cpu_threads if on_cpu else 0):
            return self._segment(frame, points, fragments)

    def _segment(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        channels = self.model.backbone.config.out_channels
        if len(fragments) == 0 or len(points.xyz) == 0:
            return Instances.empty(channels), np.zeros(len(points.xyz), np.int32)
        # the image coordinates and the camera feed the pair head, whose affinity only the affinity readout reads
        reads_pair_head = self.config.readout == "affinity"
        image_width, pose = (frame.depth.shape[1], frame.pose) if reads_pair_head else (None, None)
        pred = self.model([F2IInput.from_points(points, len(fragments), self.device, image_width, pose)])[0]
        queries = pred.queries.cpu().numpy()
        if self.config.readout == "affinity":
            labels, source, scores = label_affinity(pred, points.fragment, self.config, points.xyz)
            instances = self._instances(points, labels, scores, queries[source])
            instances.linkage = instance_linkage(pred.grouping_affinity.cpu().numpy(), points.fragment, labels, len(scores))
            if self.concavity:
                camera = frame.pose[:3, 3]
                normals = facing(world_normals(frame).reshape(-1, 3)[points.pixel], points.xyz, camera)
                instances.concave = instance_concavity(points.xyz, normals, labels, len(scores))
            return instances, labels
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
