"""Write posed RGB-D frames (with ground-truth instance images) as a rosbag2 (mcap or sqlite3).

Uses ``rosbags`` only: no ROS install is needed to write a bag.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

import numpy as np

from samosaic3d_core.types import Frame
from samosaic3d_ros.bag import layout
from samosaic3d_ros.stamps import ns_to_stamp, seconds_to_ns
from samosaic3d_ros.tf_buffer import matrix_to_quat

STORAGES = ("mcap", "sqlite3")
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000
"""Stamp of the first frame (ns); frames follow at their own timestamps relative to the first."""


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


class _Messages:
    """Builders of the rosbags message objects we write."""

    def __init__(self, typestore):
        self.t = typestore.types

    def stamp(self, ns: int):
        return ns_to_stamp(ns, self.t["builtin_interfaces/msg/Time"])

    def header(self, ns: int, frame_id: str):
        return self.t["std_msgs/msg/Header"](stamp=self.stamp(ns), frame_id=frame_id)

    def image(self, ns: int, frame_id: str, array: np.ndarray, encoding: str):
        h, w = array.shape[:2]
        data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        return self.t["sensor_msgs/msg/Image"](
            header=self.header(ns, frame_id), height=h, width=w, encoding=encoding,
            is_bigendian=0, step=data.size // h, data=data,
        )

    def camera_info(self, ns: int, frame_id: str, frame: Frame):
        k = frame.intrinsics
        roi = self.t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        p = np.array([k.fx, 0, k.cx, 0, 0, k.fy, k.cy, 0, 0, 0, 1, 0], np.float64)
        return self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(ns, frame_id), height=k.height, width=k.width,
            distortion_model="plumb_bob", d=np.zeros(5), k=k.matrix.reshape(-1), r=np.eye(3).reshape(-1), p=p,
            binning_x=0, binning_y=0, roi=roi,
        )

    def pose(self, ns: int, frame_id: str, matrix: np.ndarray):
        q = matrix_to_quat(matrix[:3, :3])
        t = self.t
        pose = t["geometry_msgs/msg/Pose"](
            position=t["geometry_msgs/msg/Point"](x=float(matrix[0, 3]), y=float(matrix[1, 3]), z=float(matrix[2, 3])),
            orientation=t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
        )
        return t["geometry_msgs/msg/PoseStamped"](header=self.header(ns, frame_id), pose=pose)

    def transform(self, ns: int, link: layout.Link):
        matrix = link.matrix
        q = matrix_to_quat(matrix[:3, :3])
        t = self.t
        tf = t["geometry_msgs/msg/Transform"](
            translation=t["geometry_msgs/msg/Vector3"](x=float(matrix[0, 3]), y=float(matrix[1, 3]), z=float(matrix[2, 3])),
            rotation=t["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
        )
        return t["geometry_msgs/msg/TransformStamped"](header=self.header(ns, link.parent), child_frame_id=link.child,
                                                       transform=tf)

    def tf_message(self, ns: int, links):
        return self.t["tf2_msgs/msg/TFMessage"](transforms=[self.transform(ns, link) for link in links])


def write_bag(path: str | Path, frames: Iterable[Frame], storage: str = "mcap", overwrite: bool = False,
              start_ns: int = DEFAULT_START_NS, bag_layout: layout.BagLayout = layout.DEFAULT) -> int:
    """Write ``frames`` to the bag folder ``path``; returns the number of frames written.

    Per frame, on the topics of ``bag_layout``: colour (rgb8), depth (16UC1 mm), camera info, the
    layout's moving TF links on /tf (its static ones once, on /tf_static) and, when the frame has
    ground truth, the instance image (16UC1) on its own topic, and when it has a true pose besides
    the tracker's, that pose on ``/ground_truth/camera_pose``.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    if storage not in STORAGES:
        raise ValueError(f"bag storage '{storage}' not supported; expected one of {STORAGES}")
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
        shutil.rmtree(path)
    typestore = _typestore()
    msgs = _Messages(typestore)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    optical = bag_layout.optical_frame
    count = 0
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        def connect(topic, msgtype):
            return writer.add_connection(topic, msgtype, typestore=typestore)

        conns = {
            "color": connect(bag_layout.color_topic, "sensor_msgs/msg/Image"),
            "depth": connect(bag_layout.depth_topic, "sensor_msgs/msg/Image"),
            **{f"info{i}": connect(topic, "sensor_msgs/msg/CameraInfo")
               for i, topic in enumerate(bag_layout.camera_info_topics)},
            "tf": connect(layout.TF_TOPIC, "tf2_msgs/msg/TFMessage"),
            "tf_static": connect(layout.TF_STATIC_TOPIC, "tf2_msgs/msg/TFMessage"),
            "instance": connect(bag_layout.instance_topic, "sensor_msgs/msg/Image"),
            "true_pose": connect(layout.TRUE_POSE_TOPIC, "geometry_msgs/msg/PoseStamped"),
        }

        def write(key, ns, msg):
            writer.write(conns[key], ns, typestore.serialize_cdr(msg, msg.__msgtype__))

        first_time = None
        for frame in frames:
            frame.validate(f"frame {frame.index}")
            if first_time is None:
                first_time = frame.timestamp
                write("tf_static", start_ns, msgs.tf_message(start_ns, bag_layout.static_links))
            ns = start_ns + seconds_to_ns(frame.timestamp - first_time)
            depth_mm = np.round(np.nan_to_num(frame.depth, nan=0.0, posinf=0.0) * 1000.0).clip(0, 65535).astype(np.uint16)
            for link in bag_layout.moving_links(frame.pose, frame.timestamp - first_time):
                write("tf", ns, msgs.tf_message(ns, [link]))
            for i in range(len(bag_layout.camera_info_topics)):
                write(f"info{i}", ns, msgs.camera_info(ns, optical, frame))
            write("color", ns, msgs.image(ns, optical, frame.rgb, "rgb8"))
            write("depth", ns, msgs.image(ns, optical, depth_mm, "16UC1"))
            if frame.instance_gt is not None:
                write("instance", ns, msgs.image(ns, optical, frame.instance_gt.astype(np.uint16), "16UC1"))
            if frame.true_pose is not None:
                write("true_pose", ns, msgs.pose(ns, layout.MAP_FRAME, frame.true_pose))
            count += 1
    if count == 0:
        raise ValueError("no frames to write")
    return count
