"""Map quality measures on hand-made grids: exact shares and counts."""

import numpy as np
import pytest

from samosaic3d_core.eval import EvalConfig, ScenePoints, ap_entries, evaluate_scenes
from samosaic3d_core.eval.map_quality import (InstanceCounts, instance_counts, label_noise, map_quality, object_owners,
                                               score_map)
from samosaic3d_core.types import SceneMap

VOXEL = 0.02


def grid(nx: int, ny: int) -> np.ndarray:
    """(nx * ny, 3) voxel centres of a flat patch, row-major."""
    x, y = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    return (np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1) + 0.5) * VOXEL


def test_one_id_is_clean_and_one_odd_voxel_is_one_noisy_point():
    xyz = grid(4, 4)
    ids = np.ones(16, np.int64)
    assert label_noise(xyz, ids, VOXEL) == 0.0
    ids[5] = 2  # an interior voxel: its 8 neighbours are all id 1; theirs stay mostly 1
    assert label_noise(xyz, ids, VOXEL) == pytest.approx(1 / 16)


def test_unlabelled_neighbours_vote_and_isolated_points_are_not_counted():
    xyz = grid(3, 3)
    ids = np.zeros(9, np.int64)
    ids[4] = 7  # a labelled speck in an unlabelled patch
    assert label_noise(xyz, ids, VOXEL) == 1.0
    far = np.array([[1.0, 1.0, 1.0]])
    assert label_noise(far, np.array([3]), VOXEL) == 0.0  # no neighbour: nothing to disagree with
    assert label_noise(np.zeros((0, 3)), np.zeros(0, np.int64), VOXEL) == 0.0


def test_ties_agree_and_diagonals_are_neighbours():
    xyz = grid(2, 1)
    assert label_noise(xyz, np.array([1, 2]), VOXEL) == 1.0  # each sees only the other id
    # a 2 x 2 patch split along a row: each point sees one own-id and two other-id neighbours (one diagonal)
    assert label_noise(grid(2, 2), np.array([1, 1, 2, 2]), VOXEL) == 1.0
    # a 2 x 3 patch of ids [[1, 1, 1], [2, 2, 2]]: the corners see 1 own vs 2 other, the middles 2 vs 3
    assert label_noise(grid(2, 3), np.array([1, 1, 1, 2, 2, 2]), VOXEL) == 1.0
    # a 3 x 3 patch with one edge column of 2: each of its points sees more 1s than 2s; the 1s agree
    ids = np.array([1, 1, 1, 1, 1, 1, 2, 2, 2])
    assert label_noise(grid(3, 3), ids, VOXEL) == pytest.approx(3 / 9)


def test_instance_counts_skip_small_and_structure_instances():
    pred = np.array([1, 1, 1, 2, 2, 0, 3])
    gt = np.array([5, 5, 0, 0, 0, 5, 6])
    counts = instance_counts(pred, gt, min_points=2)
    # id 1: 3 points, 2 on an object; id 2: on unlabelled structure; id 3: too small. gt 5: 3 points; gt 6: 1
    assert counts == InstanceCounts(map_instances=1, objects=1) and counts.ratio == 1.0
    assert InstanceCounts(3, 0).ratio == float("inf")
    with pytest.raises(ValueError, match="same shape"):
        instance_counts(pred, gt[:3])


def test_an_object_is_owned_by_the_id_on_most_of_its_labelled_points():
    pred = np.array([4, 4, 9, 0, 0, 0, 9, 9, 7, 0])
    gt = np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 0])
    # object 1: ids 4, 4, 9 on its labelled points (three unlabelled do not count); object 2: id 9 on
    # both points; object 3: one labelled point, below min_points; unlabelled ground truth owns nothing
    assert object_owners(pred, gt, min_points=2) == {1: 4, 2: 9}
    assert object_owners(pred, gt, min_points=3) == {1: 4}
    assert object_owners(np.zeros(3, np.int64), np.ones(3, np.int64), min_points=1) == {}
    with pytest.raises(ValueError, match="same shape"):
        object_owners(pred, gt[:3])


def patch_map(ids: np.ndarray) -> SceneMap:
    """A 3 x 3 map patch on the VOXEL grid with the given ids (score 0.5)."""
    n = len(ids)
    return SceneMap(grid(3, 3).astype(np.float32), np.zeros((n, 3), np.uint8), ids.astype(np.int32),
                    np.full(n, 0.5, np.float32))


def test_map_quality_entries_with_and_without_ground_truth():
    scene_map = patch_map(np.array([1, 1, 1, 1, 1, 1, 2, 2, 2]))
    pred, gt = np.array([1, 1, 1, 2, 2, 2]), np.array([4, 4, 4, 0, 0, 0])
    assert map_quality(scene_map, pred, gt, VOXEL, min_points=3) == {
        "map_instances": 2, "label_noise": round(3 / 9, 4), "object_instances": 1, "objects": 1}
    assert map_quality(scene_map, None, None, VOXEL) == {"map_instances": 2, "label_noise": round(3 / 9, 4)}
    # the ground truth's own noise, given its points: a row of object 4 beside a row of unlabelled
    # structure is outvoted by the structure at every point, labelled right or not
    quality = map_quality(scene_map, pred, gt, VOXEL, min_points=3, gt_xyz=grid(2, 3))
    assert quality["label_noise_gt"] == 1.0
    assert "label_noise_gt" not in map_quality(scene_map, pred, gt, VOXEL, min_points=3)
    # an edge column of 2 beside a block of 1 in the ground truth: the 2s are outvoted
    gt_patch = np.array([1, 1, 1, 1, 1, 1, 2, 2, 2])
    assert map_quality(scene_map, gt_patch, gt_patch, VOXEL, 3, grid(3, 3))["label_noise_gt"] == round(3 / 9, 4)


def test_score_map_transfers_the_map_once_for_ap_and_quality():
    scene_map = patch_map(np.array([3, 3, 3, 3, 3, 3, 0, 0, 0]))
    xyz = grid(3, 3)
    points = ScenePoints(xyz=xyz, coords=np.floor(xyz / VOXEL).astype(np.int64),
                         gt_instance=np.array([7, 7, 7, 7, 7, 7, 0, 0, 0]))
    scored = score_map(points, scene_map, EvalConfig(voxel_size=VOXEL, min_region_size=3), "patch")
    np.testing.assert_array_equal(scored.pred_ids, [3, 3, 3, 3, 3, 3, 0, 0, 0])
    assert scored.eval_input.pred_masks.shape == (1, 9) and scored.eval_input.name == "patch"
    assert scored.quality(VOXEL, min_points=3) == {"map_instances": 1, "label_noise": 0.0, "object_instances": 1,
                                                   "objects": 1, "label_noise_gt": 0.0}
    assert ap_entries(evaluate_scenes([scored.eval_input], min_region_size=3)) == {"AP": 1.0, "AP50": 1.0, "AP25": 1.0}
    no_scored_gt = evaluate_scenes([scored.eval_input], min_region_size=10)
    assert ap_entries(no_scored_gt) == {"AP": None, "AP50": None, "AP25": None}
