"""Depth smoothing before lifting (``samosaic3d_core.depth_filter``, ``LiftConfig.depth_filter``)."""

import numpy as np
import pytest

from samosaic3d_core.depth_filter import bilateral_depth, relative_noise
from samosaic3d_core.lift import LiftConfig, filtered_depth
from samosaic3d_core.types import CameraIntrinsics, Frame


def noisy_step(height=60, width=80, seed=0):
    """A wall at 2 m on the left, a box face at 1.6 m on the right, Kinect-like noise, one hole."""
    true = np.where(np.arange(width)[None, :] < width // 2, 2.0, 1.6).repeat(height, 0).astype(np.float32)
    rng = np.random.default_rng(seed)
    noisy = (true + rng.standard_normal(true.shape) * 0.0025 * true**2).astype(np.float32)
    noisy[20:26, 10:16] = 0.0
    return true, noisy


def reference(depth, radius, sigma_pixels, sigma_relative, space="log"):
    """The bilateral filter written out: a circular window, range kernel on log or inverse depth, holes left out."""
    valid = depth > 0
    forward, back = (np.log, np.exp) if space == "log" else (np.reciprocal, np.reciprocal)
    log_depth = forward(np.where(valid, depth, 1.0).astype(np.float64))
    padded, padded_valid = np.pad(log_depth, radius, mode="edge"), np.pad(valid, radius, mode="edge")
    total, weight = np.zeros_like(log_depth), np.zeros_like(log_depth)
    h, w = depth.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius:
                continue
            near = padded[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            ok = padded_valid[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            k = np.exp(-(dx * dx + dy * dy) / (2 * sigma_pixels**2) - (near - log_depth) ** 2 / (2 * sigma_relative**2)) * ok
            total += k * near
            weight += k
    return np.where(valid, back(np.where(valid, total / np.maximum(weight, 1e-12), 1.0)), depth)


def test_noise_falls_and_the_step_stays():
    true, noisy = noisy_step()
    out = bilateral_depth(noisy, 2, 2.0, 0.02)
    measured = noisy > 0
    assert out.dtype == np.float32 and out.shape == noisy.shape
    assert np.std((out - true)[measured]) < 0.5 * np.std((noisy - true)[measured])
    # the 40 cm step between the wall and the box is not blurred: each side stays within 3 cm
    assert np.abs(out[:, 38:40] - 2.0).max() < 0.03 and np.abs(out[:, 40:42] - 1.6).max() < 0.03


def test_holes_stay_holes_and_do_not_pull_their_neighbours():
    true, noisy = noisy_step()
    out = bilateral_depth(noisy, 2, 2.0, 0.02)
    assert (out[20:26, 10:16] == 0).all()
    assert np.abs(out[19, 10:16] - 2.0).max() < 0.03 and np.abs(out[26, 10:16] - 2.0).max() < 0.03
    nan = noisy.copy()
    nan[0, 0] = np.nan
    assert np.isnan(bilateral_depth(nan, 2, 2.0, 0.02)[0, 0])


@pytest.mark.parametrize("space", ["log", "inverse"])
def test_matches_the_filter_written_out(space):
    _, noisy = noisy_step(seed=1)
    np.testing.assert_allclose(bilateral_depth(noisy, 2, 2.0, 0.02, space), reference(noisy, 2, 2.0, 0.02, space),
                               atol=1e-5)


def test_inverse_space_smooths_far_depth_more_and_keeps_near_steps():
    """Noise of 0.0025 z^2 on a ramp from 1 to 4 m: the same kernel in units of noise at 1 m smooths
    far depth more in inverse space, and a 2 cm step at 1 m (a book in front of its shelf) survives
    a kernel that log space blends it with."""
    rng = np.random.default_rng(3)
    true = np.linspace(1.0, 4.0, 160)[None].repeat(80, 0).astype(np.float32)
    noisy = (true + rng.standard_normal(true.shape) * 0.0025 * true**2).astype(np.float32)
    far = np.s_[:, -30:]
    error = {space: np.std((bilateral_depth(noisy, 2, 2.0, 2.5 * relative_noise(noisy, space), space) - true)[far])
             for space in ("log", "inverse")}
    assert error["inverse"] < 0.8 * error["log"] < 0.8 * np.std((noisy - true)[far])
    step = np.where(np.arange(80)[None, :] < 40, 1.02, 1.0).repeat(40, 0).astype(np.float32)
    kernel = 2.5 * 0.0056  # what log space measures on the ramp above
    for column, side in ((39, 1.02), (40, 1.0)):  # the step's two edges: log blends 2.7 mm, inverse 0.06
        assert np.abs(bilateral_depth(step, 2, 2.0, kernel, "log")[:, column] - side).max() > 0.002
        assert np.abs(bilateral_depth(step, 2, 2.0, 2.5 * 0.0025, "inverse")[:, column] - side).max() < 0.0005


def test_radius_zero_and_empty_images_come_back_unchanged():
    _, noisy = noisy_step()
    out = bilateral_depth(noisy, 0, 2.0, 0.02)
    np.testing.assert_array_equal(out, noisy)
    assert out is not noisy
    np.testing.assert_array_equal(bilateral_depth(np.zeros((4, 5), np.float32), 2, 2.0, 0.02), 0)


@pytest.mark.parametrize("args", [(-1, 2.0, 0.02), (2, 0.0, 0.02), (2, 2.0, 0.0)])
def test_bad_arguments_are_refused(args):
    with pytest.raises(ValueError):
        bilateral_depth(np.ones((4, 4), np.float32), *args)
    with pytest.raises(ValueError, match="must be"):
        bilateral_depth(np.ones(4, np.float32), 2, 2.0, 0.02)
    with pytest.raises(ValueError, match="space"):
        bilateral_depth(np.ones((4, 4), np.float32), 2, 2.0, 0.02, "disparity")
    with pytest.raises(ValueError, match="space"):
        relative_noise(np.ones((4, 4), np.float32), "disparity")


@pytest.mark.parametrize("field,value", [("depth_filter", "median"), ("filter_space", "linear"), ("filter_radius", -1),
                                         ("filter_sigma_pixels", 0.0), ("filter_sigma_relative", -0.1),
                                         ("filter_noise_factor", 0.0), ("filter_min_noise", -0.001)])
def test_lift_config_refuses_bad_filter_settings(field, value):
    with pytest.raises(ValueError, match=f"lift.{field}"):
        LiftConfig(**{field: value})


def test_relative_noise_measures_the_sensor_not_the_scene():
    true, noisy = noisy_step(height=120, width=160)
    assert relative_noise(true, "log") == 0.0  # two flat faces and a step: no noise
    # Kinect-like noise: 0.0025 z^2 metres, so 0.005 relative at 2 m and 0.004 at 1.6 m
    assert 0.0040 < relative_noise(noisy, "log") < 0.0052
    assert relative_noise(np.zeros((10, 10), np.float32)) == 0.0
    # in inverse space the same noise measures its value at 1 m on both faces
    assert relative_noise(true, "inverse") == 0.0
    assert 0.0023 < relative_noise(noisy, "inverse") < 0.0027


def frame_of(depth):
    k = CameraIntrinsics(60.0, 60.0, 40.0, 30.0, depth.shape[1], depth.shape[0])
    return Frame(np.zeros((*depth.shape, 3), np.uint8), depth, np.eye(4), k, timestamp=1.5, index=3)


def test_auto_smooths_noisy_frames_only_with_their_measured_noise():
    true, noisy = noisy_step()
    clean = frame_of(true)
    assert filtered_depth(clean, LiftConfig()) is clean  # "auto" is the default
    for space in ("log", "inverse"):  # log is the default
        config = LiftConfig(filter_noise_factor=2.5, **({} if space == "log" else {"filter_space": space}))
        out = filtered_depth(frame_of(noisy), config)
        np.testing.assert_array_equal(out.depth, bilateral_depth(noisy, 2, 2.0, 2.5 * relative_noise(noisy, space), space))
    assert filtered_depth(frame_of(noisy), LiftConfig(filter_min_noise=0.01)).depth is noisy


def test_filtered_depth_replaces_only_the_depth():
    _, noisy = noisy_step()
    frame = frame_of(noisy)
    k = frame.intrinsics
    assert filtered_depth(frame, LiftConfig(depth_filter="none")) is frame
    out = filtered_depth(frame, LiftConfig(depth_filter="bilateral"))
    np.testing.assert_array_equal(out.depth, bilateral_depth(noisy, 2, 2.0, 0.02, "log"))
    out = filtered_depth(frame, LiftConfig(depth_filter="bilateral", filter_space="inverse"))
    np.testing.assert_array_equal(out.depth, bilateral_depth(noisy, 2, 2.0, 0.02, "inverse"))
    assert (out.timestamp, out.index, out.intrinsics) == (1.5, 3, k) and out.rgb is frame.rgb
    np.testing.assert_array_equal(frame.depth, noisy)  # the caller's frame is not changed


def test_the_segmenter_lifts_the_filtered_depth():
    from test.core.test_pipeline import K, segmenter

    rng = np.random.default_rng(2)
    depth = (2.0 + rng.standard_normal((K.height, K.width)) * 0.01).astype(np.float32)  # a wall, 1 cm noise
    frame = Frame(np.full((K.height, K.width, 3), 120, np.uint8), depth, np.eye(4), K,
                  instance_gt=np.ones((K.height, K.width), np.int32))
    spread = {}
    for kind in ("none", "bilateral", "auto"):
        result = segmenter(lift__depth_filter=kind, lift__voxel_size=0.0).step(frame)
        spread[kind] = np.std(result.points.xyz[:, 2])
        assert set(result.timings) >= {"refine", "masks", "lift", "total"} and "filter" not in result.timings
    assert spread["bilateral"] < 0.6 * spread["none"] and spread["auto"] < 0.6 * spread["none"]
