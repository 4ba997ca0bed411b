"""Frame building without DDS: exact checks of each skip reason and of a good frame."""

import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from samosaic3d_ros.frame_builder import SkipFrame, build_frame  # noqa: E402
from samosaic3d_ros.params import NodeParams  # noqa: E402
from test.ros import scene  # noqa: E402

POSE = np.eye(4)


def build(color=None, depth=None, info="default", pose=lambda header: POSE):
    info = scene.camera_info_msg(1.0) if info == "default" else info
    return build_frame(color or scene.color_msg(1.0), depth or scene.depth_msg(1.0), info, NodeParams(), pose, index=4)


def test_good_frame():
    frame = build()
    rgb, depth = scene.scene_arrays()
    np.testing.assert_array_equal(frame.rgb, rgb)
    np.testing.assert_array_equal(frame.depth, depth)
    assert frame.intrinsics == scene.INTRINSICS and frame.timestamp == 1.0 and frame.index == 4


def reason_of(**kwargs) -> SkipFrame:
    with pytest.raises(SkipFrame) as info:
        build(**kwargs)
    return info.value


def test_skip_reasons():
    assert reason_of(info=None).reason == "camera_info"
    bad_k = scene.camera_info_msg(1.0)
    bad_k.k = [0.0] * 9
    assert "no valid intrinsics" in reason_of(info=bad_k).message
    small_info = scene.camera_info_msg(1.0)
    small_info.width = 32
    assert reason_of(info=small_info).message == "camera info is for 32x48 but depth is 64x48"
    color = scene.color_msg(1.0)
    color.encoding = "bayer_rggb8"
    assert reason_of(color=color).reason == "encoding"
    assert reason_of(depth=scene.depth_msg(1.0, np.ones((48, 63)))).reason == "size_mismatch"
    far = reason_of(depth=scene.depth_msg(1.0, np.full((48, 64), 9.0)))
    assert (far.reason, far.message) == ("depth", "only 0.0% of depth pixels are valid (finite, 0.1..6.0 m); need 1.0%")

    def no_pose(header):
        raise SkipFrame("tf", f"no pose for {header.frame_id}")

    assert reason_of(pose=no_pose).message == "no pose for camera_optical"
    skewed = np.eye(4)
    skewed[0, 1] = 0.5
    assert reason_of(pose=lambda header: skewed).reason == "invalid_frame"


def test_downsample_keeps_every_nth_pixel_and_scales_intrinsics():
    params = NodeParams(downsample=2)
    frame = build_frame(scene.color_msg(1.0), scene.depth_msg(1.0), scene.camera_info_msg(1.0), params, lambda h: POSE)
    rgb, depth = scene.scene_arrays()
    np.testing.assert_array_equal(frame.depth, depth[::2, ::2])
    np.testing.assert_array_equal(frame.rgb, rgb[::2, ::2])
    k = scene.INTRINSICS
    assert frame.intrinsics == type(k)(k.fx / 2, k.fy / 2, k.cx / 2, k.cy / 2, 32, 24)
