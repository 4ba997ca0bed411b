"""bench/fused_pairs.py: a frame's majority id per object and the fused pairs of a map."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import fused_pairs  # noqa: E402


def test_majority_needs_enough_points_and_most_of_them_labelled():
    gt = np.array([1] * 40 + [2] * 40 + [3] * 10)
    ids = np.array([5] * 25 + [6] * 15 + [0] * 25 + [7] * 15 + [8] * 10)
    assert fused_pairs.majority(ids, gt, 1) == 5  # 25 of 40 on 5
    assert fused_pairs.majority(ids, gt, 2) is None  # 25 of 40 unlabelled
    assert fused_pairs.majority(ids, gt, 3) is None  # too few points in the frame
    assert fused_pairs.majority(ids, gt, 4) is None  # not in the frame


def test_a_map_instance_holding_two_sizeable_objects_fuses_them():
    gt = np.array([1] * 300 + [2] * 100 + [3] * 20 + [4] * 200 + [0] * 50)
    pred = np.array([9] * 300 + [9] * 100 + [9] * 20 + [4] * 200 + [9] * 50)
    # object 3 is under 50 points, the structure (0) does not count, object 4 has its own instance
    assert fused_pairs.fused_pairs(pred, gt) == [(1, 2)]
    assert fused_pairs.fused_pairs(np.where(gt == 2, 8, pred), gt) == []
