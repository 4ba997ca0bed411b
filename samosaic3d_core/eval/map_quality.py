"""What a robot sees in a map beyond AP: how speckled its labels are and how many objects it holds.

    label_noise        share of labelled map points whose id differs from their neighbours' majority
                       (also of the ground truth itself, ``label_noise_gt``: thin objects beside large
                       ones and objects beside unlabelled structure count even when labelled right)
    instance_counts    map instances that stand for objects (>= min_points scene points, mostly on
                       labelled ground truth) against the ground-truth objects
    object_owners      the map id that holds each object (an id that changes is an identity a robot loses)
    map_quality        both, as the entries of a metrics.json (``run``, ``demo``, ``eval-bag``)
    score_map          a map transferred onto a scene's points: what AP scores, and its map quality
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.eval.config import EvalConfig
from samosaic3d_core.eval.instance_ap import SceneEvalInput
from samosaic3d_core.eval.scene_points import ScenePoints, prediction_masks, transfer_instances
from samosaic3d_core.geometry import VoxelIndex, neighbourhood_mode, pack_voxel_keys, voxel_keys
from samosaic3d_core.types import SceneMap


def label_noise(xyz: np.ndarray, instance_ids: np.ndarray, voxel_size: float) -> float:
    """Share of labelled points (id > 0) that disagree with the majority of their neighbours.

    Points are taken on a grid of ``voxel_size`` (a map holds one point per voxel); a point's
    neighbours are the points in the 26 voxels around its own (centres within 1.8 voxels), ids
    0 included. A point disagrees when some other id is more frequent among its neighbours than
    its own (ties agree). Points without neighbours are not counted. Returns 0.0 without any
    counted point.

    Args:
        xyz: (N, 3) float metres; instance_ids: (N,) int, 0 = no instance.
    """
    ids = np.asarray(instance_ids, np.int64)
    if len(ids) == 0:
        return 0.0
    coords = voxel_keys(xyz, voxel_size)
    rows = VoxelIndex(pack_voxel_keys(coords, "map points")).neighbours(coords, "map points")  # (N, 26)
    neighbour_ids = np.where(rows >= 0, ids[np.maximum(rows, 0)], -1)
    present = rows >= 0
    own = (neighbour_ids == ids[:, None]).sum(axis=1)
    counted = (ids > 0) & present.any(axis=1)
    if not counted.any():
        return 0.0
    _, largest_other = neighbourhood_mode(np.where(neighbour_ids != ids[:, None], neighbour_ids, -1))
    return float((largest_other > own)[counted].mean())


@dataclass(frozen=True)
class InstanceCounts:
    """Map instances that stand for objects, and the objects of the ground truth."""

    map_instances: int
    """Predicted ids on >= ``min_points`` scene points whose majority ground truth is an object (not
    floor, wall or ceiling, which are unlabelled)."""
    objects: int
    """Ground-truth objects on >= ``min_points`` scene points."""

    @property
    def ratio(self) -> float:
        """map_instances / objects (inf when the scene has no object)."""
        return self.map_instances / self.objects if self.objects else float("inf")


def _point_ids(pred_ids: np.ndarray, gt_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and ground-truth ids per scene point as int64, checked to have the same shape."""
    pred_ids = np.asarray(pred_ids, np.int64)
    gt_ids = np.asarray(gt_ids, np.int64)
    if pred_ids.shape != gt_ids.shape:
        raise ValueError(f"pred_ids {pred_ids.shape} and gt_ids {gt_ids.shape} must have the same shape")
    return pred_ids, gt_ids


def instance_counts(pred_ids: np.ndarray, gt_ids: np.ndarray, min_points: int = 100) -> InstanceCounts:
    """Count object instances of a map transferred onto scene points (``transfer_instances``).

    Args:
        pred_ids: (N,) int predicted id per scene point, 0 = none; gt_ids: (N,) int, 0 = unlabelled.
    """
    pred_ids, gt_ids = _point_ids(pred_ids, gt_ids)
    pred, pred_size = np.unique(pred_ids[pred_ids > 0], return_counts=True)
    on_object = np.array([np.count_nonzero(gt_ids[pred_ids == p] > 0) for p in pred], np.int64)
    big = (pred_size >= min_points) & (2 * on_object > pred_size)
    _, gt_size = np.unique(gt_ids[gt_ids > 0], return_counts=True)
    return InstanceCounts(map_instances=int(big.sum()), objects=int((gt_size >= min_points).sum()))


