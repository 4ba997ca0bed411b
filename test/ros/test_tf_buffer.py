import math
import threading
import time

import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from geometry_msgs.msg import TransformStamped  # noqa: E402

from samosaic3d_ros.tf_buffer import (  # noqa: E402
    FallbackBuffer, FallbackConnectivityException, FallbackExtrapolationException, FallbackLookupException,
    matrix_to_quat, quat_to_matrix, slerp, transform_to_matrix,
)


def tf(parent, child, t, xyz=(0, 0, 0), yaw=0.0):
    """TransformStamped parent<-child at t seconds: translation xyz, rotation yaw (rad) about z."""
    msg = TransformStamped()
    msg.header.frame_id, msg.child_frame_id = parent, child
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = map(float, xyz)
    msg.transform.rotation.z, msg.transform.rotation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    return msg


def yaw_matrix(yaw, xyz=(0, 0, 0)):
    m = np.eye(4)
    m[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    m[:3, 3] = xyz
    return m


# camera_optical in camera_link: z forward -> the usual optical rotation
OPTICAL = np.array([[0, 0, 1, 0.1], [-1, 0, 0, 0], [0, -1, 0, 0.2], [0, 0, 0, 1]], float)


def robot_buffer() -> FallbackBuffer:
    """map -> odom (static) -> base (dynamic, t=10 and t=12) -> camera_optical (static)."""
    buf = FallbackBuffer(cache_time=60.0)
    buf.set_transform_static(tf("map", "odom", 0, (1, 0, 0)), "test")
    buf.set_transform(tf("odom", "base", 10, (0, 0, 0), 0.0), "test")
    buf.set_transform(tf("odom", "base", 12, (2, 4, 0), math.pi / 2), "test")
    optical = tf("base", "camera_optical", 0, OPTICAL[:3, 3])
    q = matrix_to_quat(OPTICAL[:3, :3])
    r = optical.transform.rotation
    r.x, r.y, r.z, r.w = q
    buf.set_transform_static(optical, "test")
    return buf


def test_quaternion_helpers_round_trip():
    for rot in (OPTICAL[:3, :3], yaw_matrix(2.5)[:3, :3], np.diag([1.0, -1, -1]), np.diag([-1.0, -1, 1])):
        np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(rot)), rot, atol=1e-12)
    np.testing.assert_allclose(slerp([0, 0, 0, 1], [0, 0, math.sin(0.5), math.cos(0.5)], 0.5),
                               [0, 0, math.sin(0.25), math.cos(0.25)], atol=1e-12)


def test_chain_at_stamp_is_exact():
    out = robot_buffer().lookup_transform("map", "camera_optical", 12.0)
    expected = yaw_matrix(0, (1, 0, 0)) @ yaw_matrix(math.pi / 2, (2, 4, 0)) @ OPTICAL
    np.testing.assert_allclose(transform_to_matrix(out), expected, atol=1e-12)
    assert (out.header.frame_id, out.child_frame_id) == ("map", "camera_optical")
    assert (out.header.stamp.sec, out.header.stamp.nanosec) == (12, 0)


def test_interpolation_at_midpoint_is_exact():
    out = robot_buffer().lookup_transform("map", "camera_optical", 11.0)
    expected = yaw_matrix(0, (1, 0, 0)) @ yaw_matrix(math.pi / 4, (1, 2, 0)) @ OPTICAL
    np.testing.assert_allclose(transform_to_matrix(out), expected, atol=1e-12)


def test_inverse_direction_and_sibling_frames():
    buf = robot_buffer()
    forward = transform_to_matrix(buf.lookup_transform("map", "camera_optical", 12.0))
    backward = transform_to_matrix(buf.lookup_transform("camera_optical", "map", 12.0))
    np.testing.assert_allclose(backward, np.linalg.inv(forward), atol=1e-12)
    buf.set_transform_static(tf("odom", "dock", 0, (5, 0, 0)), "test")
    sibling = transform_to_matrix(buf.lookup_transform("dock", "base", 10.0))
    np.testing.assert_allclose(sibling, yaw_matrix(0, (-5, 0, 0)), atol=1e-12)


def test_time_zero_is_latest_common_time():
    out = robot_buffer().lookup_transform("map", "camera_optical", 0)
    assert out.header.stamp.sec == 12


def test_extrapolation_and_missing_frames_raise_clear_errors():
    buf = robot_buffer()
    with pytest.raises(FallbackExtrapolationException, match=r"odom -> base requested at 12.5.* from 10.0+ to 12.0+ s"):
        buf.lookup_transform("map", "camera_optical", 12.5)
    with pytest.raises(FallbackExtrapolationException):
        buf.lookup_transform("map", "camera_optical", 9.0)
    with pytest.raises(FallbackLookupException, match="frame 'nowhere' does not exist"):
        buf.lookup_transform("map", "nowhere", 11.0)
    buf.set_transform_static(tf("world", "island", 0), "test")
    with pytest.raises(FallbackConnectivityException, match="'map' and 'island' are not connected"):
        buf.lookup_transform("map", "island", 11.0)


def test_cache_is_bounded_by_time_and_entries():
    buf = FallbackBuffer(cache_time=1.0, max_entries=5)
    for k in range(20):
        buf.set_transform(tf("map", "base", 100 + 0.1 * k), "test")
    link = buf._links["base"]
    assert len(link.stamps) == 5 and link.stamps[-1] == int(round(101.9 * 1e9))
    buf = FallbackBuffer(cache_time=1.0)
    for k in range(30):
        buf.set_transform(tf("map", "base", 100 + 0.1 * k), "test")
    assert buf._links["base"].stamps[0] == int(round(101.9 * 1e9))  # newest 102.9 minus 1 s
    buf.clear()
    assert buf.all_frames() == []


def test_lookup_waits_for_late_data():
    buf = robot_buffer()
    threading.Timer(0.05, lambda: buf.set_transform(tf("odom", "base", 13, (2, 4, 0)), "test")).start()
    started = time.monotonic()
    out = buf.lookup_transform("map", "base", 13.0, timeout=2.0)
    assert time.monotonic() - started < 1.5 and out.header.stamp.sec == 13
    with pytest.raises(FallbackExtrapolationException):
        buf.lookup_transform("map", "base", 14.0, timeout=0.05)
