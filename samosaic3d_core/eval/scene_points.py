"""The points a scene is scored on, and the transfer of a predicted map onto them.

Scene points are all frames' depth pixels back-projected to the world and reduced to
one point per voxel; each point's ground truth is the majority instance id of every
pixel observation that fell in its voxel. Ground truth and predictions are compared on
exactly these points, whatever resolution the predicted map has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy.spatial import cKDTree

from samosaic3d_core.eval.config import EvalConfig
from samosaic3d_core.geometry import backproject, majority_vote, pack_voxel_keys, unpack_voxel_keys, voxel_keys
from samosaic3d_core.types import FieldContainer, Frame, SceneMap



@dataclass
class ScenePoints(FieldContainer):
    """N scored points of a scene, one per occupied voxel.

    xyz:         (N, 3) float64 world metres, mean of the observations in the voxel
    coords:      (N, 3) int64 voxel coordinates ``floor(xyz / voxel_size)``, sorted lexicographically
    gt_instance: (N,) int64 majority ground-truth instance id, 0 = unlabeled
    """

    xyz: np.ndarray
    coords: np.ndarray
    gt_instance: np.ndarray


@dataclass
class _FrameVotes:
    """One frame reduced to its V voxels and U (voxel, label) pairs.

    codes: (V,) packed voxel codes; xyz_sum: (V, 3); num_obs: (V,)
    vote_codes, vote_labels, vote_counts: (U,) observations per (voxel, label)
    """

    codes: np.ndarray
    xyz_sum: np.ndarray
    num_obs: np.ndarray
    vote_codes: np.ndarray
    vote_labels: np.ndarray
    vote_counts: np.ndarray


def _reduce_frame(xyz: np.ndarray, labels: np.ndarray, voxel_size: float, name: str) -> _FrameVotes:
    codes, local = np.unique(pack_voxel_keys(voxel_keys(xyz, voxel_size), name), return_inverse=True)
    local = local.reshape(-1)
    xyz_sum = np.stack([np.bincount(local, weights=xyz[:, d], minlength=len(codes)) for d in range(3)], 1)
    span = int(labels.max()) + 1
    pairs, counts = np.unique(local * span + labels, return_counts=True)
    return _FrameVotes(codes, xyz_sum, np.bincount(local, minlength=len(codes)),
                       codes[pairs // span], pairs % span, counts)


_FOLD_EVERY = 32  # frames reduced before they are folded into one


def _fold(parts: list[_FrameVotes]) -> _FrameVotes:
    """The voxels and (voxel, label) votes of several frames' reductions, summed into one."""
    codes, voxel = np.unique(np.concatenate([p.codes for p in parts]), return_inverse=True)
    voxel = voxel.reshape(-1)
    sums = np.concatenate([p.xyz_sum for p in parts])
    xyz_sum = np.stack([np.bincount(voxel, weights=sums[:, d], minlength=len(codes)) for d in range(3)], 1)
    num_obs = np.bincount(voxel, weights=np.concatenate([p.num_obs for p in parts]), minlength=len(codes))
    vote_voxel = np.searchsorted(codes, np.concatenate([p.vote_codes for p in parts]))
    labels = np.concatenate([p.vote_labels for p in parts])
    span = int(labels.max()) + 1
    pairs, inverse = np.unique(vote_voxel * span + labels, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=np.concatenate([p.vote_counts for p in parts]))
    return _FrameVotes(codes, xyz_sum, num_obs, codes[pairs // span], pairs % span, counts)


def _weighted_majority(group: np.ndarray, label: np.ndarray, weight: np.ndarray, num_groups: int) -> np.ndarray:
    """Label with the largest total weight per group (ties -> smaller label); ``majority_vote`` with weights."""
    span = int(label.max()) + 1
    pairs, inverse = np.unique(group * span + label, return_inverse=True)
    totals = np.bincount(inverse.reshape(-1), weights=weight)
    pair_group, pair_label = pairs // span, pairs % span
    order = np.lexsort((pair_label, -totals, pair_group))
    first = np.ones(len(order), bool)
    first[1:] = pair_group[order[1:]] != pair_group[order[:-1]]
    out = np.zeros(num_groups, np.int64)
    out[pair_group[order[first]]] = pair_label[order[first]]
    return out


def build_scene_points(frames: Iterable[Frame], config: EvalConfig = EvalConfig()) -> ScenePoints:
    """Back-project every frame with its ``instance_gt`` and voxelize (ties in the vote -> smaller id).

    Frames are placed with their true pose where they carry one (``config.gt_poses``).

    Frames are reduced one at a time and folded together every ``_FOLD_EVERY`` frames, so memory grows
    with the scene, not the frame count (a 1500-frame 320x240 scan: 0.9 GB, 8.4 GB unfolded).
    Raises ValueError naming the frame when it is malformed or has no ``instance_gt``,
    and when no frame has a valid depth pixel.
    """
    reduced = []
    for frame in frames:
        name = f"frame {frame.index}"
        frame.validate(name)
        if frame.instance_gt is None:
            raise ValueError(f"{name}: no instance_gt; evaluation needs per-frame instance ground truth images")
        pose = frame.true_pose if config.gt_poses == "true" and frame.true_pose is not None else frame.pose
        xyz, pixel = backproject(frame.depth, frame.intrinsics, pose, config.min_depth, config.max_depth)
        labels = np.asarray(frame.instance_gt).reshape(-1)[pixel].astype(np.int64)
        if len(labels) == 0:
            continue
        if labels.min() < 0:
            raise ValueError(f"{name}: instance_gt has negative ids; use 0 for unlabeled pixels")
        reduced.append(_reduce_frame(xyz, labels, config.voxel_size, name))
        if len(reduced) == _FOLD_EVERY:  # fold the frames so far into one: memory follows the scene
            reduced = [_fold(reduced)]
    if not reduced:
        raise ValueError(
            f"no frame has depth in [{config.min_depth}, {config.max_depth}] m; cannot build scene points"
        )
    scene = _fold(reduced)
    gt = _weighted_majority(np.searchsorted(scene.codes, scene.vote_codes), scene.vote_labels, scene.vote_counts,
                            len(scene.codes))
    return ScenePoints(xyz=scene.xyz_sum / scene.num_obs[:, None], coords=unpack_voxel_keys(scene.codes),
                       gt_instance=gt)


def transfer_instances(points: ScenePoints, scene_map: SceneMap, config: EvalConfig = EvalConfig()) -> np.ndarray:
    """(N,) int64 predicted instance id per scene point, 0 = none.

    A point whose voxel holds map points takes their majority id (map points with id 0
    vote too; ties -> smaller id). A point whose voxel holds none takes the id of the
    nearest map point closer than ``transfer_radius * voxel_size`` to ``points.xyz``, else 0.
    """
    map_ids = np.asarray(scene_map.instance_ids).astype(np.int64)
    if len(map_ids) and map_ids.min() < 0:
        raise ValueError("map instance_ids must be >= 0 (0 = no instance)")
    n = len(points)
    if len(map_ids) == 0 or n == 0:
        return np.zeros(n, np.int64)
    point_codes = pack_voxel_keys(points.coords, "scene points")
    if np.any(np.diff(point_codes) <= 0):
        raise ValueError("scene points must have distinct voxel coords sorted lexicographically (build_scene_points)")
    map_codes = pack_voxel_keys(voxel_keys(scene_map.xyz, config.voxel_size), "map")
    slot = np.minimum(np.searchsorted(point_codes, map_codes), n - 1)
    inside = point_codes[slot] == map_codes  # (P,) map points in some scene point's voxel
    ids = majority_vote(slot[inside], map_ids[inside], n)
    occupied = np.zeros(n, bool)
    occupied[slot[inside]] = True

    empty = np.flatnonzero(~occupied)
    if len(empty):
        radius = config.transfer_radius * config.voxel_size
        dist, nearest = cKDTree(scene_map.xyz).query(points.xyz[empty], k=1, distance_upper_bound=radius)
        found = np.isfinite(dist)
        ids[empty[found]] = map_ids[nearest[found]]
    return ids


def prediction_masks(point_ids: np.ndarray, scene_map: SceneMap) -> tuple[np.ndarray, np.ndarray]:
    """Masks and scores of the predicted instances present on the scene points.

    point_ids: (N,) int predicted id per scene point (``transfer_instances``), 0 = none
    Returns pred_masks (K, N) bool, one row per distinct non-zero id in ascending order,
    and pred_scores (K,) float64: the instance's score in the map (the maximum over its
    map points; the map format stores the same score on all of them).
    """
    ids = np.unique(point_ids)
    ids = ids[ids != 0]
    masks = point_ids[None, :] == ids[:, None]  # (K, N)
    scores = np.full(len(ids), -np.inf)
    if len(ids) == 0:
        return masks, scores
    map_ids = np.asarray(scene_map.instance_ids).astype(np.int64)
    slot = np.minimum(np.searchsorted(ids, map_ids), len(ids) - 1)
    hit = ids[slot] == map_ids  # (P,) map points of a present instance
    np.maximum.at(scores, slot[hit], np.asarray(scene_map.scores, np.float64)[hit])
    return masks, scores