def object_owners(pred_ids: np.ndarray, gt_ids: np.ndarray, min_points: int = 100) -> dict[int, int]:
    """The map id that holds each object: {ground-truth id: the predicted id on most of its points}.

    Only objects with at least ``min_points`` scene points labelled by the map (pred id > 0) have an
    owner, so an object the map has not seen yet, or holds only a sliver of, has none.

    Args:
        pred_ids: (N,) int predicted id per scene point, 0 = none; gt_ids: (N,) int, 0 = unlabelled.
    """
    pred_ids, gt_ids = _point_ids(pred_ids, gt_ids)
    held = (gt_ids > 0) & (pred_ids > 0)
    pairs, counts = np.unique(np.stack([gt_ids[held], pred_ids[held]], axis=1), axis=0, return_counts=True)
    owners = {}
    for gt in np.unique(pairs[:, 0]):
        mine = pairs[:, 0] == gt
        if counts[mine].sum() >= min_points:
            owners[int(gt)] = int(pairs[mine, 1][counts[mine].argmax()])
    return owners


def map_quality(scene_map: SceneMap, pred_ids: np.ndarray | None, gt_ids: np.ndarray | None, voxel_size: float,
                min_points: int = 100, gt_xyz: np.ndarray | None = None) -> dict:
    """The map-quality entries of a metrics.json.

    map_instances (distinct ids in the map), label_noise (0..1, rounded to 4 decimals) and, with
    ground truth, object_instances and objects (``instance_counts``) and, given ``gt_xyz``,
    label_noise_gt: ``label_noise`` of the ground truth on its scene points, the value a perfect map
    would score (not 0: a book's border voxels beside its shelf have more shelf neighbours than
    book ones).

    scene_map: the map on its own grid of ``voxel_size``; pred_ids, gt_ids: (N,) per scene point
    (``transfer_instances`` and the ground truth), or both None for a scene without ground truth;
    gt_xyz: (N, 3) the scene points.
    """
    ids = np.asarray(scene_map.instance_ids)
    entries = {"map_instances": int(len(np.unique(ids[ids > 0]))),
               "label_noise": round(label_noise(scene_map.xyz, ids, voxel_size), 4)}
    if pred_ids is None or gt_ids is None:
        return entries
    counts = instance_counts(pred_ids, gt_ids, min_points)
    entries = {**entries, "object_instances": counts.map_instances, "objects": counts.objects}
    if gt_xyz is not None:
        entries["label_noise_gt"] = round(label_noise(gt_xyz, gt_ids, voxel_size), 4)
    return entries


@dataclass(frozen=True)
class ScoredMap:
    """A map transferred onto the scored points of a scene (``score_map``)."""

    scene_map: SceneMap
    gt_ids: np.ndarray
    """(N,) ground-truth instance per scene point, 0 = unlabelled."""
    gt_xyz: np.ndarray
    """(N, 3) the scene points, world metres."""
    pred_ids: np.ndarray
    """(N,) map instance per scene point (``transfer_instances``), 0 = none."""
    eval_input: SceneEvalInput
    """What the AP scores: the map's instances as masks over the scene points, with their scores."""

    def quality(self, voxel_size: float, min_points: int = 100) -> dict:
        """``map_quality`` of the map (on its grid of ``voxel_size``) against the scene's ground truth."""
        return map_quality(self.scene_map, self.pred_ids, self.gt_ids, voxel_size, min_points, self.gt_xyz)


def score_map(points: ScenePoints, scene_map: SceneMap, config: EvalConfig = EvalConfig(),
              name: str = "scene") -> ScoredMap:
    """Transfer ``scene_map`` onto ``points`` (``build_scene_points``); ``name`` labels the scene in errors."""
    pred_ids = transfer_instances(points, scene_map, config)
    masks, scores = prediction_masks(pred_ids, scene_map)
    return ScoredMap(scene_map, points.gt_instance, points.xyz, pred_ids,
                     SceneEvalInput(gt_instance=points.gt_instance, pred_masks=masks, pred_scores=scores, name=name))
