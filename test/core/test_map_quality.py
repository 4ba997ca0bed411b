"""Map quality measures on hand-made grids: exact shares and counts."""

import numpy as np
import pytest

from samosaic3d_core.eval.map_quality import InstanceCounts, instance_counts, label_noise

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
