"""Start ``Samosaic3dNode`` (with the fake segmenter) in a test harness and feed it the synthetic stream."""

from __future__ import annotations

import time
from pathlib import Path

from rcl_interfaces.msg import Log
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from samosaic3d_ros.node import Samosaic3dNode
from test.ros import scene
from test.ros.conftest import CONFIG
from test.ros.fake_segmenter import FakeSegmenter


def start_node(ros, map_dir: Path, segmenter_factory=FakeSegmenter, **overrides) -> Samosaic3dNode:
    """The node configured from config/samosaic3d.yaml plus ``overrides`` (name=value, as -p arguments)."""
    overrides.setdefault("tf_timeout", 0.2)
    args = ["--ros-args", "--params-file", str(CONFIG), "-p", f"map_dir:={map_dir}"]
    for name, value in overrides.items():
        args += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
    return ros.add(Samosaic3dNode(context=ros.context, segmenter_factory=segmenter_factory, cli_args=args))


class Stream:
    """Publishers of colour, depth, camera info and /tf, matched with the node before use."""

    def __init__(self, ros, node, with_camera_info: bool = True, timeout: float = 5.0):
        """``timeout``: seconds to wait for the node's subscriptions (a node in its own process first
        imports torch and the models, which takes longer on a loaded machine)."""
        self.ros, self.node = ros, node
        sensor = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.color = node.create_publisher(Image, "color/image_raw", sensor)
        self.depth = node.create_publisher(Image, "depth/image_raw", sensor)
        self.info = node.create_publisher(CameraInfo, "depth/camera_info", sensor)
        self.tf = node.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))
        self.log: list = []
        node.create_subscription(Log, "/rosout", self.log.append, QoSProfile(depth=100))
        ros.wait_until(
            lambda: all(p.get_subscription_count() for p in (self.color, self.depth, self.info, self.tf)),
            timeout, what="the node to subscribe to the inputs",
        )
        ros.wait_until(lambda: node.count_publishers("/rosout") >= 2, timeout, what="the node's /rosout publisher")

    def send(self, t: float, color=None, depth=None, info: bool = True, tf: bool = True) -> None:
        """One frame at ``t`` seconds (TF and camera info first, like a camera driver)."""
        if tf:
            self.tf.publish(scene.camera_tf_msg(t))
        if info:
            self.info.publish(scene.camera_info_msg(t))
        time.sleep(0.02)  # separate topics have no order; let TF and camera info land first
        self.color.publish(color if color is not None else scene.color_msg(t))
        self.depth.publish(depth if depth is not None else scene.depth_msg(t))

    def warnings(self, node_name: str = "samosaic3d_node") -> list[str]:
        return [m.msg for m in self.log if m.name == node_name and m.level == Log.WARN]

    def wait_warning(self, text: str, timeout: float = 5.0) -> str:
        return self.ros.wait_until(
            lambda: next((w for w in self.warnings() if text in w), None), timeout, f"a warning containing '{text}'"
        )
