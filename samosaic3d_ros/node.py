"""``samosaic3d_node``: posed RGB-D stream in, instance-labelled 3D map out.

Threads: the executor (parameter ``executor``) runs the callbacks, which only store the newest synchronised
colour/depth pair (a pair replaced before the worker took it counts as dropped). One
worker thread takes the newest pair, looks up the camera pose, builds a ``Frame``, runs
``OnlineSegmenter.step``, publishes the camera pose and hands the rest to a publisher thread
(``PublishQueue``: clouds, instances and markers are packed there, off the worker's path, the
newest state replacing an older one not yet sent). The segmenter is touched under one lock
(the worker, ``~/reset``, ``~/save_map``, ``~/load_map``).

Bad input never stops the node: unsupported encodings, colour/depth size mismatch,
no valid depth, missing camera info, a stamp of zero or far in the future, a pose missing or
late in TF -> one throttled warning per kind, the frame is skipped and counted (``/diagnostics``). Time going
backwards (a bag loop) resets the map and the TF buffer (``on_time_jump: reset``; the
frame that shows the jump usually lost its pose with the buffer and is skipped, the
following ones are used) or skips the older frames (``skip``); a repeated stamp is skipped.
A pipeline exception is logged as an error and the frame skipped.

Start-up faults end the process with one fatal line naming the parameter or the file: exit code 1
(``EXIT_BAD_PARAMETER``) for a bad parameter, 2 (``EXIT_MODEL_FILE``) for a checkpoint or FastSAM
weights file that is missing, unreadable or does not fit its model; 0 after a clean shutdown.
"""

from __future__ import annotations

import math
import threading
import time
import traceback

import numpy as np
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TransformStamped
from nav_msgs.msg import Odometry
from samosaic3d_msgs.srv import LoadMap, SaveMap
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from samosaic3d_core.errors import ModelFileError
from samosaic3d_core.io.atomic import atomic_path, remove_stale_temporaries
from samosaic3d_core.types import Instances
from samosaic3d_ros.diagnostics import PipelineStats, diagnostic_array
from samosaic3d_ros.executors import MultiThreadedExecutor
from samosaic3d_ros.frame_builder import SkipFrame, build_frame
from samosaic3d_ros.map_files import resolve_map_path
from samosaic3d_ros.outputs import Outputs
from samosaic3d_ros.publish_queue import PublishJob, PublishQueue
from samosaic3d_ros.params import NodeParams, build_segmenter, declare_params
from samosaic3d_ros.stamps import header_ns, stamp_to_ns
from samosaic3d_ros.sync import ApproximateTimeSynchronizer, Subscriber
from samosaic3d_ros.tf_buffer import Buffer, TransformException, TransformListener, transform_to_matrix

NODE_NAME = "samosaic3d_node"
EXIT_BAD_PARAMETER = 1
"""Exit code: a parameter value is out of range, unknown, or the parts it names do not go together."""
EXIT_MODEL_FILE = 2
"""Exit code: a checkpoint or FastSAM weights file is missing, unreadable, or does not fit its model."""
MAX_FUTURE_S = 60.0
"""Frames stamped further ahead of the node's clock (ROS time: the bag's with use_sim_time) are skipped."""
WORKER_JOIN_S = 30.0
"""Seconds deactivation or shutdown waits for the frame in hand (the first frames load models)."""
STALE_SAVE_S = 60.0
"""Unfinished save temporaries in the map folder older than this are removed at start-up (younger
ones may belong to another node saving into the same folder)."""


