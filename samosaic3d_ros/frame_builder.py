"""Turn one synchronised colour + depth pair, the camera info and the camera pose into a core ``Frame``.

Every problem with the input raises ``SkipFrame(reason, message)``: the node warns
(throttled per reason), counts the frame as skipped and keeps running.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from samosaic3d_core.types import CameraIntrinsics, Frame
from samosaic3d_ros.image_conv import image_to_depth, image_to_rgb
from samosaic3d_ros.params import NodeParams
from samosaic3d_ros.stamps import stamp_to_seconds


class SkipFrame(Exception):
    """This frame cannot be used. ``reason`` is a short key (counted in diagnostics), ``message`` says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def intrinsics_from_camera_info(info) -> CameraIntrinsics:
    """Pinhole intrinsics from ``sensor_msgs/CameraInfo`` (its K; distortion is assumed already removed)."""
    k = np.asarray(info.k, np.float64).reshape(3, 3)
    if not (np.all(np.isfinite(k)) and k[0, 0] > 0 and k[1, 1] > 0) or info.width == 0 or info.height == 0:
        size = f"{info.width}x{info.height}"
        raise SkipFrame("camera_info", f"camera info has no valid intrinsics (K={k.reshape(-1).tolist()}, {size})")
    return CameraIntrinsics.from_matrix(k, int(info.width), int(info.height))


def build_frame(
    color_msg,
    depth_msg,
    info_msg,
    params: NodeParams,
    camera_pose: Callable[[object], np.ndarray],
    index: int = 0,
) -> Frame:
    """A validated ``Frame`` or ``SkipFrame``.

    camera_pose: called with the depth header, returns the (4, 4) camera-to-map pose or raises SkipFrame.
    The frame's timestamp is the depth stamp in seconds; ``rgb`` may be a view into ``color_msg.data``.
    """
    if info_msg is None:
        raise SkipFrame(
            "camera_info",
            f"no CameraInfo received on '{params.camera_info_topic}' yet; skipping frames until one arrives",
        )
    try:
        rgb = image_to_rgb(color_msg)
    except ValueError as exc:
        raise SkipFrame("encoding", f"colour image on '{params.color_topic}': {exc}") from exc
    try:
        depth = image_to_depth(depth_msg, params.depth_scale)
    except ValueError as exc:
        raise SkipFrame("encoding", f"depth image on '{params.depth_topic}': {exc}") from exc
    h, w = depth.shape
    if rgb.shape[:2] != (h, w):
        raise SkipFrame(
            "size_mismatch",
            f"colour image is {rgb.shape[1]}x{rgb.shape[0]} but depth is {w}x{h}; "
            "publish depth registered to the colour image (e.g. aligned_depth_to_color)",
        )
    intrinsics = intrinsics_from_camera_info(info_msg)
    if (intrinsics.width, intrinsics.height) != (w, h):
        raise SkipFrame(
            "camera_info", f"camera info is for {intrinsics.width}x{intrinsics.height} but depth is {w}x{h}"
        )
    if params.downsample > 1:
        n = params.downsample
        rgb, depth = rgb[::n, ::n], depth[::n, ::n]  # pixel (u', v') is pixel (n u', n v') of the input
        h, w = depth.shape
        intrinsics = CameraIntrinsics(
            intrinsics.fx / n, intrinsics.fy / n, intrinsics.cx / n, intrinsics.cy / n, w, h
        )
    valid = (depth >= params.segmenter.lift.min_depth) & (depth <= params.segmenter.lift.max_depth)
    fraction = float(valid.mean())
    if fraction < params.min_valid_depth_fraction or not valid.any():
        raise SkipFrame(
            "depth",
            f"only {fraction:.1%} of depth pixels are valid (finite, {params.segmenter.lift.min_depth}..{params.segmenter.lift.max_depth} m); "
            f"need {params.min_valid_depth_fraction:.1%}",
        )
    pose = camera_pose(depth_msg.header)
    frame = Frame(
        rgb=rgb, depth=depth, pose=pose, intrinsics=intrinsics,
        timestamp=stamp_to_seconds(depth_msg.header.stamp), index=index,
    )
    try:
        return frame.validate(f"frame {index}")
    except ValueError as exc:
        raise SkipFrame("invalid_frame", str(exc)) from exc
