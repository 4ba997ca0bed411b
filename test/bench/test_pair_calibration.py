"""bench/pair_calibration.py: touching fragment pairs, their kinds, and the recorder."""

import sys
from pathlib import Path

import numpy as np
import pytest

from samosaic3d_core.model.frame_model import F2IFrameModel
from test.bench.test_oracle_grouping import _frame_model, frame_with_fragments
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import pair_calibration  # noqa: E402


def test_fragments_touch_when_points_come_within_the_radius():
    xyz = np.array([[0, 0, 0], [0.02, 0, 0], [0.5, 0, 0], [0.52, 0, 0], [0.0, 0.025, 0], [0.51, 0.0, 0]], np.float32)
    fragment = np.array([0, 1, 2, 3, -1, 2])
    pairs = pair_calibration.touching_pairs(xyz, fragment, radius=0.03)
    np.testing.assert_array_equal(pairs, [[0, 1], [2, 3]])  # the point in no fragment touches nothing
    assert pair_calibration.touching_pairs(xyz, fragment, radius=0.005).shape == (0, 2)


def test_pairs_are_one_part_parts_of_one_object_or_two_objects():
    owner = np.array([1, 1, 1, 2, 0])
    part = np.array([4, 4, 5, 6, 0])
    pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(pair_calibration.pair_kinds(owner, part, pairs), [0, 1, 2, -1])
    np.testing.assert_array_equal(pair_calibration.pair_kinds(owner, None, pairs), [1, 1, 2, -1])


def test_calibration_counts_the_share_on_one_object_per_bin():
    prob = np.array([0.05, 0.2, 0.25, 0.95, 1.0])
    same = np.array([False, True, False, True, True])
    rows = pair_calibration.calibration(prob, same, bins=(0.0, 0.1, 0.3, 1.0))
    assert [row["pairs"] for row in rows] == [1, 2, 2]  # 1.0 falls in the last, closed bin
    assert [row["one_object"] for row in rows] == [0.0, 0.5, 1.0]
    assert np.isnan(pair_calibration.calibration(prob, same, bins=(0.3, 0.5, 0.9))[0]["one_object"])


def test_the_recorder_collects_the_frame_models_pairs_and_restores_it():
    frame, points, fragments, _ = frame_with_fragments()  # 3 objects of 2 fragments each, and the floor
    frame_model = _frame_model()  # its head joins every pair
    segment = F2IFrameModel._segment

    recorder = pair_calibration.PairRecorder(radius=0.25)
    with recorder.record():
        frame_model(frame, points, fragments)
    assert F2IFrameModel._segment is segment
    prob, kind = recorder.arrays()
    assert (kind == 1).sum() == 3  # the two fragments of each object touch; the floor is on no object
    assert set(kind.tolist()) <= {1, 2}
    assert prob.min() > 0.99
    assert recorder.threshold == frame_model.config.group_threshold
    result = pair_calibration.summary(prob, kind, recorder.threshold)
    assert result["kinds"]["parts of one object"] == pytest.approx({"pairs": 3, "mean_probability": prob[kind == 1].mean(),
                                                                    "above_threshold": 1.0})
    assert result["bins"][-1]["pairs"] == len(prob)

    frame.part_gt = frame.instance_gt.copy()  # one part per object: its two fragments are pieces of one part
    parts = pair_calibration.PairRecorder(radius=0.25)
    with parts.record():
        frame_model(frame, points, fragments)
    np.testing.assert_array_equal(parts.arrays()[1], np.where(kind == 1, 0, kind))
