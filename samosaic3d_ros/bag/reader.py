"""Read a bag back into core ``Frame``s exactly as the node would build them (no ROS needed).

The same conversion code as the node (``frame_builder.build_frame``, the fallback TF buffer)
turns the bag's messages into frames, so ``eval-bag --offline`` and a replay through the
node see identical inputs. The camera pose comes, as in the node, from /tf and /tf_static
(chained through any number of frames) and, with ``pose_source`` ``pose_topic`` / ``odom_topic``,
from a PoseStamped / Odometry topic inserted into the TF buffer. Colour and depth are paired by
equal stamps (within ``sync_slop``); a depth image takes the camera info stamped last before it
(or the first one after, when none is), whichever order the bag logged them in.

The bag is read twice: first its transforms and poses (small, kept whole so that every frame's
pose can be interpolated), then its images, streamed: a frame is built once the next depth
image is read, so memory holds a few images, not the bag.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
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
    """Which topics of the bag hold what (defaults: the bags ``make-bag`` writes).

    The camera pose's source is the node parameters' (``pose_source``, ``pose_topic``), as in the node.
    """

    color: str = layout.COLOR_TOPIC
    depth: str = layout.DEPTH_TOPIC
    camera_info: str = layout.CAMERA_INFO_TOPIC
    instance: str = layout.INSTANCE_TOPIC
    """ground-truth instance images; empty: none"""
    true_pose: str = layout.TRUE_POSE_TOPIC
    """ground-truth camera poses (PoseStamped) when the poses on /tf are a tracker's; empty: none"""


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


def message_count(path: str | Path, topic: str) -> int:
    """How many messages the bag at ``path`` holds on ``topic``."""
    reader = open_bag(path)
    try:
        return sum(c.msgcount for c in reader.connections if c.topic == topic)
    finally:
        reader.close()


def bag_messages(reader, topics) -> Iterator:
    """``(connection, log time, raw CDR)`` of ``topics`` in log order (nothing when none is in the bag)."""
    connections = [c for c in reader.connections if c.topic in set(topics)]
    if connections:  # rosbags reads every topic for an empty selection
        yield from reader.messages(connections=connections)


def pose_transform(types, header, child_frame: str, pose):
    """A pose message's pose as the transform ``header.frame_id -> child_frame`` (the node's ``_insert_pose``)."""
    p = pose.position
    transform = types["geometry_msgs/msg/Transform"](
        translation=types["geometry_msgs/msg/Vector3"](x=p.x, y=p.y, z=p.z), rotation=pose.orientation)
    return types["geometry_msgs/msg/TransformStamped"](header=header, child_frame_id=child_frame, transform=transform)


def read_transforms(path: str | Path, params: NodeParams, typestore, true_pose_topic: str = ""
                    ) -> tuple[FallbackBuffer, dict[int, np.ndarray]]:
    """(TF buffer holding the bag's whole /tf, /tf_static and pose topic, true poses by stamp in ns)."""
    tf = FallbackBuffer(cache_time=1e9, max_entries=sys.maxsize)  # offline: keep the whole history
    pose_topic = params.pose_topic if params.pose_source != "tf" else ""
    child_frame = params.pose_child_frame or params.camera_frame
    if params.pose_source == "pose_topic" and not child_frame:
        raise ValueError("pose_source 'pose_topic' needs parameter pose_child_frame or camera_frame")
    true_poses = {}
    reader = open_bag(path)
    try:
        wanted = (layout.TF_TOPIC, layout.TF_STATIC_TOPIC, pose_topic, true_pose_topic)
        for conn, _, raw in bag_messages(reader, [t for t in wanted if t]):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == layout.TF_STATIC_TOPIC:
                for transform in msg.transforms:
                    tf.set_transform_static(transform)
            elif conn.topic == layout.TF_TOPIC:
                for transform in msg.transforms:
                    tf.set_transform(transform)
            elif conn.topic == pose_topic:
                odometry = conn.msgtype == "nav_msgs/msg/Odometry"
                child = msg.child_frame_id if odometry else child_frame
                tf.set_transform(pose_transform(typestore.types, msg.header, child,
                                                msg.pose.pose if odometry else msg.pose))
            else:
                true_poses[header_ns(msg)] = pose_to_matrix(msg.pose)
    finally:
        reader.close()
    return tf, true_poses