class MapNodeMixin:
    """The node's work, shared by ``Samosaic3dNode`` and the managed ``Samosaic3dManagedNode``
    (``managed_node.py``), in the steps of a lifecycle: ``_configure`` (parameters, models,
    publishers, services), ``_activate`` (inputs, worker, diagnostics), ``_deactivate`` (stop
    processing, keep the map), ``_cleanup`` (drop the map, the models and the publishers)."""

    params: NodeParams | None = None
    segmenter = None
    _subscriptions_of_inputs: list = []
    _worker: threading.Thread | None = None

    def _configure(self, segmenter_factory=None) -> None:
        params = declare_params(self)
        if params.pose_source == "pose_topic" and not (params.pose_child_frame or params.camera_frame):
            raise ValueError("pose_source 'pose_topic' needs parameter pose_child_frame or camera_frame")
        self.params = params
        self.segmenter = (segmenter_factory or build_segmenter)(params)
        self.stats = PipelineStats()
        self._segmenter_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending = None  # (color, depth) waiting for the worker
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._camera_info = None
        self._camera_info_arrived = threading.Event()
        self._last_stamp_ns: int | None = None
        self._frame_index = 0
        self._last_publish: dict[str, float] = {}
        self._warned: dict[str, tuple[float, int]] = {}  # reason -> (last time, suppressed since)

        self.outputs = Outputs(self, params)
        self._publisher = PublishQueue(self._publish, self._on_publish_error)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.tf_buffer = Buffer(cache_time=Duration(seconds=params.tf_cache_time), node=self)
        self.tf_listener = TransformListener(self.tf_buffer, self)
        # services may wait for a step; with executor multi_threaded, inputs keep flowing meanwhile
        services = MutuallyExclusiveCallbackGroup()
        self._map_services = [
            self.create_service(Trigger, "~/reset", self._on_reset, callback_group=services),
            self.create_service(SaveMap, "~/save_map", self._on_save, callback_group=services),
            self.create_service(LoadMap, "~/load_map", self._on_load, callback_group=services),
        ]
        try:
            removed = remove_stale_temporaries(params.map_path, STALE_SAVE_S)
        except OSError as exc:  # an unreadable map folder: saving will say so; starting must not fail
            removed = []
            self.get_logger().warning(f"could not look for unfinished saves in {params.map_path}: {exc}")
        if removed:
            self.get_logger().info(
                f"removed {len(removed)} unfinished map file(s) an interrupted save left in {params.map_path}: "
                + ", ".join(p.name for p in removed)
            )

    def _activate(self) -> None:
        params = self.params
        self._subscribe_inputs()
        self._diagnostics_timer = self.create_timer(params.diagnostics_period, self._publish_diagnostics)
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="samosaic3d_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"listening to '{params.color_topic}' + '{params.depth_topic}' ({params.input_qos}), "
            f"pose from {params.pose_source}, map frame '{params.map_frame}'"
        )

    def _deactivate(self) -> None:
        """Stop taking frames (the frame in hand finishes); the map stays."""
        for subscription in self._subscriptions_of_inputs:
            self.destroy_subscription(subscription)
        self._subscriptions_of_inputs = []
        self.destroy_timer(self._diagnostics_timer)
        self._stop.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=WORKER_JOIN_S)
        self._worker = None
        with self._pending_lock:
            self._pending = None

    def _cleanup(self) -> None:
        """Drop the map, the models, the publishers and the services (parameters stay)."""
        self._publisher.close()
        for service in self._map_services:
            self.destroy_service(service)
        self.tf_listener.unregister()
        self.outputs.destroy(self)
        self.destroy_publisher(self._diagnostics)
        self.segmenter = None

    def _subscribe_inputs(self) -> None:
        params = self.params
        if params.input_qos == "reliable":
            qos = QoSProfile(depth=params.input_queue_depth, reliability=ReliabilityPolicy.RELIABLE)
        else:
            qos = QoSProfile(depth=params.input_queue_depth, reliability=qos_profile_sensor_data.reliability)
        group = ReentrantCallbackGroup()
        color = Subscriber(self, Image, params.color_topic, qos_profile=qos, callback_group=group)
        depth = Subscriber(self, Image, params.depth_topic, qos_profile=qos, callback_group=group)
        self._sync = ApproximateTimeSynchronizer([color, depth], params.sync_queue_size, params.sync_slop)
        self._sync.registerCallback(self._on_frame)
        for name, subscriber in (("color", color), ("depth", depth)):  # counted before synchronisation
            subscriber.registerCallback(lambda _msg, name=name: self.stats.on_input(name))
        subscriptions = [color.sub, depth.sub, self.create_subscription(
            CameraInfo, params.camera_info_topic, self._on_camera_info, qos, callback_group=group)]
        if params.pose_source == "pose_topic":
            subscriptions.append(self.create_subscription(
                PoseStamped, params.pose_topic, self._on_pose, 10, callback_group=group))
        elif params.pose_source == "odom_topic":
            subscriptions.append(self.create_subscription(
                Odometry, params.pose_topic, self._on_odometry, 10, callback_group=group))
        self._subscriptions_of_inputs = subscriptions

    # --- callbacks: store and return -------------------------------------------------------
    def _on_camera_info(self, msg) -> None:
        self._camera_info = msg
        self._camera_info_arrived.set()

    def _on_frame(self, color, depth) -> None:
        self.stats.on_received()
        with self._pending_lock:
            if self._pending is not None:
                self.stats.on_dropped()
            self._pending = (color, depth)
            self._wake.set()

    def _on_pose(self, msg) -> None:
        self._insert_pose(msg.header, self.params.pose_child_frame or self.params.camera_frame, msg.pose)

    def _on_odometry(self, msg) -> None:
        self._insert_pose(msg.header, msg.child_frame_id, msg.pose.pose)

    def _insert_pose(self, header, child_frame: str, pose) -> None:
        transform = TransformStamped(header=header, child_frame_id=child_frame)
        translation = transform.transform.translation
        translation.x, translation.y, translation.z = pose.position.x, pose.position.y, pose.position.z
        transform.transform.rotation = pose.orientation
        self.tf_buffer.set_transform(transform, self.params.pose_source)

    # --- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(timeout=0.1):
                continue
            with self._pending_lock:
                pending, self._pending = self._pending, None
                self._wake.clear()
            if pending is None:
                continue
            try:
                self._process(*pending)
            except SkipFrame as skip:
                self.stats.on_skipped(skip.reason)
                self._warn(skip.reason, f"skipping frame: {skip.message}")
            except Exception as exc:  # a pipeline bug must not take the node down
                if not self.context.ok():  # shutting down: publishing fails, nothing to report
                    return
                self.stats.on_skipped("error")
                self._warn("error", f"frame failed in the pipeline: {exc!r}\n{traceback.format_exc()}", error=True)

    def _process(self, color, depth) -> None:
        started = time.perf_counter()
        stamp_ns = header_ns(depth)
        self._check_stamp(stamp_ns)
        if self._last_stamp_ns is not None and stamp_ns <= self._last_stamp_ns:
            if stamp_ns == self._last_stamp_ns:
                raise SkipFrame("duplicate", f"frame stamp {stamp_ns * 1e-9:.3f} s was already processed")
            last_s, now_s = self._last_stamp_ns * 1e-9, stamp_ns * 1e-9
            message = f"time went backwards ({last_s:.3f} s -> {now_s:.3f} s), e.g. a bag loop"
            if self.params.on_time_jump == "skip":
                raise SkipFrame("time_jump", f"{message}; skipping older frames (on_time_jump: skip)")
            self._warn("time_jump", f"{message}; resetting the map (on_time_jump: reset)")
            self._last_stamp_ns = None
            self.tf_buffer.clear()  # tf2 would otherwise ignore the new, older transforms as stale
            self._reset_map()
        if self._camera_info is None:  # the first images may overtake the first camera info: wait as for a pose
            self._camera_info_arrived.wait(self.params.tf_timeout)
        frame = build_frame(color, depth, self._camera_info, self.params, self._camera_pose, index=self._frame_index)
        converted = time.perf_counter()
        header = Header(stamp=depth.header.stamp, frame_id=self.params.map_frame)
        with self._segmenter_lock:
            result = self.segmenter.step(frame)
            stepped = time.perf_counter()
            instances = self.segmenter.instances()
            scene_map = self.segmenter.map() if self._due("map", self.params.map_cloud_rate) else None
            # submitted under the lock, so a reset's "cleared" can never be overtaken by an older map
            self._publisher.submit(PublishJob(
                header, instances, self._due("instances", self.params.instances_rate), scene_map,
                frame=(result, color.header, frame.rgb), map_frames=self._frame_index + 1,
            ))
        self._last_stamp_ns = stamp_ns
        self._frame_index += 1
        correction = getattr(result, "pose_correction", None)
        self.outputs.publish_camera_pose(frame.pose if correction is None else correction.pose, header)
        finished = time.perf_counter()
        # "total" is the core step's; "frame" is the worker's whole frame (input, step, the snapshots
        # handed to the publisher, camera pose); "publish" (packing and sending) is timed by _publish
        timings = {"input": converted - started, **result.timings, "handoff": finished - stepped,
                   "frame": finished - started}
        self.stats.on_processed(timings)

    def _publish(self, job: PublishJob) -> None:
        """Publisher thread: send one job's messages."""
        started = time.perf_counter()
        if job.cleared:
            self.outputs.publish_cleared(job.header)
            return
        if job.frame is not None:
            result, color_header, rgb = job.frame
            self.outputs.publish_frame(result, job.instances, job.header, color_header, rgb)
        if job.publish_instances:
            self.outputs.publish_instances(job.instances, job.header)
        if job.scene_map is not None:
            self.outputs.publish_map(job.scene_map, job.header)
            self._record_memory(job.instances, len(job.scene_map), job.map_frames)
        self.stats.on_stage("publish", time.perf_counter() - started)

    def _on_publish_error(self, exc: BaseException) -> None:
        if self.context.ok():  # shutting down: publishing fails, nothing to report
            self._warn("publish", f"publishing failed: {exc!r}", error=True)

    def _check_stamp(self, stamp_ns: int) -> None:
        """SkipFrame for a stamp of zero or far ahead of the node's clock: one such frame would otherwise
        pass for a time jump and reset the map, or hold back every later frame as older."""
        if stamp_ns <= 0:
            raise SkipFrame("stamp", "frame stamp is zero (the driver did not stamp the image)")
        now_ns = self.get_clock().now().nanoseconds
        if now_ns > 0 and stamp_ns - now_ns > MAX_FUTURE_S * 1e9:
            raise SkipFrame("stamp", f"frame stamp {stamp_ns * 1e-9:.3f} s is {(stamp_ns - now_ns) * 1e-9:.0f} s "
                                     f"ahead of the node's clock (more than {MAX_FUTURE_S:g} s)")

    def _camera_pose(self, header) -> np.ndarray:
        """(4, 4) camera-to-map pose at the image stamp, waiting up to ``tf_timeout``; SkipFrame if unavailable."""
        frame_id = self.params.camera_frame or header.frame_id
        if not frame_id:
            raise SkipFrame("tf", "depth image has an empty frame_id and parameter camera_frame is empty")
        try:
            transform = self.tf_buffer.lookup_transform(
                self.params.map_frame, frame_id, Time.from_msg(header.stamp), Duration(seconds=self.params.tf_timeout)
            )
        except TransformException as exc:
            raise SkipFrame(
                "tf", f"no pose of '{frame_id}' in '{self.params.map_frame}' at {stamp_to_ns(header.stamp) * 1e-9:.3f} s "
                f"within {self.params.tf_timeout} s: {exc}"
            ) from exc
        return transform_to_matrix(transform)

    def _due(self, key: str, rate_hz: float) -> bool:
        """True at most ``rate_hz`` times per second per key (always when rate is 0)."""
        now = time.monotonic()
        if rate_hz > 0 and now - self._last_publish.get(key, -math.inf) < 1.0 / rate_hz:
            return False
        self._last_publish[key] = now
        return True

    def _record_memory(self, instances, map_points: int, frames: int) -> None:
        """Memory sizes for the diagnostics; ``frames``: the frames the map of ``map_points`` holds (the
        publisher thread runs behind the worker, whose frame count may already be ahead)."""
        tier = instances.tier if instances.tier is not None else np.zeros(len(instances), np.int8)
        self.stats.set_memory(
            instances=len(instances), short_term=int((tier == 0).sum()), long_term=int((tier == 1).sum()),
            map_points=map_points, frames=frames,
        )

    def _warn(self, reason: str, message: str, error: bool = False) -> None:
        """Log at most one message per ``reason`` every ``warn_throttle`` seconds, counting the rest."""
        now = time.monotonic()
        last, suppressed = self._warned.get(reason, (-math.inf, 0))
        if now - last < self.params.warn_throttle:
            self._warned[reason] = (last, suppressed + 1)
            return
        if suppressed:
            message += f" ({suppressed} more like this since the last warning)"
        (self.get_logger().error if error else self.get_logger().warning)(message)
        self._warned[reason] = (now, 0)

    # --- services ---------------------------------------------------------------------------------
    def _now_header(self):
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=self.params.map_frame)

    def _reset_map(self) -> None:
        with self._segmenter_lock:
            self.segmenter.reset()
            self._publisher.submit(PublishJob(self._now_header(), cleared=True))
        self._record_memory(Instances.empty(), 0, self._frame_index)

    def _on_reset(self, request, response):
        self._reset_map()
        response.success, response.message = True, "map cleared"
        self.get_logger().info("map cleared (~/reset)")
        return response

    def _on_save(self, request, response):
        try:
            path = resolve_map_path(self.params.map_path, request.path, must_exist=False)
            with self._segmenter_lock:
                count = len(self.segmenter.instances())
                with atomic_path(path) as tmp:
                    self.segmenter.save(tmp)
        except (ValueError, OSError) as exc:
            response.success, response.message = False, f"map not saved: {exc}"
            self.get_logger().warning(response.message)
            return response
        response.success, response.message = True, f"saved {count} instances to {path}"
        self.get_logger().info(response.message)
        return response

    def _on_load(self, request, response):
        try:
            path = resolve_map_path(self.params.map_path, request.path, must_exist=True)
            with self._segmenter_lock:
                self.segmenter.load(path)
                instances, scene_map = self.segmenter.instances(), self.segmenter.map()
        except (ValueError, OSError) as exc:
            response.success, response.message = False, f"map not loaded, live map unchanged: {exc}"
            self.get_logger().warning(response.message)
            return response
        self._publisher.submit(PublishJob(self._now_header(), instances, True, scene_map))
        response.success, response.message = True, f"loaded {len(instances)} instances from {path}"
        self.get_logger().info(response.message)
        return response

    def _publish_diagnostics(self) -> None:
        window = self.stats.snapshot()
        stamp = self.get_clock().now().to_msg()
        name = f"{self.get_name()}: pipeline"
        alive = self._worker is not None and self._worker.is_alive()
        self._diagnostics.publish(diagnostic_array(window, stamp, name, alive))



