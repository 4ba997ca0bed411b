"""Replay a bag into a running ``samosaic3d_node`` over DDS and collect its final map.

The node is started as a subprocess (LOCALHOST discovery, its own domain id, reliable
inputs, a map cloud every frame) with the bag's topics as its input topics. The player publishes
the bag's raw CDR messages frame by frame (``frame_groups``: a frame's transforms, poses and
camera info before its images) and, by default, waits for the node's ``/instances/frame_cloud``
of a frame before sending the next one (lock-step), so every frame is processed, as offline.
Without lock-step it publishes at the bag's rate and the node drops what it cannot keep up with.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samosaic3d_core.types import SceneMap
from samosaic3d_ros.bag import layout
from samosaic3d_ros.bag.frame_groups import FrameGroup, frame_groups, static_messages
from samosaic3d_ros.bag.reader import BagTopics, message_count
from samosaic3d_ros.dds import use_large_data_profile
from samosaic3d_ros.local_install import with_local_interfaces
from samosaic3d_ros.stamps import header_ns

log = logging.getLogger(__name__)

OUTPUT_TOPICS = ("/instances", "/instances/cloud", "/instances/markers", "/diagnostics")


@dataclass
class ReplayConfig:
    """How a bag is replayed into the node."""

    params_file: str | None = None
    """Node parameter file (default: the package's config/samosaic3d.yaml)."""
    overrides: dict = field(default_factory=dict)
    """Extra node parameters (name -> value), e.g. {"pipeline": "baseline"}."""
    lockstep: bool = True
    """Wait for the node to finish each frame before sending the next."""
    frame_timeout: float = 20.0
    """Seconds to wait for the node's result of one frame (lock-step) before moving on."""
    startup_timeout: float = 120.0
    """Seconds to wait for the node to come up (model loading included)."""
    domain_id: int | None = None
    """ROS_DOMAIN_ID for the node and the player (default: $ROS_DOMAIN_ID, else derived from the process id)."""
    record: str | None = None
    """If set, write the node's outputs to this bag folder (mcap)."""
    topics: BagTopics = field(default_factory=BagTopics)
    """The bag's colour, depth and camera info topics (the node subscribes to these names)."""
    pose_topic: str = ""
    """A PoseStamped/Odometry topic of the bag to play besides /tf (give the node pose_source and
    pose_topic in ``overrides``)."""
    max_frames: int | None = None
    """Play no more than this many frames."""


@dataclass
class ReplayResult:
    final_map: SceneMap
    frames_sent: int
    frames_processed: int
    seconds: float
    frame_seconds: dict[int, float] = field(default_factory=dict)
    """Lock-step: per processed frame (depth stamp in ns), seconds from sending its images to receiving
    the node's result for it."""


def default_params_file() -> Path:
    return Path(__file__).resolve().parents[2] / "config" / "samosaic3d.yaml"


def _node_command(config: ReplayConfig) -> list[str]:
    topics = config.topics
    params = {
        "input_qos": "reliable", "map_cloud_rate": 0.0, "instances_rate": 0.0, "publish_frame_cloud": True,
        "cloud_transient_local": True, "on_time_jump": "reset", "tf_timeout": 2.0, **config.overrides,
        "color_topic": topics.color, "depth_topic": topics.depth, "camera_info_topic": topics.camera_info,
    }
    cmd = [sys.executable, "-m", "samosaic3d_ros.node", "--ros-args",
           "--params-file", str(config.params_file or default_params_file())]
    for name, value in params.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        cmd += ["-p", f"{name}:={text}"]
    return cmd


class NodeProcess:
    """``samosaic3d_node`` started as a subprocess for a replay (LOCALHOST discovery, its own domain id,
    its log in a temporary ``ROS_LOG_DIR``). Started before the bag is ready, it loads while the bag is
    written; ``request_stop`` sends SIGINT (the node exits while the caller goes on), ``stop`` also waits
    for the exit (killed after ``STOP_TIMEOUT_S``). A context manager that stops the node."""

    STOP_TIMEOUT_S = 15.0

    def __init__(self, config: ReplayConfig):
        domain = config.domain_id
        if domain is None:
            domain = int(os.environ.get("ROS_DOMAIN_ID") or 1 + os.getpid() % 100)
        use_large_data_profile()  # full-resolution images: see config/fastdds_large_data.xml
        env = with_local_interfaces(dict(os.environ, ROS_DOMAIN_ID=str(domain)))
        env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        log_dir = tempfile.mkdtemp(prefix="samosaic3d_replay_")
        env.setdefault("ROS_LOG_DIR", log_dir)
        # the player's own participant (this process) joins the same domain, as locally
        os.environ.update({name: env[name] for name in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE",
                                                         "ROS_LOG_DIR")})
        self.log_path = Path(log_dir) / "node.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(_node_command(config), env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._stop_sent = False

    def request_stop(self) -> None:
        """SIGINT, once: a second one would interrupt the node's clean shutdown (its exit code -2)."""
        if not self._stop_sent and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self._stop_sent = True

    def stop(self) -> None:
        self.request_stop()
        try:
            self.proc.wait(timeout=self.STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def replay(bag: str | Path, config: ReplayConfig | None = None, node: NodeProcess | None = None) -> ReplayResult:
    """Play ``bag`` into the node and return its final map. Without ``node`` the node is started here
    and always stopped; a ``node`` the caller started (``NodeProcess(config)``, the same config) is
    left to the caller to stop."""
    import rclpy

    config = config or ReplayConfig()
    if not message_count(bag, config.topics.depth):
        raise ValueError(f"bag '{bag}' has no camera frames on {config.topics.depth}")
    owned = node is None
    if owned:
        node = NodeProcess(config)
    proc = node.proc
    context = rclpy.Context()
    rclpy.init(context=context)
    recorder = _Recorder(config.record) if config.record else None
    try:
        player = _Player(context, recorder, config.topics.depth)
        player.wait_for_node(proc, config.startup_timeout, node.log_path)
        for topic, msgtype, raw in static_messages(bag):
            player.publish(topic, msgtype, raw)
        started = time.perf_counter()
        sent, first_stamp, frame_seconds = 0, None, {}
        for group in frame_groups(bag, config.topics, config.pose_topic, config.max_frames):
            if first_stamp is None:
                first_stamp = group.stamp
            elif not config.lockstep:  # at the bag's rate
                time.sleep(max(0.0, started + (group.stamp - first_stamp) * 1e-9 - time.perf_counter()))
            player.publish_frame(group)
            sent_at = time.perf_counter()
            sent += 1
            if config.lockstep and player.wait_for_frame(group.stamp, config.frame_timeout, proc):
                frame_seconds[group.stamp] = time.perf_counter() - sent_at
        if not sent:
            raise ValueError(f"bag '{bag}' has no colour image to pair with the depth images on {config.topics.depth}")
        final = player.wait_for_map(group.stamp, config.frame_timeout, proc)
        processed = len(frame_seconds) if config.lockstep else player.frames_seen
        return ReplayResult(final, sent, processed, time.perf_counter() - started, frame_seconds)
    finally:
        if recorder is not None:
            recorder.close()
        rclpy.try_shutdown(context=context)
        if owned:
            node.stop()


def spin_in_background(node, context):
    """Spin ``node`` on its own executor in a daemon thread (it ends when ``context`` shuts down)."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin():
        try:
            executor.spin()
        except Exception:  # context shut down
            pass

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return executor, thread


class _Player:
    """An rclpy node publishing raw messages and watching the node's outputs."""

    def __init__(self, context, recorder, depth_topic: str):
        import rclpy
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from samosaic3d_ros.bag.msgdefs import message_class as get_message

        self.node = rclpy.create_node("samosaic3d_bag_player", context=context)
        self._get_message = get_message
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._context_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)  # a frame may bring many
        self._latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._static = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL)  # tf2's /tf_static
        self._reliable = reliable
        self._publishers: dict[str, object] = {}
        self._depth_topic = depth_topic
        self._cond = threading.Condition()
        self.frame_stamps: set[int] = set()
        self.frames_seen = 0
        self.last_cloud = None
        self.last_cloud_stamp = -1
        from sensor_msgs.msg import PointCloud2

        self.node.create_subscription(PointCloud2, "/instances/frame_cloud", self._on_frame_cloud, reliable)
        self.node.create_subscription(PointCloud2, "/instances/cloud", self._on_cloud, self._latched)
        if recorder is not None:
            for topic in OUTPUT_TOPICS:
                msgtype = recorder.msgtypes[topic]
                qos = self._latched if topic == "/instances/cloud" else reliable
                self.node.create_subscription(
                    get_message(msgtype), topic, lambda raw, t=topic: recorder.write(t, raw), qos, raw=True
                )
        self.executor, self._spin = spin_in_background(self.node, context)

    def publish(self, topic: str, msgtype: str, raw: bytes, image: bool = False) -> None:
        if topic not in self._publishers:
            qos = self._static if topic == layout.TF_STATIC_TOPIC else self._reliable if image else self._context_qos
            self._publishers[topic] = self.node.create_publisher(self._get_message(msgtype), topic, qos)
            deadline = time.monotonic() + 10.0
            while self._publishers[topic].get_subscription_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        self._publishers[topic].publish(bytes(raw))

    def publish_frame(self, group: FrameGroup) -> None:
        """TF, poses and camera info before the images. Topics are not ordered against each other: the
        node waits for a frame's pose, and for the first camera info, up to ``tf_timeout``."""
        for topic, msgtype, raw in group.context:
            self.publish(topic, msgtype, raw)
        for topic, msgtype, raw in group.images:
            self.publish(topic, msgtype, raw, image=True)

    def _on_frame_cloud(self, msg) -> None:
        with self._cond:
            self.frame_stamps.add(header_ns(msg))
            self.frames_seen += 1
            self._cond.notify_all()

    def _on_cloud(self, msg) -> None:
        with self._cond:
            self.last_cloud = msg
            self.last_cloud_stamp = header_ns(msg)
            self._cond.notify_all()

    def wait_for_node(self, proc, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"samosaic3d_node exited with code {proc.returncode} during start-up "
                                   f"(log: {log_path})")
            if self.node.count_subscribers(self._depth_topic) > 0 and \
                    self.node.count_publishers("/instances/frame_cloud") > 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"samosaic3d_node did not come up within {timeout} s")

    def wait_for_frame(self, stamp: int, timeout: float, proc) -> int:
        """1 if the node published the frame's result within ``timeout``, else 0 (skipped frame)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while stamp not in self.frame_stamps:
                if proc.poll() is not None:
                    raise RuntimeError(f"samosaic3d_node exited with code {proc.returncode}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("no result for the frame at %.3f s within %.0f s", stamp * 1e-9, timeout)
                    return 0
                self._cond.wait(min(remaining, 0.5))
        return 1

    def wait_for_map(self, stamp: int, timeout: float, proc) -> SceneMap:
        from samosaic3d_ros.cloud_conv import cloud_to_array, unpack_rgb

        deadline = time.monotonic() + timeout
        with self._cond:
            while self.last_cloud_stamp < stamp and time.monotonic() < deadline and proc.poll() is None:
                self._cond.wait(0.5)
            cloud = self.last_cloud
        if cloud is None:
            raise RuntimeError("the node published no map cloud")
        points = cloud_to_array(cloud)
        xyz = np.stack([points["x"], points["y"], points["z"]], 1).astype(np.float32)
        return SceneMap(xyz, unpack_rgb(points["rgb"]), points["instance_id"].astype(np.int32),
                        points["score"].astype(np.float32))


class _Recorder:
    """Writes raw output messages into an mcap bag (custom types registered from their .msg text)."""

    def __init__(self, path: str):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        from samosaic3d_ros.bag.msgdefs import register_samosaic3d_types

        self.typestore = get_typestore(Stores.ROS2_KILTED)
        register_samosaic3d_types(self.typestore)
        self.msgtypes = {
            "/instances": "samosaic3d_msgs/msg/InstanceArray",
            "/instances/cloud": "sensor_msgs/msg/PointCloud2",
            "/instances/markers": "visualization_msgs/msg/MarkerArray",
            "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
        }
        self.writer = Writer(Path(path), version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.lock = threading.Lock()
        self.conns = {t: self.writer.add_connection(t, m, typestore=self.typestore) for t, m in self.msgtypes.items()}

    def write(self, topic: str, raw: bytes) -> None:
        with self.lock:
            self.writer.write(self.conns[topic], time.time_ns(), bytes(raw))

    def close(self) -> None:
        with self.lock:
            self.writer.close()
