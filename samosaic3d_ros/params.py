"""The node's parameters, generated from config dataclasses.

Two groups, each declared with its type, default and the field's docstring as description:
  * node-only settings (topics, QoS, frames, rates): ``NodeParams``' own fields, by plain name
    (``color_topic``, ``map_frame``, ...);
  * the core pipeline's ``SegmenterConfig``, by dotted name (``pipeline``, ``masks.source``,
    ``lift.voxel_size``, ``memory.short_term_size``, ...).

``config/samosaic3d.yaml`` holds the same defaults (written by ``samosaic3d params``; a test
keeps them equal). Parameters are read once at start-up (declared read-only); change them in the
YAML or with ``-p name:=value``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from samosaic3d_core import config as config_io
from samosaic3d_core.pipeline import SegmenterConfig

NODE_NAME = "samosaic3d_node"


@dataclass(frozen=True)
class NodeParams:
    """Every parameter of ``samosaic3d_node``: node-only settings, and ``segmenter`` (the core's)."""

    # inputs
    color_topic: str = "color/image_raw"
    """colour image topic (rgb8/bgr8/rgba8/bgra8/mono8), registered to depth"""
    depth_topic: str = "depth/image_raw"
    """depth image topic (16UC1 in depth_scale units or 32FC1 metres)"""
    camera_info_topic: str = "depth/camera_info"
    """CameraInfo of the depth image (K, width, height)"""
    input_qos: Literal["sensor_data", "reliable"] = "sensor_data"
    """QoS of the inputs: sensor_data (best effort) or reliable (e.g. bag replay)"""
    input_queue_depth: int = 5
    """history depth of the input subscriptions"""
    sync_slop: float = 0.02
    """max stamp difference (s) between colour and depth of one frame"""
    sync_queue_size: int = 10
    """messages per input kept while looking for a colour/depth pair"""
    depth_scale: float = 0.001
    """metres per unit of 16UC1 depth (0.001 = millimetres)"""
    downsample: int = 1
    """use every n-th pixel of colour and depth (1 = full resolution); intrinsics follow"""
    min_valid_depth_fraction: float = 0.01
    """frames with a smaller fraction of valid depth pixels (within lift.min_depth..lift.max_depth) are skipped"""
    # frames and pose
    map_frame: str = "map"
    """fixed frame of the map and of every output"""
    camera_frame: str = ""
    """optical frame of the depth camera (empty: the depth image's frame_id)"""
    pose_source: Literal["tf", "pose_topic", "odom_topic"] = "tf"
    """where the camera pose comes from: tf (/tf, /tf_static), pose_topic (PoseStamped) or odom_topic
    (Odometry); topic poses are inserted into the TF buffer"""
    pose_topic: str = "camera_pose"
    """PoseStamped/Odometry topic for pose_source pose_topic/odom_topic; the pose is that of
    pose_child_frame (PoseStamped) or child_frame_id (Odometry) in header.frame_id"""
    pose_child_frame: str = ""
    """frame a PoseStamped pose refers to (empty: camera_frame)"""
    tf_timeout: float = 0.1
    """how long (s) the worker waits for the camera pose of a frame (and, until the first camera info
    arrives, for that)"""
    tf_cache_time: float = 10.0
    """seconds of transform history kept for lookups"""
    on_time_jump: Literal["reset", "skip"] = "reset"
    """when a frame is older than the last one (bag loop): reset the map, or skip the frame"""
    map_dir: str = "~/.ros/samosaic3d/maps"
    """save_map / load_map only touch files inside this folder"""
    # outputs
    map_cloud_rate: float = 1.0
    """max rate (Hz) of /instances/cloud; 0 = after every frame"""
    instances_rate: float = 5.0
    """max rate (Hz) of /instances and /instances/markers; 0 = every frame"""
    cloud_transient_local: bool = True
    """latch the last map cloud for late subscribers (transient local)"""
    cloud_color: Literal["instance", "camera"] = "instance"
    """rgb of cloud points: instance colour (camera colour where unlabeled) or camera colour"""
    publish_frame_cloud: bool = True
    """publish the current frame's labelled points on /instances/frame_cloud"""
    publish_overlay: bool = False
    """publish masks over the colour image on /instances/overlay"""
    refined_camera_frame: str = ""
    """also broadcast on /tf map_frame -> this frame: the camera pose each frame was fused with, as on
    /instances/camera_pose (the tracker's pose refined against the map when refine.enabled); empty: off"""
    marker_namespace: str = "samosaic3d"
    """namespace prefix of the markers"""
    diagnostics_period: float = 1.0
    """seconds between /diagnostics messages"""
    executor: Literal["single_threaded", "multi_threaded"] = "single_threaded"
    """rclpy executor of the node's callbacks (the pipeline has its own threads either way).
    single_threaded: services wait for the callback in hand. multi_threaded: services run beside the
    input callbacks (samosaic3d_ros.executors: rclpy's own looped at a whole core with Fast DDS and
    lost frames). At 30 Hz 640x480 on a 2-core CPU both kept latency p99 at 1.6x the median
    processing time and lost no frame in transport (docs/runtime.md)"""
    warn_throttle: float = 5.0
    """min seconds between two warnings of the same kind"""
    # the core pipeline, declared under its own dotted names
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)

    def validate(self) -> "NodeParams":
        """Raise ValueError naming the parameter if a value is out of range or not a known choice."""
        for spec in node_fields():
            value = getattr(self, spec.name)
            if spec.choices and value not in spec.choices:
                raise ValueError(f"parameter {spec.name}='{value}'; expected one of {', '.join(spec.choices)}")
        positive = ("sync_slop", "depth_scale", "tf_cache_time", "diagnostics_period")
        non_negative = ("tf_timeout", "map_cloud_rate", "instances_rate", "warn_throttle", "min_valid_depth_fraction")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be > 0")
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be >= 0")
        for name in ("input_queue_depth", "sync_queue_size", "downsample"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be >= 1")
        lift = self.segmenter.lift
        if not 0 <= lift.min_depth < lift.max_depth:
            raise ValueError(f"parameter lift.min_depth={lift.min_depth} must be >= 0 and below "
                             f"lift.max_depth={lift.max_depth}")
        if not self.map_frame:
            raise ValueError("parameter map_frame must not be empty")
        return self

    @property
    def map_path(self) -> Path:
        """``map_dir`` with ``~`` and environment variables expanded, absolute."""
        return Path(os.path.expandvars(os.path.expanduser(self.map_dir))).absolute()


def node_fields() -> list[config_io.ConfigField]:
    """The node-only parameters (``NodeParams``' own fields but ``segmenter``)."""
    return [f for f in config_io.leaf_fields(NodeParams) if not f.name.startswith("segmenter.")]


def parameter_fields() -> list[config_io.ConfigField]:
    """Every node parameter under its ROS name: node-only settings, then the pipeline's dotted names."""
    segmenter = [dataclasses.replace(f, name=f.name.removeprefix("segmenter."))
                 for f in config_io.leaf_fields(NodeParams) if f.name.startswith("segmenter.")]
    return node_fields() + segmenter


def parameter_description(spec: config_io.ConfigField) -> str:
    """The parameter's description: the field docstring, its choices, and what an unset value means."""
    text = spec.doc
    if spec.choices:
        text += f" [{' | '.join(map(str, spec.choices))}]"
    if spec.optional and spec.default is None:
        text += " (unset by default)"
    return text


def params_from_flat(values: dict[str, Any], source: str = "parameters") -> NodeParams:
    """``NodeParams`` from ROS names (``color_topic``, ``lift.voxel_size``, ...), validated.

    Raises ValueError naming ``source`` and the parameter for unknown names or wrong values.
    """
    node_names = {f.name for f in node_fields()}
    tree: dict = {"segmenter": {}}
    for name, value in config_io.unflatten(values).items():
        if name in node_names:
            tree[name] = value
        else:
            tree["segmenter"][name] = value
    try:
        params = config_io.from_dict(NodeParams, tree, source)
    except ValueError as exc:  # unknown pipeline keys are reported under their ROS names
        raise ValueError(str(exc).replace("'segmenter.", "'").replace(": segmenter: ", ": ")) from exc
    return params.validate()


def declare_params(node) -> NodeParams:
    """Declare every parameter on ``node`` (read-only, typed, described; once) and return their values."""
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.parameter import Parameter

    values = {}
    for spec in parameter_fields():
        descriptor = ParameterDescriptor(description=parameter_description(spec), read_only=True)
        default = spec.default
        if default is None:  # typed, without a value unless the user sets one
            default = Parameter.Type.DOUBLE if spec.type is float else Parameter.Type.STRING
        elif isinstance(default, tuple):
            default = list(default)
        if node.has_parameter(spec.name):  # a managed node configured again
            value = node.get_parameter(spec.name).value
        else:
            value = node.declare_parameter(spec.name, default, descriptor).value
        if value is not None:
            values[spec.name] = value
    return params_from_flat(values, f"node '{node.get_name()}' parameters")


def build_segmenter(params: NodeParams):
    """``OnlineSegmenter`` configured from the node parameters."""
    from samosaic3d_core.pipeline import OnlineSegmenter

    return OnlineSegmenter.from_config(params.segmenter)


def params_from_yaml(path: str | os.PathLike, node_name: str = NODE_NAME, **overrides) -> NodeParams:
    """Node parameters from a ROS parameter file (``<node>: ros__parameters: {...}``) plus overrides.

    The same file the node is started with, read without ROS (for ``eval-bag --offline``). Keys may
    be dotted (``lift.voxel_size: 0.03``) or nested (``lift: {voxel_size: 0.03}``), as ROS reads them;
    overrides use ROS names.
    """
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read parameter file '{path}': {exc}") from exc
    section = document.get(node_name, document.get("/**", {}))
    values = dict(section.get("ros__parameters", {}) or {}) if isinstance(section, dict) else {}
    values = config_io.flatten(values)
    values.update(overrides)
    return params_from_flat(values, f"parameter file '{path}'")
