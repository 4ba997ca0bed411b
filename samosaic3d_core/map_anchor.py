"""Where the refined map sits in the tracker's world: the rigid transform the outputs are published with.

Refinement aligns every frame to the map, so the map keeps the frame of the poses it started from
(the average of the first ``refine.start_after`` tracker poses). A tracker that drifts starts
right, and that frame is the best one there is. A tracker whose every pose has its own error
(motion capture, localisation against a prior map) does not drift: there the average of all its
poses is right and the first few are off by their own error (0.4-0.8 degrees with 1 cm / 1 degree
noise, several centimetres across a room). ``refine.anchor: tracker_mean`` publishes the map in
that average frame: the rigid transform ``T`` that best takes the fused poses onto the tracker's,
in the least-squares sense

    R = the rotation nearest sum_k R_tracker,k R_fused,k^T      (polar factor, via SVD)
    t = mean_k (c_tracker,k - R c_fused,k)                      (c: camera centres)

and ``OnlineSegmenter`` applies it to everything it hands out (map points, instance boxes, the
frame's points, the refined pose). The map itself is not moved: ``T`` changes a little with every
frame and costs one matrix product per output. Sums, not a history, are kept; they are not part
of a saved segmenter state, so after ``OnlineSegmenter.load`` the fit starts again from the frames
that follow.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from samosaic3d_core.geometry.boxes import box_corners
from samosaic3d_core.geometry.rigid import inverse, rotation_angle
from samosaic3d_core.types import Instances


class TrackerAnchor:
    """Running least-squares fit of the fused poses onto the tracker's (see the module docstring)."""

    def __init__(self, window: int = 30):
        self.window = window
        self.reset()

    def reset(self) -> None:
        self._rotations = np.zeros((3, 3))
        self._tracker_centres = np.zeros(3)
        self._fused_centres = np.zeros(3)
        self._frames = 0
        self._last_correction: np.ndarray | None = None
        self._changes: deque[float] = deque(maxlen=self.window)

    @property
    def frames(self) -> int:
        """Pose pairs added since the last reset."""
        return self._frames

    def add(self, tracker_pose: np.ndarray, fused_pose: np.ndarray) -> None:
        """One frame's (4, 4) camera-to-world poses: as the tracker gave it and as it was fused."""
        tracker, fused = np.asarray(tracker_pose, np.float64), np.asarray(fused_pose, np.float64)
        if tracker.shape != (4, 4) or fused.shape != (4, 4):
            raise ValueError(f"poses must be 4x4, got {tracker.shape} and {fused.shape}")
        self._rotations += tracker[:3, :3] @ fused[:3, :3].T
        self._tracker_centres += tracker[:3, 3]
        self._fused_centres += fused[:3, 3]
        self._frames += 1
        correction = fused @ inverse(tracker)
        if self._last_correction is not None:
            self._changes.append(float(np.degrees(rotation_angle(inverse(self._last_correction) @ correction))))
        self._last_correction = correction

    def jitter_deg(self, min_changes: int = 10) -> float:
        """Median rotation (degrees) between consecutive frames' corrections over the last ``window``
        frames, nan with fewer than ``min_changes``: a drifting tracker's corrections change slowly
        (0.06-0.3 degrees a frame under ``vio``), one with independent per-frame error by about its
        error (about 1 degree at 1 cm / 1 deg)."""
        if len(self._changes) < min_changes:
            return float("nan")
        return float(np.median(self._changes))

    def transform(self) -> np.ndarray:
        """(4, 4) map-to-world transform; the identity before the first frame."""
        out = np.eye(4)
        if self._frames == 0:
            return out
        u, _, vt = np.linalg.svd(self._rotations)
        if np.linalg.det(u @ vt) < 0:
            u[:, -1] *= -1
        rotation = u @ vt
        out[:3, :3] = rotation
        out[:3, 3] = (self._tracker_centres - rotation @ self._fused_centres) / self._frames
        return out


def apply_to_points(transform: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(N, 3) float32 ``xyz`` moved by the (4, 4) ``transform``."""
    xyz = np.asarray(xyz)
    return (xyz @ transform[:3, :3].T.astype(np.float32) + transform[:3, 3].astype(np.float32)).astype(np.float32)


def apply_to_boxes(transform: np.ndarray, box_min: np.ndarray, box_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned (K, 3) boxes after ``transform``: the bounds of their eight moved corners."""
    box_min, box_max = np.asarray(box_min, np.float32), np.asarray(box_max, np.float32)
    if len(box_min) == 0:
        return box_min.copy(), box_max.copy()
    corners = box_corners(box_min, box_max).astype(np.float32)  # (K, 8, 3), exact: the bounds are float32
    moved = apply_to_points(transform, corners.reshape(-1, 3)).reshape(corners.shape)
    return moved.min(axis=1), moved.max(axis=1)


def moved_instances(instances: Instances, transform: np.ndarray | None) -> Instances:
    """``instances`` with boxes and centroids moved by ``transform`` (unchanged when it is None)."""
    if transform is None:
        return instances
    box_min, box_max = apply_to_boxes(transform, instances.box_min, instances.box_max)
    centroid = None if instances.centroid is None else apply_to_points(transform, instances.centroid)
    return dataclasses.replace(instances, box_min=box_min, box_max=box_max, centroid=centroid)
