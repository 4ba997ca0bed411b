"""Read a bag back into core ``Frame``s exactly as the node would build them (no ROS needed).

The same conversion code as the node (``frame_builder.build_frame``, the fallback TF buffer)
turns the bag's messages into frames, so ``eval-bag --offline`` and a replay through the
node see identical inputs. Colour and depth are paired by equal stamps (within ``sync_slop``).
"""

from __future__ import annotations

import dataclasses

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from samosaic3d_core.types import Frame
from samosaic3d_ros.bag import layout
from samosaic3d_ros.frame_builder import SkipFrame, build_frame
from samosaic3d_ros.params import NodeParams
from samosaic3d_ros.stamps import header_ns
from samosaic3d_ros.tf_buffer import FallbackBuffer, FallbackTransformException, pose_to_matrix

log = logging.getLogger(__name__)


@dataclass
class BagTopics:
    """Which topics of the bag hold what (defaults: the bags ``make-bag`` writes)."""

    color: str = layout.COLOR_TOPIC
    depth: str = layout.DEPTH_TOPIC
    camera_info: str = layout.CAMERA_INFO_TOPIC
    instance: str = layout.INSTANCE_TOPIC


def open_bag(path: str | Path):
    """A ``rosbags`` reader for ``path`` (mcap or sqlite3), with a clear error if it is not a bag."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag '{path}' does not exist")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises its own error types for every kind of bad bag
        raise ValueError(f"'{path}' is not a readable rosbag2 folder: {exc}") from exc
    return reader


def read_frames(path: str | Path, params: NodeParams | None = None, topics: BagTopics | None = None,
                ) -> Iterator[Frame]:
    """Frames of the bag in stamp order, with ``instance_gt`` (and ``true_pose``) where the bag has ground truth.

    Frames the node would skip (bad input, missing TF, ...) are skipped here too, with a warning.
    """
    from rosbags.typesys import Stores, get_typestore

    params = params or NodeParams()
    topics = topics or BagTopics()
    typestore = get_typestore(Stores.ROS2_KILTED)
    tf = FallbackBuffer(cache_time=1e9)  # offline: keep the whole history
    info, colors, depths, instances, true_poses = None, {}, {}, {}, {}
    reader = open_bag(path)
    try:
        for conn, _, raw in reader.messages():
            if conn.topic not in (topics.color, topics.depth, topics.camera_info, topics.instance,
                                  layout.TF_TOPIC, layout.TF_STATIC_TOPIC, layout.TRUE_POSE_TOPIC):
                continue
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            if conn.topic in (layout.TF_TOPIC, layout.TF_STATIC_TOPIC):
                for transform in msg.transforms:
                    if conn.topic == layout.TF_STATIC_TOPIC:
                        tf.set_transform_static(transform)
                    else:
                        tf.set_transform(transform)
            elif conn.topic == layout.TRUE_POSE_TOPIC:
                true_poses[header_ns(msg)] = pose_to_matrix(msg.pose)
            elif conn.topic == topics.camera_info:
                info = msg
            elif conn.topic == topics.color:
                colors[header_ns(msg)] = msg
            elif conn.topic == topics.depth:
                depths[header_ns(msg)] = (msg, info)
            else:
                instances[header_ns(msg)] = msg
    finally:
        reader.close()

    def camera_pose(header) -> np.ndarray:
        frame_id = params.camera_frame or header.frame_id
        try:
            return tf.lookup_matrix(params.map_frame, frame_id, header.stamp)
        except FallbackTransformException as exc:
            raise SkipFrame("tf", f"no pose of '{frame_id}' in '{params.map_frame}': {exc}") from exc

    color_stamps = np.array(sorted(colors), np.int64)
    index = 0
    for stamp in sorted(depths):
        depth_msg, info_msg = depths[stamp]
        if len(color_stamps) == 0:
            break
        nearest = int(color_stamps[np.argmin(np.abs(color_stamps - stamp))])
        if abs(nearest - stamp) > params.sync_slop * 1e9:
            log.warning("depth at %.3f s has no colour image within %.3f s; skipped", stamp * 1e-9, params.sync_slop)
            continue
        try:
            frame = build_frame(colors[nearest], depth_msg, info_msg, params, camera_pose, index=index)
        except SkipFrame as skip:
            log.warning("frame at %.3f s skipped: %s", stamp * 1e-9, skip.message)
            continue
        if stamp in instances:
            gt = _ids(instances[stamp])
            frame.instance_gt = gt[:: params.downsample, :: params.downsample] if params.downsample > 1 else gt
        frame.true_pose = true_poses.get(stamp)
        index += 1
        yield frame


def _ids(msg) -> np.ndarray:
    """16UC1 / 32SC1 id image -> (H, W) int32."""
    dtypes = {"16UC1": np.uint16, "mono16": np.uint16, "32SC1": np.int32}
    if msg.encoding not in dtypes:
        raise ValueError(f"instance image encoding '{msg.encoding}' not supported; expected 16UC1 or 32SC1")
    dtype = np.dtype(dtypes[msg.encoding]).newbyteorder(">" if msg.is_bigendian else "<")
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    return rows[:, : msg.width * dtype.itemsize].copy().view(dtype).reshape(msg.height, msg.width).astype(np.int32)


def without_ground_truth(frame: Frame) -> Frame:
    """``frame`` without its ground-truth images: what the node gets over ROS."""
    return dataclasses.replace(frame, instance_gt=None, part_gt=None, true_pose=None)
