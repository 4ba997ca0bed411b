"""The tracking-error model (drift grows with the path, jitter, jumps) and the path metrics."""

import numpy as np
import pytest

from samosaic3d_core.cli.make_data import add_arguments
from samosaic3d_core.data.synth import SensorConfig, SynthConfig, generate_scene, write_scene
from samosaic3d_core.data.scannet import SceneReader
from samosaic3d_core.data.tracking_error import PRESETS, TrackingError, preset, tracker_poses
from samosaic3d_core.eval.trajectory import ate, rpe
from samosaic3d_core.geometry.rigid import pose_error, rotation, transform


def straight_path(frames=200, step=0.05):
    """A camera walking along x, 5 cm per frame (10 m in all)."""
    return np.stack([transform(t=np.array([i * step, 0.0, 1.5])) for i in range(frames)])


def errors(poses, true):
    return np.array([pose_error(p, t) for p, t in zip(poses, true)])


def test_no_error_gives_the_true_poses():
    true = straight_path(20)
    assert np.array_equal(tracker_poses(true, TrackingError(), np.random.default_rng(0)), true)


def test_drift_grows_with_the_distance_walked_and_keeps_roll_and_pitch():
    true = straight_path()
    drift = TrackingError(drift_percent=1.0, yaw_deg_per_m=0.05)
    runs = np.stack([errors(tracker_poses(true, drift, np.random.default_rng(s)), true) for s in range(20)])
    position = runs[:, :, 0].mean(axis=0)
    assert position[0] == 0.0
    assert position[-1] > 2 * position[len(position) // 4] > 0  # biases integrated along the path
    assert 0.02 < position[-1] < 0.3  # about 1 % of 10 m
    poses = tracker_poses(true, drift, np.random.default_rng(1))
    # the error is a yaw: the camera's "down" axis stays vertical-aligned as in the true pose
    assert np.allclose(poses[:, 2, :3], true[:, 2, :3], atol=1e-9)


def test_jitter_is_independent_per_frame_and_jumps_are_steps():
    true = straight_path()
    jitter = errors(tracker_poses(true, TrackingError(jitter_cm=1.0), np.random.default_rng(0)), true)[:, 0]
    assert 0.01 < jitter.mean() < 0.03 and jitter[-20:].mean() < 2 * jitter[:20].mean() + 0.01
    jumpy = TrackingError(jump_every_m=2.0, jump_cm=5.0)
    err = errors(tracker_poses(true, jumpy, np.random.default_rng(0)), true)[:, 0]
    changes = np.flatnonzero(np.abs(np.diff(err)) > 1e-9)
    assert 1 <= len(changes) <= 20  # a few steps over 10 m, constant in between
    assert err[-1] > 0.01


def test_presets_and_their_names():
    assert set(PRESETS) == {"none", "vio", "poor"}
    assert preset("none").is_exact and not preset("vio").is_exact
    assert preset("poor").drift_percent > preset("vio").drift_percent
    with pytest.raises(ValueError, match="unknown pose-error preset 'bad'.*none, vio, poor"):
        preset("bad")
    with pytest.raises(ValueError, match="drift_percent"):
        TrackingError(drift_percent=-1)
    parser = __import__("argparse").ArgumentParser()
    add_arguments(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "pose_error")
    assert tuple(choices) == tuple(PRESETS)  # make-data names them without importing the model


def test_synthetic_scene_writes_tracker_and_true_poses(tmp_path):
    config = SynthConfig(width=80, height=60, frames=6, sensor=SensorConfig(tracking=preset("poor")))
    scene = generate_scene(config, 3)
    assert not np.allclose(scene.poses[-1], scene.true_poses[-1])
    frame = scene.frame(5)
    assert np.array_equal(frame.pose, scene.poses[5]) and np.array_equal(frame.true_pose, scene.true_poses[5])
    root = write_scene(scene, tmp_path, progress=False)
    read = SceneReader(root)[5]
    assert np.allclose(read.pose, scene.poses[5], atol=1e-7)
    assert np.allclose(read.true_pose, scene.true_poses[5], atol=1e-7)
    same = generate_scene(config, 3)
    assert np.array_equal(same.poses, scene.poses)  # reproducible


def test_ate_and_rpe():
    true = straight_path(10)
    assert ate(true, true) == 0.0 and rpe(true, true) == (0.0, 0.0)
    shifted = true.copy()
    shifted[:, 0, 3] += 0.1
    assert ate(shifted, true) == pytest.approx(0.1)
    assert rpe(shifted, true)[0] == pytest.approx(0.0, abs=1e-12)  # a constant offset has no relative error
    turned = true.copy()
    turned[5:, :3, :3] = rotation(np.array([0.0, 0.0, np.deg2rad(2.0)]))
    assert rpe(turned, true)[1] == pytest.approx(np.sqrt(4.0 / 9.0))  # one 2-degree step in 9 pairs
    with pytest.raises(ValueError, match="equally long"):
        ate(true[:3], true)
