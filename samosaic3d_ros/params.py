"""The node's parameters: one dataclass, each field a ROS parameter with default and description.

``config/samosaic3d.yaml`` holds the same defaults (a test keeps them equal). Parameters are
read once at start-up (declared read-only); change them in the YAML or with ``-p name:=value``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path


def _param(default, description: str, choices: tuple[str, ...] = ()):
    return field(default=default, metadata={"description": description, "choices": choices})


@dataclass(frozen=True)
class NodeParams:
    """Every parameter of ``samosaic3d_node``."""

    # inputs
    color_topic: str = _param(
        "color/image_raw", "colour image topic (rgb8/bgr8/rgba8/bgra8/mono8), registered to depth"
    )
    depth_topic: str = _param("depth/image_raw", "depth image topic (16UC1 in depth_scale units or 32FC1 metres)")
    camera_info_topic: str = _param("depth/camera_info", "CameraInfo of the depth image (K, width, height)")
    input_qos: str = _param(
        "sensor_data", "QoS of the inputs: sensor_data (best effort) or reliable (e.g. bag replay)",
        ("sensor_data", "reliable"),
    )
    input_queue_depth: int = _param(5, "history depth of the input subscriptions")
    sync_slop: float = _param(0.02, "max stamp difference (s) between colour and depth of one frame")
    sync_queue_size: int = _param(10, "messages per input kept while looking for a colour/depth pair")
    depth_scale: float = _param(0.001, "metres per unit of 16UC1 depth (0.001 = millimetres)")
    min_depth: float = _param(0.1, "depth below this (m) is invalid")
    max_depth: float = _param(6.0, "depth beyond this (m) is invalid")
    downsample: int = _param(1, "use every n-th pixel of colour and depth (1 = full resolution); intrinsics follow")
    min_valid_depth_fraction: float = _param(
        0.01, "frames with a smaller fraction of valid depth pixels are skipped"
    )
    # frames and pose
    map_frame: str = _param("map", "fixed frame of the map and of every output")
    camera_frame: str = _param("", "optical frame of the depth camera (empty: the depth image's frame_id)")
    pose_source: str = _param(
        "tf", "where the camera pose comes from: tf (/tf, /tf_static), pose_topic (PoseStamped) "
        "or odom_topic (Odometry); topic poses are inserted into the TF buffer", ("tf", "pose_topic", "odom_topic"),
    )
    pose_topic: str = _param(
        "camera_pose", "PoseStamped/Odometry topic for pose_source pose_topic/odom_topic; the pose is that of "
        "pose_child_frame (PoseStamped) or child_frame_id (Odometry) in header.frame_id"
    )
    pose_child_frame: str = _param("", "frame a PoseStamped pose refers to (empty: camera_frame)")
    tf_timeout: float = _param(0.1, "how long (s) the worker waits for the camera pose of a frame")
    tf_cache_time: float = _param(10.0, "seconds of transform history kept for lookups")
    on_time_jump: str = _param(
        "reset", "when a frame is older than the last one (bag loop): reset the map, or skip the frame",
        ("reset", "skip"),
    )
    # pipeline
    pipeline: str = _param("auto", "segmentation pipeline: auto (learned with shipped or given weights, else baseline) | baseline | learned")
    mask_source: str = _param("oversegment", "2D mask source: oversegment, fastsam, sim, ...")
    mask_weights: str = _param("", "weights file of the mask source (e.g. FastSAM-s.pt or a TensorRT .engine)")
    mask_image_size: int = _param(
        0, "inference image size of a network mask source (e.g. FastSAM imgsz); 0 = its default"
    )
    half_precision: bool = _param(False, "run network mask sources in FP16 (CUDA / TensorRT)")
    checkpoint: str = _param("", "model checkpoint (.safetensors); empty: the pipeline's default")
    merging: str = _param("auto", "learned pipeline's merging: auto | heuristic | learned | untrained")
    device: str = _param("auto", "compute device", ("auto", "cpu", "cuda"))
    voxel_size: float = _param(0.02, "frame points are downsampled to one per voxel of this size (m)")
    point_budget: int = _param(10000, "at most this many points per frame")
    short_memory_size: int = _param(50, "short-term memory length (instances) of the scene memory")
    map_dir: str = _param("~/.ros/samosaic3d/maps", "save_map / load_map only touch files inside this folder")
    # outputs
    map_cloud_rate: float = _param(1.0, "max rate (Hz) of /instances/cloud; 0 = after every frame")
    instances_rate: float = _param(5.0, "max rate (Hz) of /instances and /instances/markers; 0 = every frame")
    cloud_transient_local: bool = _param(True, "latch the last map cloud for late subscribers (transient local)")
    cloud_color: str = _param(
        "instance", "rgb of cloud points: instance colour (camera colour where unlabeled) or camera colour",
        ("instance", "camera"),
    )
    publish_frame_cloud: bool = _param(True, "publish the current frame's labelled points on /instances/frame_cloud")
    publish_overlay: bool = _param(False, "publish masks over the colour image on /instances/overlay")
    marker_namespace: str = _param("samosaic3d", "namespace prefix of the markers")
    diagnostics_period: float = _param(1.0, "seconds between /diagnostics messages")
    warn_throttle: float = _param(5.0, "min seconds between two warnings of the same kind")

    def validate(self) -> "NodeParams":
        """Raise ValueError naming the parameter if a value is out of range or not a known choice."""
        for f in dataclasses.fields(self):
            choices = f.metadata["choices"]
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"parameter {f.name}='{getattr(self, f.name)}'; expected one of {', '.join(choices)}")
        positive = ("sync_slop", "depth_scale", "max_depth", "tf_cache_time", "diagnostics_period", "voxel_size")
        non_negative = ("min_depth", "tf_timeout", "map_cloud_rate", "instances_rate", "warn_throttle",
                        "min_valid_depth_fraction", "point_budget", "mask_image_size")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be > 0")
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be >= 0")
        for name in ("input_queue_depth", "sync_queue_size", "short_memory_size", "downsample"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name}={getattr(self, name)} must be >= 1")
        if self.min_depth >= self.max_depth:
            raise ValueError(f"parameter min_depth={self.min_depth} must be below max_depth={self.max_depth}")
        if not self.map_frame:
            raise ValueError("parameter map_frame must not be empty")
        return self

    @property
    def map_path(self) -> Path:
        """``map_dir`` with ``~`` and environment variables expanded, absolute."""
        return Path(os.path.expandvars(os.path.expanduser(self.map_dir))).absolute()


def declare_params(node) -> NodeParams:
    """Declare every parameter on ``node`` (read-only, with description) and return their values."""
    from rcl_interfaces.msg import ParameterDescriptor

    values = {}
    for f in dataclasses.fields(NodeParams):
        description = f.metadata["description"]
        if f.metadata["choices"]:
            description += f" [{' | '.join(f.metadata['choices'])}]"
        descriptor = ParameterDescriptor(description=description, read_only=True)
        values[f.name] = node.declare_parameter(f.name, f.default, descriptor).value
    return NodeParams(**values).validate()


def segmenter_config_kwargs(params: NodeParams) -> dict:
    """Keyword arguments of ``samosaic3d_core.pipeline.SegmenterConfig`` taken from the node parameters."""
    mask_options: dict = {}
    if params.mask_weights:
        mask_options["weights"] = params.mask_weights
    if params.mask_image_size:
        mask_options["imgsz"] = params.mask_image_size
    if params.half_precision:
        mask_options["half"] = True
    return dict(
        pipeline=params.pipeline,
        masks=params.mask_source,
        mask_options=mask_options,
        checkpoint=params.checkpoint or None,
        merging=params.merging,
        device=params.device,
        voxel_size=params.voxel_size,
        point_budget=params.point_budget,
        min_depth=params.min_depth,
        max_depth=params.max_depth,
        short_term_size=params.short_memory_size,
    )


def build_segmenter(params: NodeParams, logger=None):
    """``OnlineSegmenter`` configured from the node parameters (parameters the core config lacks are reported)."""
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    kwargs = segmenter_config_kwargs(params)
    known = {f.name for f in dataclasses.fields(SegmenterConfig)}
    unused = sorted(set(kwargs) - known)
    if unused and logger is not None:
        logger.warning(f"SegmenterConfig has no field(s) {', '.join(unused)}; those parameters have no effect")
    return OnlineSegmenter.from_config(SegmenterConfig(**{k: v for k, v in kwargs.items() if k in known}))


def params_from_yaml(path: str | os.PathLike, node_name: str = "samosaic3d_node", **overrides) -> NodeParams:
    """Node parameters from a ROS parameter file (``<node>: ros__parameters: {...}``) plus overrides.

    The same file the node is started with, read without ROS (for ``eval-bag --offline``).
    """
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read parameter file '{path}': {exc}") from exc
    section = document.get(node_name, document.get("/**", {}))
    values = dict(section.get("ros__parameters", {})) if isinstance(section, dict) else {}
    known = {f.name for f in dataclasses.fields(NodeParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"parameter file '{path}': unknown parameter(s) {', '.join(unknown)}")
    values.update(overrides)
    return NodeParams(**values).validate()
