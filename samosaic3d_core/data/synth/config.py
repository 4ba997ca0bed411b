"""Every knob of the synthetic generator, with its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from samosaic3d_core.data.tracking_error import TrackingError
from samosaic3d_core.types import CameraIntrinsics


@dataclass
class SensorConfig:
    """Depth-sensor and tracking imperfections. All off by default (exact depth, exact poses)."""

    quantize_mm: bool = True
    """Round depth to whole millimetres, as a uint16 PNG stores it (in-memory frames match the files)."""
    depth_noise: float = 0.0
    """Kinect-like depth noise: std dev in metres at 1 m; grows with z^2 (0 = off; 0.0025 is typical)."""
    holes: bool = False
    """Drop depth at depth discontinuities, on dark surfaces and at random (rates below)."""
    edge_jump: float = 0.08
    """A pixel is on a discontinuity when a 4-neighbour differs by more than this fraction of its depth."""
    edge_drop_prob: float = 0.7
    """Probability that a discontinuity pixel loses its depth (with ``holes``)."""
    dark_threshold: float = 0.08
    """Mean colour (0-1) below which a surface counts as dark (with ``holes``)."""
    dark_drop_prob: float = 0.5
    """Probability that a dark-surface pixel loses its depth (with ``holes``)."""
    dropout_prob: float = 0.01
    """Probability that any pixel loses its depth (with ``holes``)."""
    max_range: float = 0.0
    """Depth beyond this many metres is dropped (0 = unlimited)."""
    pose_noise_cm: float = 0.0
    """Std dev of the per-axis translation error of the written pose, centimetres (0 = exact)."""
    pose_noise_deg: float = 0.0
    """Std dev of the rotation error angle of the written pose, degrees (0 = exact)."""
    tracking: TrackingError = field(default_factory=TrackingError)
    """Tracker drift, jitter and relocalisation jumps of the written poses (``tracking_error.PRESETS``);
    the independent ``pose_noise_*`` error is added on top."""


@dataclass
class SynthConfig:
    """Image, room, furniture, trajectory and sensor settings of a synthetic scene."""

    width: int = 640
    """Image width in pixels."""
    height: int = 480
    """Image height in pixels."""
    fx: float = 577.87
    """Focal length x in pixels at 640x480 (ScanNet-like); scaled with the image size."""
    fy: float = 577.87
    """Focal length y in pixels at 640x480; scaled with the image size."""
    cx: float = 319.5
    """Principal point x at 640x480; scaled with the image size."""
    cy: float = 239.5
    """Principal point y at 640x480; scaled with the image size."""
    frames: int = 300
    """Frames per scene."""
    fps: float = 30.0
    """Frame rate; frame i has timestamp i / fps."""
    room_size: tuple[float, float, float, float] = (3.5, 6.0, 3.0, 5.0)
    """Room extent ranges (x_min, x_max, y_min, y_max) in metres; x and y are drawn in these."""
    room_height: tuple[float, float] = (2.5, 3.0)
    """Ceiling height range, metres."""
    style: Literal["default", "hard", "kitchen"] = "default"
    """Scene style: "default" (living rooms, offices, bedrooms; the training distribution, unchanged for
    every seed), "hard" (15-25 objects: packed shelves, chairs pushed in to the table edge, stacked
    boxes side by side, rows of touching items of repeating colours, furniture nearly touching the
    walls) or "kitchen" (10-22 objects: counters along the walls, an island with stools, a fridge;
    a layout no model is trained on, for zero-shot evaluation). See ``styles.py``."""
    min_objects: int = 8
    """Furnish until at least this many object instances are placed (if space allows; default style only,
    the others have their own range)."""
    max_objects: int = 20
    """Never place more object instances than this (default style only, the others have their own range)."""
    placement_tries: int = 200
    """Rejection-sampling attempts per room before giving up on more furniture."""
    gap: float = 0.08
    """Minimum free gap between footprints of different furniture groups, metres."""
    camera_height: tuple[float, float] = (1.3, 1.7)
    """Camera height range of the handheld scan, metres."""
    waypoints: int = 8
    """Waypoints of the closed camera spline."""
    loops: float = 1.35
    """Times the closed spline is traversed; > 1 revisits earlier viewpoints."""
    jitter_cm: float = 0.3
    """Std dev of per-frame hand jitter of the true camera position, centimetres."""
    jitter_deg: float = 0.3
    """Std dev of per-frame hand jitter of the true camera orientation, degrees."""
    light_count: int = 2
    """Point lights near the ceiling (1 or 2)."""
    ambient: float = 0.3
    """Ambient light level added to the Lambert term."""
    texture_amplitude: float = 0.12
    """Relative amplitude of the low-frequency colour texture on every part."""
    threads: int = 2
    """Threads used by the ray caster."""
    sensor: SensorConfig = field(default_factory=SensorConfig)
    """Depth and pose imperfections (off by default)."""

    @property
    def intrinsics(self) -> CameraIntrinsics:
        """Intrinsics of the configured image size (the 640x480 values scaled)."""
        base = CameraIntrinsics(self.fx, self.fy, self.cx, self.cy, 640, 480)
        if (self.width, self.height) == (640, 480):
            return base
        # (cx + 0.5) scales with the image: pixel centres stay pixel centres.
        sx, sy = self.width / 640.0, self.height / 480.0
        return CameraIntrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                                self.width, self.height)
