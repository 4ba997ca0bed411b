"""What a robot sees in a map beyond AP: how speckled its labels are and how many objects it holds.

    label_noise        share of labelled map points whose id differs from their neighbours' majority
    instance_counts    map instances that stand for objects (>= min_points scene points, mostly on
                       labelled ground truth) against the ground-truth objects
    map_quality        both, as the entries of a metrics.json (the demo's report)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import VoxelIndex, neighbourhood_mode, pack_voxel_keys, voxel_keys

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
