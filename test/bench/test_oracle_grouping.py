"""bench/oracle_grouping.py: the ground-truth affinity and the frame model that groups by it."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from samosaic3d_core.model.f2i import F2IConfig, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.types import CameraIntrinsics, Fragments, Frame
from test.core.f2i_fixtures import one_torch_thread, synthetic_frame  # noqa: F401  (autouse fixture)
from test.core.test_model_f2i import TINY

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import oracle_grouping  # noqa: E402


def test_fragments_of_one_object_have_affinity_one():
    affinity = oracle_grouping.oracle_affinity(np.array([5, 5, 6, 0, 0]))
    # fragments 0 and 1 on object 5; 2 alone on 6; 3 and 4 on no object join nothing
    expected = np.eye(5, dtype=np.float32)
    expected[0, 1] = expected[1, 0] = 1.0
    np.testing.assert_array_equal(affinity, expected)


def _frame_model():
    torch.manual_seed(0)
    model = F2IModel.from_config(F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True}}))
    last = model.pair.mlp[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 20.0)  # the head joins every pair
    return F2IFrameModel(model, F2IFrameConfig(score_threshold=0.0, min_points=1, fill_unassigned=False))


def frame_with_fragments():
    """A one-row frame of ``synthetic_frame``'s points (3 objects of 2 fragments each, and the floor,
    unlabelled): the frame, its points, fragments and ground-truth instance per point."""
    points, m, gt = synthetic_frame()
    width = len(points.xyz)
    frame = Frame(np.zeros((1, width, 3), np.uint8), np.ones((1, width), np.float32), np.eye(4),
                  CameraIntrinsics(1.0, 1.0, 0.0, 0.0, width, 1), instance_gt=gt.reshape(1, -1).astype(np.int32))
    zeros = np.zeros((m, 3), np.float32)
    fragments = Fragments(np.arange(m), zeros, zeros, zeros, np.ones(m, np.int64), np.ones(m, np.float32))
    return frame, points, fragments, gt


def test_within_the_block_the_frame_model_groups_by_the_ground_truth():
    frame, points, fragments, gt = frame_with_fragments()
    frame_model = _frame_model()

    instances, _ = frame_model(frame, points, fragments)
    assert len(instances) == 1  # the head's own grouping
    with oracle_grouping.oracle_grouping():
        instances, labels = frame_model(frame, points, fragments)
    assert len(instances) == 4  # one per object, and the floor alone
    for obj in (1, 2, 3):
        assert len(np.unique(labels[gt == obj])) == 1
    assert len(np.unique(labels)) == 4
    assert len(frame_model(frame, points, fragments)[0]) == 1  # restored after the block
    frame.instance_gt = None
    with oracle_grouping.oracle_grouping(), pytest.raises(ValueError, match="ground truth"):
        frame_model(frame, points, fragments)


def test_the_halves_correct_only_wrong_joins_or_only_missed_joins():
    model = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.8], [0.2, 0.8, 1.0]], np.float32)
    truth = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)  # 0 and 2 on one object, 1 on another
    apart = oracle_grouping.mixed_affinity(model, truth, "apart")
    join = oracle_grouping.mixed_affinity(model, truth, "join")
    np.testing.assert_allclose(apart, [[1.0, 0.0, 0.2], [0.0, 1.0, 0.0], [0.2, 0.0, 1.0]])
    np.testing.assert_allclose(join, [[1.0, 0.9, 1.0], [0.9, 1.0, 0.8], [1.0, 0.8, 1.0]])
    np.testing.assert_array_equal(oracle_grouping.mixed_affinity(model, truth, "oracle"), truth)
    with pytest.raises(ValueError, match="mode"):
        with oracle_grouping.oracle_grouping("both"):
            pass
