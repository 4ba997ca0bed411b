"""Scene points with majority-vote ground truth, and transfer of a map onto them."""

import numpy as np
import pytest

from samosaic3d_core.eval import EvalConfig, ScenePoints, build_scene_points, prediction_masks, transfer_instances
from samosaic3d_core.geometry import backproject, majority_vote, voxelize
from samosaic3d_core.types import CameraIntrinsics, Frame, SceneMap

# 3x1 image, fx = fy = 1, principal point at the origin: pixel u at depth z -> camera (u * z, 0, z)
INTRINSICS = CameraIntrinsics(fx=1.0, fy=1.0, cx=0.0, cy=0.0, width=3, height=1)
SHIFT = np.array([[1.0, 0, 0, 10.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])  # camera-to-world: x + 10


def frame(depth, gt, index=0, pose=SHIFT):
    depth = np.array([depth], np.float32)
    return Frame(np.zeros((1, 3, 3), np.uint8), depth, pose, INTRINSICS, index=index,
                 instance_gt=None if gt is None else np.array([gt], np.int32))


def test_ground_truth_is_the_majority_over_all_observations():
    frames = [frame([1.0, 1.0, 1.0], [5, 6, 6], 0), frame([1.0, 1.0, 1.0], [5, 8, 6], 1),
              frame([1.0, 1.0, 1.0], [7, 0, 0], 2)]
    points = build_scene_points(frames, EvalConfig(voxel_size=0.5))
    # pixel 0: 5, 5, 7 -> 5; pixel 1: 6, 8, 0 all once -> tie -> 0; pixel 2: 6, 6, 0 -> 6
    np.testing.assert_array_equal(points.gt_instance, [5, 0, 6])
    np.testing.assert_array_equal(points.coords, [[20, 0, 2], [22, 0, 2], [24, 0, 2]])
    np.testing.assert_allclose(points.xyz, [[10, 0, 1], [11, 0, 1], [12, 0, 1]])
    assert len(points) == 3


@pytest.mark.parametrize("fold_every", [2, 1000])
def test_equals_a_direct_vote_over_all_observations(monkeypatch, fold_every):
    # random frames with rotated poses: the frame-by-frame reduction, folded every few frames so that
    # memory follows the scene (a 1500-frame scan: 8.4 GB before folding, 0.9 GB with it), must equal
    # voxelizing and voting over every observation at once
    import samosaic3d_core.eval.scene_points as scene_points

    monkeypatch.setattr(scene_points, "_FOLD_EVERY", fold_every)
    rng = np.random.default_rng(3)
    intrinsics = CameraIntrinsics(fx=20.0, fy=20.0, cx=10.0, cy=8.0, width=21, height=17)
    frames = []
    for i in range(5):
        angle = rng.uniform(-0.3, 0.3)
        pose = np.eye(4)
        pose[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
        pose[:3, 3] = rng.uniform(-0.1, 0.1, 3)
        depth = rng.uniform(0.8, 1.2, (17, 21)).astype(np.float32)
        gt = rng.integers(0, 4, (17, 21)).astype(np.int32)
        frames.append(Frame(np.zeros((17, 21, 3), np.uint8), depth, pose, intrinsics, index=i, instance_gt=gt))
    config = EvalConfig(voxel_size=0.05)
    points = build_scene_points(frames, config)

    observations = [backproject(f.depth, f.intrinsics, f.pose, config.min_depth, config.max_depth) for f in frames]
    xyz = np.concatenate([o[0] for o in observations])
    labels = np.concatenate([f.instance_gt.reshape(-1)[o[1]] for f, o in zip(frames, observations)])
    _, inverse, coords = voxelize(xyz, config.voxel_size)
    np.testing.assert_array_equal(points.coords, coords)
    np.testing.assert_array_equal(points.gt_instance, majority_vote(inverse, labels, len(coords)))
    counts = np.bincount(inverse)
    assert counts.max() > 2  # votes with several observations happen
    np.testing.assert_allclose(points.xyz, np.stack([np.bincount(inverse, xyz[:, d]) for d in range(3)], 1)
                               / counts[:, None], atol=1e-6)


def test_points_outside_the_depth_range_are_dropped_and_voxels_average():
    # pixel 0 at 20 m (beyond max_depth 10) and pixel 2 without depth are not points;
    # pixel 1 observed at 1.0 and 1.2 m falls in one 0.5 m voxel whose point is the mean
    frames = [frame([20.0, 1.0, 0.0], [3, 4, 5], 0), frame([20.0, 1.2, 0.0], [3, 4, 5], 1)]
    points = build_scene_points(frames, EvalConfig(voxel_size=0.5))
    np.testing.assert_array_equal(points.gt_instance, [4])
    np.testing.assert_allclose(points.xyz, [[11.1, 0.0, 1.1]], atol=1e-6)


def test_frames_without_ground_truth_or_depth_are_rejected():
    with pytest.raises(ValueError, match="frame 4: no instance_gt"):
        build_scene_points([frame([1.0, 1.0, 1.0], None, 4)])
    with pytest.raises(ValueError, match="no frame has depth"):
        build_scene_points([frame([0.0, 0.0, 0.0], [1, 1, 1])])
    with pytest.raises(ValueError, match="frame 2 pose"):
        build_scene_points([frame([1.0, 1.0, 1.0], [1, 1, 1], 2, pose=np.full((4, 4), np.inf))])


def scene_map(xyz, ids, scores):
    xyz = np.asarray(xyz, np.float32)
    return SceneMap(xyz, np.zeros((len(xyz), 3), np.uint8), np.asarray(ids, np.int32), np.asarray(scores, np.float32))


def test_transfer_majority_in_voxel_then_nearest_within_radius():
    # four scene points in 1 m voxels along x; voxel centres as points
    coords = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [5, 0, 0]])
    points = ScenePoints(xyz=coords + 0.5, coords=coords, gt_instance=np.zeros(4, np.int64))
    m = scene_map(
        xyz=[[0.1, 0.5, 0.5], [0.2, 0.5, 0.5], [0.3, 0.5, 0.5],  # voxel 0: ids 3, 3, 7 -> 3
             [1.1, 0.5, 0.5], [1.2, 0.5, 0.5],  # voxel 1: ids 4, 2 -> tie -> 2
             [3.2, 0.5, 0.5],  # voxel 3 (no scene point): nearest to voxel 2's point, 0.7 m away
             [7.5, 0.5, 0.5]],  # 2 m from the voxel-5 point: beyond 1.5 m
        ids=[3, 3, 7, 4, 2, 9, 6], scores=[0.8, 0.8, 0.3, 0.2, 0.4, 0.6, 0.1])
    ids = transfer_instances(points, m, EvalConfig(voxel_size=1.0, transfer_radius=1.5))
    np.testing.assert_array_equal(ids, [3, 2, 9, 0])
    # a radius below 0.7 m leaves voxel 2 empty too
    np.testing.assert_array_equal(transfer_instances(points, m, EvalConfig(voxel_size=1.0, transfer_radius=0.6)),
                                  [3, 2, 0, 0])

    masks, scores = prediction_masks(ids, m)
    np.testing.assert_array_equal(masks, [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]])  # ids 2, 3, 9
    assert masks.dtype == np.bool_
    np.testing.assert_array_equal(scores, np.float32([0.4, 0.8, 0.6]).astype(np.float64))


def test_unlabeled_map_points_vote_and_win_ties():
    coords = np.array([[0, 0, 0]])
    points = ScenePoints(xyz=coords + 0.5, coords=coords, gt_instance=np.zeros(1, np.int64))
    m = scene_map([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]], [0, 4], [0.0, 0.5])
    np.testing.assert_array_equal(transfer_instances(points, m, EvalConfig(voxel_size=1.0)), [0])
    masks, scores = prediction_masks(np.zeros(1, np.int64), m)
    assert masks.shape == (0, 1) and scores.shape == (0,)


def test_empty_map_and_negative_ids():
    coords = np.array([[0, 0, 0]])
    points = ScenePoints(xyz=coords + 0.5, coords=coords, gt_instance=np.zeros(1, np.int64))
    np.testing.assert_array_equal(transfer_instances(points, scene_map(np.zeros((0, 3)), [], [])), [0])
    with pytest.raises(ValueError, match="instance_ids must be >= 0"):
        transfer_instances(points, scene_map([[0.1, 0.1, 0.1]], [-1], [0.5]))
