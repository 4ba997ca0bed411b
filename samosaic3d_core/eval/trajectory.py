"""Camera-path error against the true poses: ATE and RPE (as in the TUM RGB-D benchmark).

No alignment is applied: the map is built in the frame of the first pose, which the tracker
and the truth share, so any offset the tracker accumulates is an error the map carries.
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.geometry.rigid import inverse, rotation_angle


def ate(poses: np.ndarray, true_poses: np.ndarray) -> float:
    """Absolute trajectory error: RMS camera-position error over the frames, metres."""
    poses, true_poses = _checked(poses, true_poses)
    return float(np.sqrt(np.mean(np.sum((poses[:, :3, 3] - true_poses[:, :3, 3]) ** 2, axis=1))))


def rpe(poses: np.ndarray, true_poses: np.ndarray) -> tuple[float, float]:
    """Relative pose error between consecutive frames: RMS (metres, degrees); (0, 0) for < 2 frames."""
    poses, true_poses = _checked(poses, true_poses)
    trans, rot = [], []
    for i in range(1, len(poses)):
        delta = inverse(inverse(true_poses[i - 1]) @ true_poses[i]) @ (inverse(poses[i - 1]) @ poses[i])
        trans.append(np.linalg.norm(delta[:3, 3]))
        rot.append(np.rad2deg(rotation_angle(delta)))
    if not trans:
        return 0.0, 0.0
    return float(np.sqrt(np.mean(np.square(trans)))), float(np.sqrt(np.mean(np.square(rot))))


def _checked(poses, true_poses) -> tuple[np.ndarray, np.ndarray]:
    poses, true_poses = np.asarray(poses, np.float64), np.asarray(true_poses, np.float64)
    if poses.shape != true_poses.shape or poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) == 0:
        raise ValueError(f"need two equally long, non-empty (F, 4, 4) pose arrays, got {poses.shape} and "
                         f"{true_poses.shape}")
    return poses, true_poses
