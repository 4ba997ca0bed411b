"""A tiny synthetic RGB-D stream as ROS messages: two coloured boxes in front of a wall.

The camera looks along +z of its optical frame; ``CAMERA_IN_MAP`` places it in the map.
Everything is exact: depth is 32FC1 (or 16UC1 millimetres), intrinsics are round numbers.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from samosaic3d_core.types import CameraIntrinsics
from samosaic3d_ros.stamps import seconds_to_stamp

W, H = 64, 48
INTRINSICS = CameraIntrinsics(fx=50.0, fy=50.0, cx=31.5, cy=23.5, width=W, height=H)
WALL = ((50, 50, 50), 3.0)  # colour (= FakeSegmenter.BACKGROUND), depth m
# (u0, u1, v0, v1) pixel rectangle, colour, depth (m)
BOXES = [((8, 24, 10, 30), (200, 30, 30), 2.0), ((36, 56, 14, 40), (30, 200, 30), 1.5)]
CAMERA_FRAME = "camera_optical"
CAMERA_IN_MAP = (1.0, 2.0, 0.5)  # camera origin in the map; identity rotation


def scene_arrays() -> tuple[np.ndarray, np.ndarray]:
    """rgb (H, W, 3) uint8, depth (H, W) float32 metres."""
    rgb = np.empty((H, W, 3), np.uint8)
    rgb[:] = WALL[0]
    depth = np.full((H, W), WALL[1], np.float32)
    for (u0, u1, v0, v1), color, z in BOXES:
        rgb[v0:v1, u0:u1] = color
        depth[v0:v1, u0:u1] = z
    return rgb, depth


def expected_box(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Map-frame (min, max) corners of box ``index``'s visible face."""
    (u0, u1, v0, v1), _, z = BOXES[index]
    k = INTRINSICS
    lo = np.array([(u0 - k.cx) * z / k.fx, (v0 - k.cy) * z / k.fy, z]) + CAMERA_IN_MAP
    hi = np.array([(u1 - 1 - k.cx) * z / k.fx, (v1 - 1 - k.cy) * z / k.fy, z]) + CAMERA_IN_MAP
    return lo, hi


def color_msg(t: float, rgb: np.ndarray | None = None, encoding: str = "rgb8") -> Image:
    rgb = scene_arrays()[0] if rgb is None else rgb
    h, w = rgb.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, step=w * rgb.shape[2], data=np.ascontiguousarray(rgb).tobytes())
    msg.header.stamp, msg.header.frame_id = seconds_to_stamp(t), CAMERA_FRAME
    return msg


def depth_msg(t: float, depth: np.ndarray | None = None, frame_id: str = CAMERA_FRAME) -> Image:
    depth = scene_arrays()[1] if depth is None else depth.astype(np.float32)
    h, w = depth.shape
    msg = Image(height=h, width=w, encoding="32FC1", step=w * 4, data=depth.astype("<f4").tobytes())
    msg.header.stamp, msg.header.frame_id = seconds_to_stamp(t), frame_id
    return msg


def camera_info_msg(t: float) -> CameraInfo:
    k = INTRINSICS
    msg = CameraInfo(width=W, height=H, distortion_model="plumb_bob")
    msg.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    msg.header.stamp, msg.header.frame_id = seconds_to_stamp(t), CAMERA_FRAME
    return msg


def camera_tf_msg(t: float) -> TFMessage:
    """map -> camera_optical at ``t`` (a dynamic transform)."""
    transform = TransformStamped()
    transform.header.stamp, transform.header.frame_id, transform.child_frame_id = seconds_to_stamp(t), "map", CAMERA_FRAME
    translation = transform.transform.translation
    translation.x, translation.y, translation.z = CAMERA_IN_MAP
    transform.transform.rotation.w = 1.0
    return TFMessage(transforms=[transform])
