"""What a robot sees in a map beyond AP: how speckled its labels are and how many objects it holds.

    label_noise        share of labelled map points whose id differs from their neighbours' majority
    instance_counts    map instances that stand for objects (>= min_points scene points, mostly on
                       labelled ground truth) against the ground-truth objects
    map_quality        both, as the entries of a metrics.json (the demo's report)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from samosaic3d_core.geometry import pack_voxel_keys, voxel_keys

NEIGHBOUR_OFFSETS = np.array([o for o in product((-1, 0, 1), repeat=3) if o != (0, 0, 0)], np.int64)
"""The 26 voxels around a voxel: every voxel centre within 1.8 voxels (sqrt(3) = 1.73 < 1.8 < 2)."""


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
    keys = pack_voxel_keys(coords, "map points")
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    neighbour_ids = np.full((len(ids), len(NEIGHBOUR_OFFSETS)), -1, np.int64)  # (N, 26), -1 = no point there
    for k, offset in enumerate(NEIGHBOUR_OFFSETS):
        wanted = pack_voxel_keys(coords + offset, "map points")
        slot = np.minimum(np.searchsorted(sorted_keys, wanted), len(ids) - 1)
        found = sorted_keys[slot] == wanted
        neighbour_ids[found, k] = ids[order[slot[found]]]
    present = neighbour_ids >= 0
    own = ((neighbour_ids == ids[:, None]) & present).sum(axis=1)
    counted = (ids > 0) & present.any(axis=1)
    if not counted.any():
        return 0.0
    disagree = _largest_other_count(neighbour_ids, ids) > own
    return float(disagree[counted].mean())


def _largest_other_count(neighbour_ids: np.ndarray, own_ids: np.ndarray) -> np.ndarray:
    """(N,) how often the most frequent id other than the point's own occurs among its neighbours."""
    other = np.where((neighbour_ids >= 0) & (neighbour_ids != own_ids[:, None]), neighbour_ids, -1)
    # missing entries get distinct negative values so that they never form a run
    other = np.where(other >= 0, other, -2 - np.arange(other.shape[1])[None, :])
    runs = np.sort(other, axis=1)
    best = (runs[:, 0] >= 0).astype(np.int64)
    current = best.copy()
    for j in range(1, runs.shape[1]):
        same = (runs[:, j] == runs[:, j - 1]) & (runs[:, j] >= 0)
        current = np.where(same, current + 1, (runs[:, j] >= 0).astype(np.int64))
        best = np.maximum(best, current)
    return best


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


def instance_counts(pred_ids: np.ndarray, gt_ids: np.ndarray, min_points: int = 100) -> InstanceCounts:
    """Count object instances of a map transferred onto scene points (``transfer_instances``).

    Args:
        pred_ids: (N,) int predicted id per scene point, 0 = none; gt_ids: (N,) int, 0 = unlabelled.
    """
    pred_ids = np.asarray(pred_ids, np.int64)
    gt_ids = np.asarray(gt_ids, np.int64)
    if pred_ids.shape != gt_ids.shape:
        raise ValueError(f"pred_ids {pred_ids.shape} and gt_ids {gt_ids.shape} must have the same shape")
    pred, pred_size = np.unique(pred_ids[pred_ids > 0], return_counts=True)
    on_object = np.array([np.count_nonzero(gt_ids[pred_ids == p] > 0) for p in pred], np.int64)
    big = (pred_size >= min_points) & (2 * on_object > pred_size)
    _, gt_size = np.unique(gt_ids[gt_ids > 0], return_counts=True)
    return InstanceCounts(map_instances=int(big.sum()), objects=int((gt_size >= min_points).sum()))


def map_quality(scene_map, pred_ids: np.ndarray, gt_ids: np.ndarray, voxel_size: float, min_points: int = 100) -> dict:
    """The map-quality entries of a metrics.json: label noise (0..1), object instances, objects.

    scene_map: the map (``SceneMap``) on its own grid of ``voxel_size``; pred_ids, gt_ids: (N,) per
    scene point (``transfer_instances`` and the ground truth).
    """
    counts = instance_counts(pred_ids, gt_ids, min_points)
    return {"label_noise": round(label_noise(scene_map.xyz, scene_map.instance_ids, voxel_size), 4),
            "object_instances": counts.map_instances, "objects": counts.objects}
