"""Noise measured at each depth, and depth dropped where it is too noisy (``LiftConfig.max_depth_noise``)."""

import numpy as np
import pytest

from samosaic3d_core.depth_filter import noise_by_depth, noise_range
from samosaic3d_core.lift import LiftConfig, filtered_depth
from samosaic3d_core.types import CameraIntrinsics, Frame


def corridor(noise, height=240, width=320, seed=0):
    """A floor seen from low: depth grows from 1 m (bottom rows) to 5 m (top rows), same along each
    row; ``noise(z)`` metres of white noise added (true depth where 0)."""
    z = np.linspace(5.0, 1.0, height, dtype=np.float32)[:, None].repeat(width, 1)
    rng = np.random.default_rng(seed)
    return (z + rng.standard_normal(z.shape) * noise(z)).astype(np.float32)


KINECT = lambda z: 0.0025 * z**2  # noqa: E731  (grows with the square of depth)
RELATIVE = lambda z: 0.005 * z  # noqa: E731  (grows with depth)


@pytest.mark.parametrize("model", [KINECT, RELATIVE])
def test_noise_is_measured_at_each_depth_whatever_the_sensor(model):
    z, sigma = noise_by_depth(corridor(model))
    assert len(z) == 8 and np.all(np.diff(z) > 0) and 1.0 < z[0] < 1.6 and 4.4 < z[-1] < 5.0
    np.testing.assert_allclose(sigma, model(z), rtol=0.15)


def test_clean_depth_measures_no_noise_and_keeps_its_range():
    z, sigma = noise_by_depth(corridor(lambda z: 0.0 * z))
    assert len(z) == 8 and sigma.max() < 1e-6
    assert noise_range(corridor(lambda z: 0.0 * z), 0.01) == np.inf
    assert noise_range(np.zeros((240, 320), np.float32), 0.01) == np.inf  # nothing to measure
    assert len(noise_by_depth(np.ones((8, 8), np.float32))[0]) == 0


def test_the_range_ends_where_the_noise_reaches_the_limit():
    assert noise_range(corridor(KINECT), 0.02) == pytest.approx(np.sqrt(0.02 / 0.0025), rel=0.08)  # 2.83 m
    assert noise_range(corridor(KINECT), 0.04) == pytest.approx(4.0, rel=0.08)
    assert noise_range(corridor(RELATIVE), 0.02) == pytest.approx(4.0, rel=0.08)
    assert noise_range(corridor(KINECT), 0.1) == pytest.approx(np.sqrt(0.1 / 0.0025), rel=0.08)  # past 5 m
    assert noise_range(corridor(KINECT), 0.001) == pytest.approx(np.sqrt(0.001 / 0.0025), rel=0.08)


def frame_of(depth):
    k = CameraIntrinsics(160.0, 160.0, depth.shape[1] / 2, depth.shape[0] / 2, depth.shape[1], depth.shape[0])
    return Frame(np.zeros((*depth.shape, 3), np.uint8), depth, np.eye(4), k, timestamp=1.0, index=0)


def test_filtered_depth_drops_what_is_too_noisy_and_keeps_the_rest():
    depth = corridor(KINECT)
    depth[100:110, 40:60] = 0.0  # a hole stays a hole
    frame = frame_of(depth)
    out = filtered_depth(frame, LiftConfig(depth_filter="none", max_depth_noise=0.02))
    far = noise_range(depth, 0.02)
    kept = out.depth > 0
    np.testing.assert_array_equal(out.depth[kept], depth[kept])  # kept readings are not changed
    assert np.all(depth[~kept & (depth > 0)] > far) and np.all(depth[kept] <= far)
    assert 0.3 < (~kept).mean() < 0.7 and (out.depth[100:110, 40:60] == 0).all()
    np.testing.assert_array_equal(frame.depth, depth)  # the caller's frame is not changed
    assert filtered_depth(frame, LiftConfig(depth_filter="none")) is frame  # 0 = off
    # with the default filter, the cut falls where the raw readings are too noisy
    smoothed = filtered_depth(frame, LiftConfig(max_depth_noise=0.02)).depth
    assert smoothed[smoothed > 0].max() <= far and (smoothed > 0).sum() == pytest.approx(kept.sum(), rel=0.02)
    clean = frame_of(corridor(lambda z: 0.0 * z))
    assert filtered_depth(clean, LiftConfig(max_depth_noise=0.02)) is clean
    # a tilted wall stored in millimetres: rounding measures as noise that would cut at this limit,
    # but the frame measures below filter_min_noise and keeps its range
    v, u = np.mgrid[0:240, 0:320]
    stored = (np.round(1000.0 / (0.2 + 0.8 * v / 240 + 0.15 * u / 320)) / 1000.0).astype(np.float32)
    assert noise_range(stored, 0.0001) < stored.max()
    assert filtered_depth(frame_of(stored), LiftConfig(max_depth_noise=0.0001)).depth is stored


def test_max_depth_noise_must_not_be_negative():
    with pytest.raises(ValueError, match="lift.max_depth_noise"):
        LiftConfig(max_depth_noise=-0.01)


def test_the_segmenter_lifts_no_point_beyond_the_noisy_range():
    from test.core.test_pipeline import segmenter

    depth = corridor(KINECT, 120, 160)
    frame = frame_of(depth)
    frame.instance_gt = np.ones(depth.shape, np.int32)
    far = noise_range(depth, 0.02)
    for limit, beyond in ((0.0, True), (0.02, False)):
        result = segmenter(lift__max_depth_noise=limit, lift__voxel_size=0.0).step(frame)
        assert (result.points.xyz[:, 2] > far + 0.05).any() == beyond
