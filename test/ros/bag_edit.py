"""Bags shaped like users' recordings, for the tests of ``segment-bag``: a copy of a bag with topics dropped,
renamed, added or logged late, and the camera poses of a bag's TF as PoseStamped / Odometry messages (rosbags
only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from samosaic3d_core.types import CameraIntrinsics, Frame
from samosaic3d_ros.bag import layout
from samosaic3d_ros.bag.reader import open_bag
from samosaic3d_ros.tf_buffer import matrix_to_quat, transform_to_matrix

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def tiny_frames(n: int = 3, width: int = 32, height: int = 24) -> list[Frame]:
    """``n`` small frames with ground truth, the camera moving along x."""
    k = CameraIntrinsics(40.0, 40.0, (width - 1) / 2, (height - 1) / 2, width, height)
    frames = []
    for i in range(n):
        pose = np.eye(4)
        pose[:3, 3] = [0.1 * i, 0.0, 1.2]
        rgb = np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8)
        gt = np.zeros((height, width), np.int32)
        gt[5:15, 5:20] = 3
        frames.append(Frame(rgb, np.full((height, width), 1.5, np.float32), pose, k, timestamp=10.0 + i / 30.0,
                            index=i, instance_gt=gt))
    return frames


def copy_bag(src: str | Path, dst: str | Path, drop=(), rename: dict[str, str] | None = None,
             add: list[tuple[str, str, int, object]] = (), delay: dict[str, int] | None = None) -> Path:
    """``src`` rewritten to ``dst`` (mcap) in log order without the ``drop`` topics, with ``rename``'s topics
    renamed, ``add``'s ``(topic, msgtype, log time ns, message)`` added and ``delay``'s topics logged that many
    ns later (their header stamps unchanged)."""
    rename, delay = rename or {}, delay or {}
    entries = []
    reader = open_bag(src)
    try:
        for conn, ns, raw in reader.messages():
            if conn.topic not in drop:
                entries.append((ns + delay.get(conn.topic, 0), rename.get(conn.topic, conn.topic), conn.msgtype,
                                bytes(raw)))
    finally:
        reader.close()
    entries += [(ns, topic, msgtype, bytes(TYPESTORE.serialize_cdr(msg, msgtype))) for topic, msgtype, ns, msg in add]
    entries.sort(key=lambda e: e[0])
    with Writer(Path(dst), version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {}
        for ns, topic, msgtype, raw in entries:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            writer.write(conns[topic], ns, raw)
    return Path(dst)


def tf_poses(bag: str | Path) -> list[tuple[int, str, str, np.ndarray]]:
    """(stamp ns, parent, child, parent <- child) of every transform on the bag's /tf."""
    out = []
    reader = open_bag(bag)
    try:
        for conn, _, raw in reader.messages(connections=[c for c in reader.connections if c.topic == layout.TF_TOPIC]):
            for t in TYPESTORE.deserialize_cdr(raw, conn.msgtype).transforms:
                out.append((t.header.stamp.sec * 1_000_000_000 + t.header.stamp.nanosec, t.header.frame_id,
                            t.child_frame_id, transform_to_matrix(t)))
    finally:
        reader.close()
    return out


def _header(ns: int, frame_id: str):
    t = TYPESTORE.types
    sec, nanosec = divmod(ns, 1_000_000_000)
    return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id)


def _pose(matrix: np.ndarray):
    t = TYPESTORE.types
    q = matrix_to_quat(matrix[:3, :3])
    return t["geometry_msgs/msg/Pose"](
        position=t["geometry_msgs/msg/Point"](x=float(matrix[0, 3]), y=float(matrix[1, 3]), z=float(matrix[2, 3])),
        orientation=t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def pose_stamped(ns: int, frame_id: str, matrix: np.ndarray):
    """A PoseStamped: ``matrix`` in ``frame_id``."""
    return TYPESTORE.types["geometry_msgs/msg/PoseStamped"](header=_header(ns, frame_id), pose=_pose(matrix))


def odometry(ns: int, frame_id: str, child: str, matrix: np.ndarray):
    """An Odometry of ``child`` in ``frame_id`` (``matrix``), at rest."""
    t = TYPESTORE.types
    zero = t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)
    return t["nav_msgs/msg/Odometry"](
        header=_header(ns, frame_id), child_frame_id=child,
        pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=_pose(matrix), covariance=np.zeros(36)),
        twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=t["geometry_msgs/msg/Twist"](linear=zero, angular=zero),
                                                         covariance=np.zeros(36)))
