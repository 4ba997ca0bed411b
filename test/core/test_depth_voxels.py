"""One point per voxel straight from a depth image: the points of back-projection then voxel downsampling."""

import numpy as np
import pytest

from samosaic3d_core.geometry import backproject, voxel_downsample
from samosaic3d_core.geometry import depth_voxels
from samosaic3d_core.geometry.depth_voxels import depth_voxel_points
from samosaic3d_core.types import CameraIntrinsics

K = CameraIntrinsics(fx=500.0, fy=480.0, cx=39.5, cy=29.25, width=80, height=60)


def _pose(yaw: float, translation) -> np.ndarray:
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:3, :3] = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    pose[:3, 3] = translation
    return pose


def _depth(seed: int) -> np.ndarray:
    """A tilted floor with boxes in front, and every kind of invalid pixel."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:60, 0:80]
    depth = (1.5 + 0.004 * v + 0.001 * u + rng.normal(0, 0.0005, (60, 80))).astype(np.float32)
    depth[10:25, 20:40] = 0.7 + rng.normal(0, 0.001, (15, 20))
    depth[0, :5] = np.nan
    depth[1, :5] = np.inf
    depth[2, :5] = 0.0
    depth[3, :5] = 0.05  # nearer than min_depth
    depth[4, :5] = 9.0  # beyond max_depth
    return depth


def _numpy_path(depth, pose, voxel_size):
    xyz, pixel = backproject(depth, K, pose, 0.1, 6.0)
    keep = np.sort(voxel_downsample(xyz, voxel_size))
    return xyz[keep], pixel[keep]


@pytest.mark.parametrize("seed, pose, voxel_size", [
    (0, None, 0.02), (1, _pose(0.3, [1.5, -2.0, 1.2]), 0.02), (2, _pose(-1.1, [-40.0, 25.0, 0.8]), 0.05),
])
def test_the_first_pixel_of_every_voxel_as_backprojection_and_voxel_downsampling_give_it(seed, pose, voxel_size):
    depth = _depth(seed)
    xyz, pixel = depth_voxel_points(depth, K, pose, 0.1, 6.0, voxel_size)
    expected_xyz, expected_pixel = _numpy_path(depth, pose, voxel_size)
    np.testing.assert_array_equal(pixel, expected_pixel)
    np.testing.assert_allclose(xyz, expected_xyz, rtol=1e-6, atol=1e-9)
    assert xyz.dtype == np.float32 and pixel.dtype == np.int64
    assert len(pixel) < np.isfinite(depth).sum() / 2  # neighbouring pixels share voxels
    assert (pixel // 80 > 4).any() and not np.isin(pixel, np.arange(5 * 80)[np.arange(5 * 80) % 80 < 5]).any()


def test_far_from_the_origin_it_falls_back_to_numpy_and_without_numba_numpy_runs(monkeypatch):
    depth = _depth(3)
    far = _pose(0.2, [3.0e4, 0.0, 0.0])  # 1.5 million 2 cm voxels out: beyond a packed key
    xyz, pixel = depth_voxel_points(depth, K, far, 0.1, 6.0, 0.02)
    expected_xyz, expected_pixel = _numpy_path(depth, far, 0.02)
    np.testing.assert_array_equal(pixel, expected_pixel)
    np.testing.assert_array_equal(xyz, expected_xyz)
    pose = _pose(0.2, [1.0, 2.0, 0.5])
    compiled = depth_voxel_points(depth, K, pose, 0.1, 6.0, 0.02)
    monkeypatch.setattr(depth_voxels, "njit", None)
    plain = depth_voxel_points(depth, K, pose, 0.1, 6.0, 0.02)
    np.testing.assert_array_equal(plain[1], compiled[1])
    np.testing.assert_allclose(plain[0], compiled[0], rtol=1e-6, atol=1e-9)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="intrinsics are for 80x60"):
        depth_voxel_points(np.ones((30, 40), np.float32), K, None, 0.1, 6.0, 0.02)
    with pytest.raises(ValueError, match="voxel_size"):
        depth_voxel_points(np.ones((60, 80), np.float32), K, None, 0.1, 6.0, 0.0)
    xyz, pixel = depth_voxel_points(np.zeros((60, 80), np.float32), K, None, 0.1, 6.0, 0.02)
    assert xyz.shape == (0, 3) and pixel.shape == (0,)
