"""Temporal stage: merge problems from the pipeline's own association (``temporal.replay``)."""

import numpy as np
import pytest
import torch

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.config import from_flat
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.masks import make_mask_source
from samosaic3d_core.memory import MemoryConfig
from samosaic3d_core.model.checkpoint import load_f2i
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
from samosaic3d_core.train.rollout import RolloutReplay
from samosaic3d_core.train.temporal import MergeDataset, TemporalConfig
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult
from test.core.f2i_fixtures import full_weights, one_torch_thread  # noqa: F401  (autouse fixture)
from test.core.test_train_temporal import LIFT_ALL, ONE_MASK, _column_model, _learned_features

K8x6 = CameraIntrinsics(10.0, 10.0, 4.0, 3.0, 8, 6)
# no room structure: the 8 x 6 test frames are one flat wall, which structure would take
MEMORY = from_flat(MemoryConfig, {"short_term_size": 5, "structure.every_passes": 0, "consolidation.every": 0})


def _frame(index):
    """An 8 x 6 frame 2 m away: columns 0-3 show object 7, 4-5 object 9, 6-7 no object."""
    inst = np.zeros((6, 8), np.int32)
    inst[:, :4], inst[:, 4:6] = 7, 9
    return Frame(np.zeros((6, 8, 3), np.uint8), np.full((6, 8), 2.0, np.float32), np.eye(4), K8x6, index=index,
                 timestamp=float(index), instance_gt=inst)


class _Recorder:
    """An associator that starts new instances and records what it was asked."""

    def __init__(self):
        self.calls = 0

    def __call__(self, obs, memory):
        self.calls += 1
        return np.zeros(len(obs.instances), np.int64)


def test_rollout_targets_come_from_the_map_as_built():
    associator = _Recorder()
    # the first frame's model fuses objects 7 and 9 into one instance: map instance 1 holds both
    replay = RolloutReplay(_column_model([0, 6, 8]), LIFT_ALL, MEMORY, associator)
    assert replay.step(_frame(0), ONE_MASK) is None  # empty memory: nothing to merge
    assert replay.memory.num_ids == 2 and associator.calls == 1
    assert replay.map_gt_ids(np.array([1, 2])).tolist() == [7, 0]  # 4 voxel columns of 7 against 2 of 9
    # the next frame keeps them apart: 7's piece belongs with map instance 1, 9's with none of the map
    replay.frame_model = _column_model([0, 4, 6, 8])
    problem = replay.step(_frame(1), ONE_MASK)
    assert problem.target.tolist() == [[1, 0], [0, 0], [0, 0]]
    assert problem.counted.tolist() == [[True, True], [True, True], [True, False]]
    assert problem.frame_feats.shape == (3, 4) and problem.memory_feats.shape == (2, 4)
    assert associator.calls == 2 and replay.memory.num_ids == 5  # the recorder's decision was applied


def test_both_replays_give_more_problems_and_own_needs_a_merger(tiny_f2i_weights, tmp_path):
    f2i, f2i_config = load_f2i(tiny_f2i_weights)
    frames = list(generate_scene(SynthConfig(frames=7, width=160, height=120), seed=3))
    i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels, color_dim=27)

    def dataset(replay, merger=None):
        return MergeDataset([frames], lambda seed: make_mask_source("sim", seed=seed), _learned_features(f2i),
                            LiftConfig(point_budget=1500), TemporalConfig(frame_gap=2, replay=replay),
                            rollout_merger=merger)

    with pytest.raises(ValueError, match="replay 'own' needs a merger"):
        dataset("own")
    torch.manual_seed(0)
    merger = I2SMerger(i2s_config)
    teacher, own, both = dataset("teacher"), dataset("own", merger), dataset("both", merger)
    assert len(teacher) >= 1 and len(own) >= 1 and len(both) == len(teacher) + len(own)
    first = both[0]
    assert torch.equal(first.target, teacher[0].target) and torch.equal(first.frame_boxes, teacher[0].frame_boxes)
    with pytest.raises(ValueError, match="replay must be 'teacher', 'own' or 'both'"):
        TemporalConfig(replay="expert")


def test_cli_rollouts_need_a_combined_init(tiny_f2i_weights, tmp_path):
    from samosaic3d_core.cli.train import _rollout_merger

    assert _rollout_merger(tiny_f2i_weights, "teacher", "cpu") is None
    with pytest.raises(SystemExit, match="holds F2I weights only"):
        _rollout_merger(tiny_f2i_weights, "own", "cpu")
    path = full_weights(tiny_f2i_weights, tmp_path / "model.safetensors", -1.25)
    assert float(_rollout_merger(path, "both", "cpu").bias.detach()) == -1.25
