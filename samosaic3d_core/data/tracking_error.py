"""How a visual-inertial tracker's poses differ from the truth: drift, jitter, relocalisation jumps.

``tracker_poses(true_poses, error, rng)`` turns a true camera path into the one a tracker
would report. The error is a world-frame transform that grows with the distance walked:

- **drift**: a velocity bias (metres of error per metre walked, horizontal and vertical) and a
  yaw-rate bias (degrees per metre), each redrawn every ``bias_length_m`` metres and integrated
  along the path; the yaw increment turns the rest of the path about the camera, so error grows
  with the path as in odometry. Roll and pitch do not drift (gravity is observable to an IMU).
  This is the model of ethz-asl's ``OdometryDriftSimulator`` (a redrawn body-velocity and yaw-rate
  bias), per metre instead of per second so that sparse frame sampling does not change it.
- **jitter**: a small independent error on every frame (not integrated).
- **jumps**: relocalisation / loop-closure corrections, step changes of the accumulated error at
  random places (on average one per ``jump_every_m`` metres).

The presets are sized from published figures (docs/tracking_error.md has the table and sources):
``vio`` is a good visual-inertial odometry (0.5 % of distance and 0.03 deg/m, inside OpenVINS'
0.4-1.3 % and 0.02-0.09 deg/m), ``poor`` a struggling tracker (2 % of distance, 0.2 deg/m, jumps of
a few cm / 1 deg; 10-30 cm off after a 10 m room scan, beyond the 7-10 cm ATE of dense SLAM on
ScanNet).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry.rigid import about, rotation, transform


@dataclass(frozen=True)
class TrackingError:
    """Parameters of the tracking-error model (all zero: the tracker reports the true poses)."""

    drift_percent: float = 0.0
    """Std dev of the horizontal velocity bias, per cent of the distance walked (1.0: 1 cm per metre)."""
    vertical_ratio: float = 0.3
    """Std dev of the vertical bias as a fraction of the horizontal one (height is better observed)."""
    yaw_deg_per_m: float = 0.0
    """Std dev of the yaw-rate bias, degrees per metre walked."""
    bias_length_m: float = 5.0
    """The biases are redrawn after every this many metres walked."""
    jitter_cm: float = 0.0
    """Std dev of the independent per-axis translation error of each frame, centimetres."""
    jitter_deg: float = 0.0
    """Std dev of the independent rotation error angle of each frame, degrees."""
    jump_every_m: float = 0.0
    """Mean distance between relocalisation jumps, metres (0 = no jumps)."""
    jump_cm: float = 0.0
    """Std dev of a jump's per-axis translation, centimetres."""
    jump_deg: float = 0.0
    """Std dev of a jump's yaw, degrees."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"TrackingError.{f.name} must be a finite number >= 0, got {value}")
        if self.bias_length_m <= 0:
            raise ValueError(f"TrackingError.bias_length_m must be > 0 metres, got {self.bias_length_m}")

    @property
    def is_exact(self) -> bool:
        return self.drift_percent == self.yaw_deg_per_m == self.jitter_cm == self.jitter_deg == 0 and (
            self.jump_every_m == 0 or self.jump_cm == self.jump_deg == 0)


PRESETS: dict[str, TrackingError] = {
    "none": TrackingError(),
    "vio": TrackingError(drift_percent=0.5, yaw_deg_per_m=0.03, jitter_cm=0.2, jitter_deg=0.1),
    "poor": TrackingError(drift_percent=2.0, yaw_deg_per_m=0.2, jitter_cm=0.5, jitter_deg=0.3,
                          jump_every_m=8.0, jump_cm=3.0, jump_deg=1.0),
}
"""Named tracking-error settings (``make-data --pose-error``, ``make-bag --pose-error``)."""


def preset(name: str) -> TrackingError:
    """The preset called ``name``; ValueError listing the names otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown pose-error preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _random_rotation(rng: np.random.Generator, sigma_rad: float) -> np.ndarray:
    if sigma_rad <= 0:
        return np.eye(3)
    axis = rng.normal(size=3)
    return rotation(axis / np.linalg.norm(axis) * rng.normal(0.0, sigma_rad))


def tracker_poses(true_poses: np.ndarray, error: TrackingError, rng: np.random.Generator) -> np.ndarray:
    """(F, 4, 4) poses a tracker with ``error`` reports along ``true_poses`` (F, 4, 4) camera-to-world.

    Frame 0 is exact apart from jitter (the tracker's origin is the map's). The same ``rng`` state
    gives the same poses.
    """
    true_poses = np.asarray(true_poses, np.float64)
    out = true_poses.copy()
    if error.is_exact or len(true_poses) == 0:
        return out
    drift = np.eye(4)  # world-frame error: reported = drift @ true (before jitter)
    walked_since_draw = np.inf
    sigma_h = error.drift_percent / 100.0
    bias = np.zeros(3)
    yaw_bias = 0.0
    for i in range(len(true_poses)):
        if i > 0:
            step = float(np.linalg.norm(true_poses[i, :3, 3] - true_poses[i - 1, :3, 3]))
            if walked_since_draw >= error.bias_length_m:
                bias = rng.normal(0.0, 1.0, 3) * np.array([sigma_h, sigma_h, sigma_h * error.vertical_ratio])
                yaw_bias = np.deg2rad(rng.normal(0.0, error.yaw_deg_per_m))
                walked_since_draw = 0.0
            walked_since_draw += step
            here = (drift @ true_poses[i])[:3, 3]
            # the yaw increment turns the rest of the path about where the tracker believes it is
            drift = about(here, rotation(np.array([0.0, 0.0, yaw_bias * step]))) @ drift
            drift = transform(t=bias * step) @ drift
            if error.jump_every_m > 0 and rng.random() < 1.0 - np.exp(-step / error.jump_every_m):
                jump_r = rotation(np.array([0.0, 0.0, np.deg2rad(rng.normal(0.0, error.jump_deg))]))
                drift = transform(t=rng.normal(0.0, error.jump_cm / 100.0, 3)) @ about(here, jump_r) @ drift
        reported = drift @ true_poses[i]
        if error.jitter_cm > 0 or error.jitter_deg > 0:
            reported[:3, :3] = _random_rotation(rng, np.deg2rad(error.jitter_deg)) @ reported[:3, :3]
            reported[:3, 3] += rng.normal(0.0, error.jitter_cm / 100.0, 3)
        out[i] = reported
    return out
