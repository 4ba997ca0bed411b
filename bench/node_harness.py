"""A ``samosaic3d_node`` subprocess driven by a bench node over DDS, and a ``Frame`` as its input messages.

Used by bench_node.py (parts b and d).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from samosaic3d_ros.stamps import header_ns, ns_to_stamp  # noqa: E402

CONFIG = REPO / "config" / "samosaic3d.yaml"
CAMERA_FRAME = "camera_optical"


class NodeHarness:
    """A ``samosaic3d_node`` subprocess plus a bench node publishing its inputs and collecting its outputs."""

    def __init__(self, context, domain: int, log_dir: str, tag: str, **overrides):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from samosaic3d_ros.bag.replay import spin_in_background
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2
        from tf2_msgs.msg import TFMessage

        cmd = [sys.executable, "-m", "samosaic3d_ros.node", "--ros-args", "--params-file", str(CONFIG),
               "-p", f"map_dir:={log_dir}/maps"]
        for name, value in overrides.items():
            cmd += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
                   ROS_LOG_DIR=log_dir)
        self._log = open(Path(log_dir) / f"node_{tag}.log", "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

        self.node = rclpy.create_node(f"bench_{tag}", context=context)
        if overrides.get("input_qos") == "reliable":
            qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        else:  # what a camera driver uses
            qos = QoSProfile(depth=5, reliability=qos_profile_sensor_data.reliability)
        self.color = self.node.create_publisher(Image, "color/image_raw", qos)
        self.depth = self.node.create_publisher(Image, "depth/image_raw", qos)
        self.info = self.node.create_publisher(CameraInfo, "depth/camera_info", qos)
        self.tf = self.node.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))
        self._cond = threading.Condition()
        self.clouds: list[tuple[int, float]] = []  # (stamp ns, arrival wall time s)
        self.diagnostics: list[dict[str, str]] = []
        big = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(PointCloud2, "/instances/frame_cloud", self._on_cloud, big)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, QoSProfile(depth=50))
        self.executor, self._spin = spin_in_background(self.node, context)

    def _on_cloud(self, msg) -> None:
        arrived = time.time()
        with self._cond:
            self.clouds.append((header_ns(msg), arrived))
            self._cond.notify_all()

    def _on_diag(self, msg) -> None:
        for status in msg.status:
            if status.name.endswith(": pipeline"):
                with self._cond:
                    self.diagnostics.append({kv.key: kv.value for kv in status.values})
                    self._cond.notify_all()

    def wait(self, predicate, timeout: float, what: str):
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what} (node log: {self._log.name})")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pubs = (self.color, self.depth, self.info, self.tf)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"samosaic3d_node exited with code {self.proc.returncode} ({self._log.name})")
            if all(p.get_subscription_count() for p in pubs) and \
                    self.node.count_publishers("/instances/frame_cloud") > 0:
                return
            time.sleep(0.05)
        raise TimeoutError("samosaic3d_node did not come up")

    def send_tf(self, tf, stamp_ns: int) -> None:
        tf.transforms[0].header.stamp = ns_to_stamp(stamp_ns)
        self.tf.publish(tf)

    def send(self, msgs, stamp_ns: int, prime: bool = False, tf: bool = True) -> None:
        """Publish one frame's prepared messages with ``stamp_ns`` (TF and camera info first)."""
        color, depth, info, tf_msg = msgs
        stamp = ns_to_stamp(stamp_ns)
        for msg in (color, depth, info):
            msg.header.stamp = stamp
        if tf:
            self.send_tf(tf_msg, stamp_ns)
        self.info.publish(info)
        if prime:  # topics are not ordered: let the first camera info and pose land before the images
            time.sleep(0.5)
        self.color.publish(color)
        self.depth.publish(depth)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()
        self.node.destroy_node()


def frame_messages(frame):
    """(colour rgb8, depth 16UC1 mm, camera info, /tf map -> camera) of a ``Frame``; stamps set at send time."""
    from geometry_msgs.msg import TransformStamped
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from samosaic3d_ros.tf_buffer import matrix_to_quat

    h, w = frame.shape
    color = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=np.ascontiguousarray(frame.rgb).tobytes())
    mm = np.round(frame.depth * 1000.0).astype("<u2")
    depth = Image(height=h, width=w, encoding="16UC1", step=w * 2, data=mm.tobytes())
    k = frame.intrinsics
    info = CameraInfo(width=w, height=h, distortion_model="plumb_bob")
    info.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    for msg in (color, depth, info):
        msg.header.frame_id = CAMERA_FRAME
    tf = TransformStamped()
    tf.header.frame_id, tf.child_frame_id = "map", CAMERA_FRAME
    t, q = frame.pose[:3, 3], matrix_to_quat(frame.pose[:3, :3])
    tf.transform.translation.x, tf.transform.translation.y, tf.transform.translation.z = (float(v) for v in t)
    r = tf.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return color, depth, info, TFMessage(transforms=[tf])