class Samosaic3dNode(MapNodeMixin, Node):
    """The ROS 2 node, processing from start-up. ``segmenter_factory(params)`` builds the segmenter
    (default: ``build_segmenter``)."""

    def __init__(self, *, segmenter_factory=None, node_name: str = NODE_NAME, **node_kwargs):
        Node.__init__(self, node_name, **node_kwargs)
        self._configure(segmenter_factory)
        self._activate()

    def destroy_node(self) -> None:
        self._deactivate()
        self._publisher.close()
        super().destroy_node()


def main(args=None, segmenter_factory=None) -> int:
    """Entry point of ``samosaic3d_node``."""
    return spin_node(lambda: Samosaic3dNode(segmenter_factory=segmenter_factory), args)


def spin_node(make_node, args=None) -> int:
    """Init, build the node with ``make_node()``, spin the executor its parameter ``executor`` names, shut
    down once; the process's exit code."""
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        multi = node.get_parameter("executor").value == "multi_threaded"
        executor = MultiThreadedExecutor() if multi else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ModelFileError as exc:  # a checkpoint or weights file missing, unreadable or not fitting
        rclpy.logging.get_logger(NODE_NAME).fatal(str(exc))
        return EXIT_MODEL_FILE
    except ValueError as exc:  # bad parameters or segmenter configuration
        rclpy.logging.get_logger(NODE_NAME).fatal(str(exc))
        return EXIT_BAD_PARAMETER
    except RuntimeError:  # a signal shut the context down while the executor was building its wait set
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
