"""Training reads frames as run time does: every stage lifts the depth ``lift.depth_filter`` smooths."""

import numpy as np
import pytest

from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.model.pair_cues import NUM_PAIR_CUES
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult


K = CameraIntrinsics(60.0, 60.0, 40.0, 30.0, 80, 60)


def noisy_wall(seed=0):
    """A wall at 2 m with 1 cm of depth noise, one object covering it."""
    rng = np.random.default_rng(seed)
    depth = (2.0 + rng.standard_normal((K.height, K.width)) * 0.01).astype(np.float32)
    return Frame(np.full((K.height, K.width, 3), 120, np.uint8), depth, np.eye(4), K,
                 instance_gt=np.ones((K.height, K.width), np.int32))


def one_mask(seed):
    """A mask source whose one mask covers the whole frame."""
    return lambda frame: MaskResult(None, np.ones(1, np.float32), np.zeros(frame.shape, np.int32))


def spread_per_filter(read_depth) -> dict[str, float]:
    """Spread of the wall's depth as ``read_depth(lift_config)`` sees it, per filter setting."""
    return {kind: read_depth(LiftConfig(depth_filter=kind, voxel_size=0.0)) for kind in ("none", "auto")}


def assert_smoothed(spread):
    assert spread["none"] > 0.009  # the raw noise
    assert spread["auto"] < 0.6 * spread["none"]


def test_f2i_samples_lift_the_filtered_depth(monkeypatch):
    from samosaic3d_core.losses import LossConfig
    from samosaic3d_core.train import dataset

    monkeypatch.setattr(dataset, "open_scene", lambda _: [noisy_wall()])

    def read(lift_config):
        sample = dataset.SceneFrameDataset(["scene"], one_mask, lift_config, LossConfig())[0]
        return float(np.std(np.asarray(sample.input.xyz)[:, 2]))

    assert_smoothed(spread_per_filter(read))


def test_pair_stage_lifts_the_filtered_depth(monkeypatch):
    from samosaic3d_core.train import pair

    monkeypatch.setattr(pair, "open_scene", lambda _: [noisy_wall()])
    seen = []

    def frame_pairs(model, frame, masks, lift_config, cue_config, device):
        seen.append(float(np.std(frame.depth)))
        one = np.zeros(1, np.int64)
        return np.zeros((1, NUM_PAIR_CUES), np.float32), np.ones(1, bool), one, one + 1

    monkeypatch.setattr(pair, "frame_pairs", frame_pairs)

    def read(lift_config):
        pair.collect_pairs(["scene"], one_mask, None, lift_config, None, 1, 0, "cpu")
        return seen[-1]

    assert_smoothed(spread_per_filter(read))


def test_temporal_replays_lift_the_filtered_depth(monkeypatch):
    from samosaic3d_core.train.temporal import MergeDataset, TemporalConfig

    seen = []

    class Recorder:
        def step(self, frame, masks):
            seen.append(float(np.std(frame.depth)))

    monkeypatch.setattr(MergeDataset, "_replays", lambda self: [Recorder()])

    def read(lift_config):
        data = MergeDataset([[noisy_wall()]], one_mask, None, lift_config, TemporalConfig())
        with pytest.raises(ValueError, match="no merge problem"):
            data.prepare()
        return seen[-1]

    assert_smoothed(spread_per_filter(read))
