"""Handheld-scan camera trajectories: a closed Catmull-Rom spline walked more than once.

The camera position follows a periodic spline through waypoints in the free space of
the room at hand height; the look-at point follows a second periodic spline through
the room centre and furniture, so the view turns smoothly. Walking the loop
``loops`` > 1 times revisits the first viewpoints (loop closure, re-observation).
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.data.synth.config import SynthConfig
from samosaic3d_core.data.synth.layout import Layout
from samosaic3d_core.geometry.rigid import rotation

CLEARANCE = 0.35  # metres between the camera and walls / tall furniture footprints
TALL = 1.1  # furniture whose top is above this many metres can collide with the camera


def catmull_rom_closed(points: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Evaluate the closed uniform Catmull-Rom spline through ``points`` (K, D) at parameters ``s`` (N,).

    Parameter k lands on ``points[k % K]``; returns (N, D).
    """
    k = len(points)
    i = np.floor(s).astype(np.int64)
    t = (s - i)[:, None]
    p0, p1, p2, p3 = (points[(i + d) % k] for d in (-1, 0, 1, 2))
    return 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """4x4 camera-to-world pose (OpenCV camera) at ``position`` looking at ``target``, world z up."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down/up
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = position
    return pose


def _is_free(xy: np.ndarray, layout: Layout) -> np.ndarray:
    """(N,) bool: 2D points at least CLEARANCE from walls and tall furniture."""
    sx, sy, _ = layout.size
    ok = (xy[:, 0] > CLEARANCE) & (xy[:, 0] < sx - CLEARANCE) & (xy[:, 1] > CLEARANCE) & (xy[:, 1] < sy - CLEARANCE)
    for fmin, fmax, top in layout.footprints:
        if top > TALL:
            inside = np.all((xy > fmin - CLEARANCE) & (xy < fmax + CLEARANCE), axis=1)
            ok &= ~inside
    return ok


def perturb(pose: np.ndarray, rng: np.random.Generator, sigma_m: float, sigma_rad: float) -> np.ndarray:
    """``pose`` with a random translation (per-axis std ``sigma_m``) and rotation (angle std ``sigma_rad``)."""
    out = pose.copy()
    if sigma_rad > 0:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        out[:3, :3] = rotation(axis * rng.normal(0.0, sigma_rad)) @ pose[:3, :3]
    if sigma_m > 0:
        out[:3, 3] = pose[:3, 3] + rng.normal(0.0, sigma_m, 3)
    return out


def scan_trajectory(config: SynthConfig, layout: Layout, rng: np.random.Generator, tries: int = 50) -> np.ndarray:
    """``config.frames`` camera-to-world poses (F, 4, 4) of a handheld scan of ``layout``."""
    sx, sy, _ = layout.size
    centre = np.array([sx / 2, sy / 2])
    k = config.waypoints
    n = max(config.frames, 1)
    s = np.linspace(0.0, k * config.loops, n, endpoint=False) if n > 1 else np.zeros(1)
    for attempt in range(tries):
        # shrink the loop on later attempts so a crowded room still gets a free path
        scale = 0.8 * (1.0 - attempt / tries) + 0.15
        angles = np.sort(rng.uniform(0, 2 * np.pi, k)) if rng.random() < 0.5 else np.linspace(0, 2 * np.pi, k, False)
        radius = rng.uniform(0.5, 1.0, (k, 1)) * scale * (centre - CLEARANCE)
        way_xy = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        dense = catmull_rom_closed(way_xy, np.linspace(0, k, 40 * k, endpoint=False))
        if _is_free(dense, layout).all():
            break
    way = np.concatenate([way_xy, rng.uniform(*config.camera_height, (k, 1))], axis=1)
    targets = []
    objects = layout.objects
    for j in range(k):
        if objects and rng.random() < 0.7:
            lo, hi = objects[int(rng.integers(len(objects)))].bounds()
            targets.append((lo + hi) / 2)
        else:
            targets.append(np.array([centre[0], centre[1], rng.uniform(0.3, 1.0)]))
    positions = catmull_rom_closed(way, s)
    looks = catmull_rom_closed(np.array(targets), s)
    too_close = np.linalg.norm(looks - positions, axis=1) < 0.5
    looks[too_close] = np.array([centre[0], centre[1], 0.0])
    sigma_m, sigma_rad = config.jitter_cm / 100.0, np.deg2rad(config.jitter_deg)
    return np.stack([perturb(look_at(p, t), rng, sigma_m, sigma_rad) for p, t in zip(positions, looks)])