def read_frames(path: str | Path, params: NodeParams | None = None, topics: BagTopics | None = None,
                max_frames: int | None = None) -> Iterator[Frame]:
    """Frames of the bag in order, with ``instance_gt`` (and ``true_pose``) where the bag has ground truth.

    Frames the node would skip (bad input, missing TF, ...) are skipped here too, with a warning.
    ``max_frames``: read no further than that many depth images.
    """
    from rosbags.typesys import Stores, get_typestore

    params = params or NodeParams()
    topics = topics or BagTopics()
    typestore = get_typestore(Stores.ROS2_KILTED)
    tf, true_poses = read_transforms(path, params, typestore, topics.true_pose)

    def camera_pose(header) -> np.ndarray:
        frame_id = params.camera_frame or header.frame_id
        try:
            return tf.lookup_matrix(params.map_frame, frame_id, header.stamp)
        except FallbackTransformException as exc:
            raise SkipFrame("tf", f"no pose of '{frame_id}' in '{params.map_frame}': {exc}") from exc

    infos, colors, instances = {}, {}, {}
    index = depths = 0

    def camera_info(stamp: int):
        before = [s for s in infos if s <= stamp]
        return infos[max(before)] if before else infos[min(infos)] if infos else None

    def frame_of(depth_msg) -> Frame | None:
        stamp = header_ns(depth_msg)
        if not colors:
            log.warning("depth at %.3f s has no colour image; skipped", stamp * 1e-9)
            return None
        nearest = min(colors, key=lambda c: abs(c - stamp))
        if abs(nearest - stamp) > params.sync_slop * 1e9:
            log.warning("depth at %.3f s has no colour image within %.3f s; skipped", stamp * 1e-9, params.sync_slop)
            return None
        try:
            frame = build_frame(colors[nearest], depth_msg, camera_info(stamp), params, camera_pose, index=index)
        except SkipFrame as skip:
            log.warning("frame at %.3f s skipped: %s", stamp * 1e-9, skip.message)
            return None
        if stamp in instances:
            gt = _ids(instances[stamp])
            frame.instance_gt = gt[:: params.downsample, :: params.downsample] if params.downsample > 1 else gt
        frame.true_pose = true_poses.get(stamp)
        return frame

    def forget_before(stamp: int) -> None:
        """Drop the messages no later depth image can take."""
        for old in [c for c in colors if c < stamp - params.sync_slop * 1e9]:
            del colors[old]
        for old in [i for i in instances if i <= stamp]:
            del instances[old]
        for old in sorted(s for s in infos if s <= stamp)[:-1]:
            del infos[old]

    pending = None  # a depth image waiting for the messages logged after it
    reader = open_bag(path)
    try:
        for conn, _, raw in bag_messages(reader, [t for t in (topics.color, topics.depth, topics.camera_info,
                                                              topics.instance) if t]):
            if conn.topic == topics.depth and (max_frames is not None and depths >= max_frames):
                break
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == topics.camera_info:
                infos[header_ns(msg)] = msg
            elif conn.topic == topics.color:
                colors[header_ns(msg)] = msg
            elif conn.topic == topics.instance:
                instances[header_ns(msg)] = msg
            else:
                depths += 1
                if pending is not None:
                    frame = frame_of(pending)
                    forget_before(header_ns(pending))
                    if frame is not None:
                        index += 1
                        yield frame
                pending = msg
    finally:
        reader.close()
    if pending is not None:
        frame = frame_of(pending)
        if frame is not None:
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
