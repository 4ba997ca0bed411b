"""Depth-sensor and tracking imperfections applied to a rendered view (see ``SensorConfig``)."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.data.synth.config import SensorConfig
from samosaic3d_core.data.synth.trajectory import perturb


def discontinuities(depth: np.ndarray, jump: float) -> np.ndarray:
    """(H, W) bool: pixels whose depth differs from a 4-neighbour by more than ``jump`` x their depth."""
    edge = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        diff = np.abs(np.diff(depth, axis=axis)) > jump * np.minimum(
            depth.take(range(depth.shape[axis] - 1), axis=axis), depth.take(range(1, depth.shape[axis]), axis=axis)
        )
        if axis == 0:
            edge[:-1] |= diff
            edge[1:] |= diff
        else:
            edge[:, :-1] |= diff
            edge[:, 1:] |= diff
    return edge


def apply_depth(depth: np.ndarray, rgb: np.ndarray, config: SensorConfig, rng: np.random.Generator) -> np.ndarray:
    """Sensor-like depth from true ``depth`` (H, W) float32 metres and ``rgb`` (H, W, 3) uint8.

    Returns (H, W) float32 metres, 0 = no measurement.
    """
    out = depth.astype(np.float32, copy=True)
    valid = out > 0
    if config.depth_noise > 0:
        out += (rng.standard_normal(out.shape) * config.depth_noise * out**2).astype(np.float32)
    if config.holes:
        drop = discontinuities(depth, config.edge_jump) & (rng.random(out.shape) < config.edge_drop_prob)
        dark = rgb.mean(axis=2) < config.dark_threshold * 255.0
        drop |= dark & (rng.random(out.shape) < config.dark_drop_prob)
        drop |= rng.random(out.shape) < config.dropout_prob
        valid &= ~drop
    if config.max_range > 0:
        valid &= out <= config.max_range
    if config.quantize_mm:
        out = np.round(out * 1000.0) / 1000.0
    valid &= out > 0
    return np.where(valid, out, 0.0).astype(np.float32)


def apply_pose(pose: np.ndarray, config: SensorConfig, rng: np.random.Generator) -> np.ndarray:
    """The pose a tracker would report: ``pose`` perturbed by the configured noise (4x4)."""
    if config.pose_noise_cm <= 0 and config.pose_noise_deg <= 0:
        return pose.copy()
    return perturb(pose, rng, config.pose_noise_cm / 100.0, np.deg2rad(config.pose_noise_deg))
