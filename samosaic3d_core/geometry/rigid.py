"""Rigid transforms: axis-angle rotations, small-motion updates, pose errors (4x4 float64 matrices)."""

from __future__ import annotations

import numpy as np


def skew(v: np.ndarray) -> np.ndarray:
    """(3, 3) cross-product matrix of ``v``: ``skew(v) @ w == cross(v, w)``."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def rotation(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (3,) axis * angle (radians) -> (3, 3) rotation."""
    axis_angle = np.asarray(axis_angle, np.float64)
    angle = float(np.linalg.norm(axis_angle))
    if angle < 1e-12:
        return np.eye(3) + skew(axis_angle)
    k = skew(axis_angle / angle)
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * k @ k


def rotation_angle(r: np.ndarray) -> float:
    """Angle (radians) of rotation matrix ``r``."""
    return float(np.arccos(np.clip((np.trace(r[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)))


def rotation_vector(r: np.ndarray) -> np.ndarray:
    """(3,) axis * angle of rotation matrix ``r`` (inverse of ``rotation``; angles below pi)."""
    angle = rotation_angle(r)
    w = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if angle < 1e-9:
        return w / 2.0
    return w * (angle / (2.0 * np.sin(angle)))


def transform(r: np.ndarray | None = None, t: np.ndarray | None = None) -> np.ndarray:
    """4x4 from a rotation (default identity) and a translation (default zero)."""
    out = np.eye(4)
    if r is not None:
        out[:3, :3] = r
    if t is not None:
        out[:3, 3] = t
    return out


def twist(xi: np.ndarray) -> np.ndarray:
    """4x4 of a small motion ``xi`` = (rotation axis-angle (3,), translation (3,)), rotation applied first."""
    return transform(rotation(xi[:3]), xi[3:6])


def untwist(pose: np.ndarray) -> np.ndarray:
    """(6,) ``xi`` with ``twist(xi) == pose``: rotation vector, then translation."""
    return np.concatenate([rotation_vector(pose[:3, :3]), pose[:3, 3]])


def about(point: np.ndarray, r: np.ndarray) -> np.ndarray:
    """4x4 rotating by ``r`` about ``point`` (which stays where it is)."""
    return transform(r, point - r @ point)


def inverse(pose: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4."""
    r = pose[:3, :3]
    return transform(r.T, -r.T @ pose[:3, 3])


def pose_error(estimate: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(translation metres, rotation radians) between two 4x4 camera-to-world poses."""
    delta = inverse(reference) @ estimate
    return float(np.linalg.norm(estimate[:3, 3] - reference[:3, 3])), rotation_angle(delta)
