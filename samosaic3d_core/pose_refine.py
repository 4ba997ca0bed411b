"""Frame-to-map pose refinement: align a frame's depth to the map before it is fused.

A tracker's pose drifts; a frame fused with a drifted pose smears objects and breaks
association. ``PoseRefiner`` corrects the pose against the map surface with projective
point-to-plane ICP (KinectFusion's data association, inverted: map voxels are projected into a
downsampled depth image of the frame and paired with the frame point and normal at that pixel),
a Huber kernel, and gates that keep the tracker's pose whenever the alignment is not
trustworthy: too little overlap (fitness), a large inlier error, a degenerate system (a plain
wall leaves in-plane motion free), no gain over the start, or a jump larger than the tracker can
drift in one frame. Directions the map holds only weakly keep the start.

Drift is smooth, so the last accepted correction is carried to the next frame (voxblox's
``accumulate_icp_corrections``): alignment starts from the carried correction or from the
tracker's own pose, whichever the map fits better (``carry_margin`` can favour the carried one),
and a rejected frame keeps that start. On noisy depth the alignment moves by a few millimetres
from frame to frame; a change is only taken when it is significant against the alignment's own
uncertainty (``min_significance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from samosaic3d_core.geometry.point_to_plane import normal_equations, project_to_grid
from samosaic3d_core.geometry.rigid import inverse, pose_error, twist, untwist
from samosaic3d_core.geometry.voxel import sample_indices
from samosaic3d_core.types import Frame


@dataclass
class RefineConfig:
    """Frame-to-map pose refinement (``OnlineSegmenter`` runs it before lifting when ``enabled``)."""

    enabled: bool = True
    """Align each frame to the map before it is fused; the step result carries the correction.
    On by default: on the validation scenes it kept the AP under the ``vio`` tracking error within
    2 AP of exact poses (off: -14 AP) and did not cost AP with exact poses (docs/tracking_error.md)."""
    image_width: int = 160
    """The frame's depth is subsampled to about this many columns for correspondences and normals."""
    max_points: int = 10000
    """Map voxels in view used per frame (a random sample when more are in view)."""
    min_map_points: int = 2000
    """Frames are not refined until this many map voxels are in view."""
    iterations: int = 12
    """Gauss-Newton iterations at most (the pairing distance shrinks from max to min over them)."""
    max_distance: float = 0.15
    """Pairing distance of the first iteration, metres."""
    min_distance: float = 0.04
    """Pairing distance of the last iterations, metres; also the inlier distance of the gate."""
    huber: float = 0.01
    """Huber kernel width on the point-to-plane residual, metres."""
    min_fitness: float = 0.35
    """Gate: share of the unoccluded map voxels in view that pair within ``min_distance``."""
    max_rmse: float = 0.02
    """Gate: RMS point-to-plane error of the inliers, metres."""
    weak_direction: float = 0.01
    """Directions in which the final 6x6 system (rotations scaled to metres at the mean depth) holds
    less than this share of its strongest one keep the starting pose: a wall and a floor leave a
    slide along their edge free, and ICP must not wander along it."""
    min_conditioning: float = 1e-6
    """Gate: smallest over largest eigenvalue of the normalised system, below which a frame is degenerate."""
    min_gain: float = 0.0
    """Gate: the aligned pose's ``cost`` must be lower than the starting pose's by more than this share
    (ICP can slide along a weakly held direction to a worse fit)."""
    min_step_m: float = 0.002
    """Changes below this (and below ``min_step_deg``) keep the starting pose: a sub-millimetre
    adjustment is alignment noise, and the map should not move for it."""
    min_step_deg: float = 0.05
    """See ``min_step_m``."""
    min_significance: float = 100.0
    """Changes that the alignment's own uncertainty explains keep the starting pose: the squared change
    weighted by the final system and scaled by the inlier residual, d' H d / rmse^2, must exceed this.
    It is the drop of the weighted squared residuals the change buys, in units of their variance
    (chi-square with 6 degrees of freedom for independent residuals; neighbouring map voxels and
    filtered depth are not). Validation scenes: with exact poses and noisy depth the accepted
    changes scored 22-190 (10th-90th percentile), under ``vio`` drift 280-4600; at 100 a noisy 1500-frame scan's
    fused path error falls (1.0 -> 0.5 and 1.1 -> 0.9 cm with two mask seeds) and rendered depth gives the same
    maps (docs/tracking_error.md). 0: off."""
    max_step_m: float = 0.08
    """Gate: largest change of the camera position against the starting pose, metres."""
    max_step_deg: float = 3.0
    """Gate: largest change of the camera orientation against the starting pose, degrees."""
    start_after: int = 5
    """Frames fused with the tracker's own poses before refinement starts: the map's frame is then their
    average instead of the first frame's alone (which matters when every pose has its own error)."""
    carry: bool = True
    """Start from the last accepted correction (drift is smooth); rejected frames keep it too."""
    carry_margin: float = 0.0
    """The tracker's own pose is the start instead of the carried correction only when the map fits it
    better by more than this share of the carried start's ``cost`` (a relocalised tracker fits far
    better; on noisy depth the two costs differ by chance, and a start taken by chance keeps its
    error along the directions the view holds weakly). Off: on validation scenes 0.2 brought the
    fused paths closer to the truth on five sets of six but cost 2.9 AP on noisy depth under ``vio``
    drift over three mask seeds (docs/tracking_error.md)."""
    anchor: Literal["first", "tracker_mean", "auto"] = "auto"
    """Frame the outputs are published in (``samosaic3d_core.map_anchor``): "first", the frame of the
    first ``start_after`` frames' tracker poses, right for a tracker that drifts (VIO, SLAM);
    "tracker_mean", the rigid fit of all fused poses onto the tracker's, right for one whose poses
    each carry their own error but do not drift (motion capture, localisation in a prior map);
    "auto", "tracker_mean" while the corrections jitter by more than ``anchor_jitter_deg`` from frame
    to frame, else "first". Validation scenes, full model (AP first / tracker_mean): independent
    1 cm / 1 deg noise 47.6 / 53.6, ``vio`` 45.8 / 33.0, ``poor`` 11.4 / 2.0 (docs/tracking_error.md)."""
    anchor_jitter_deg: float = 0.5
    """"auto" anchor: median change (degrees) of consecutive frames' corrections over the last 30 frames
    above which the tracker is taken for one that does not drift. Validation scenes, frames 20-60:
    ``vio`` 0.06-0.17, ``poor`` 0.23-0.35, independent 1 cm / 1 deg 0.57-1.48, exact poses 0."""

    def __post_init__(self):
        if self.image_width < 8 or self.max_points < 10 or self.iterations < 1:
            raise ValueError("refine: image_width >= 8, max_points >= 10 and iterations >= 1 are required")
        if not 0 < self.min_distance <= self.max_distance:
            raise ValueError(f"refine: need 0 < min_distance <= max_distance, got {self.min_distance}, "
                             f"{self.max_distance}")
        if self.min_significance < 0 or self.carry_margin < 0:
            raise ValueError(f"refine.min_significance and refine.carry_margin must be >= 0, got "
                             f"{self.min_significance}, {self.carry_margin}")
        for name in ("huber", "max_rmse", "max_step_m", "max_step_deg"):
            if getattr(self, name) <= 0:
                raise ValueError(f"refine.{name} must be > 0, got {getattr(self, name)}")
        if self.anchor_jitter_deg <= 0:
            raise ValueError(f"refine.anchor_jitter_deg must be > 0, got {self.anchor_jitter_deg}")
        if not 0 <= self.min_fitness <= 1 or self.min_conditioning < 0:
            raise ValueError("refine: min_fitness must be in [0, 1] and min_conditioning >= 0")


@dataclass
class PoseCorrection:
    """What refinement did to one frame.

    tracker_pose: (4, 4) the pose the frame came with
    pose:         (4, 4) the pose the frame was fused with (``tracker_pose`` when not refined)
    status:       "refined", or why not: "off", "not_started" (``start_after``), "no_map", "few_points",
                  "low_fitness", "high_rmse", "degenerate", "no_gain" (the start fits as well),
                  "large_step", "unchanged" (the alignment agrees with the start within ``min_step_*`` or
                  within its own uncertainty, ``min_significance``)
    fitness, rmse, conditioning: the gate's measures (nan when not computed)
    cost:         mean point-to-plane distance of the voxels in view, capped at ``min_distance`` (unpaired
                  ones count as that); the lower of two poses is the one the map agrees with
    iterations:   Gauss-Newton iterations run
    """

    tracker_pose: np.ndarray
    pose: np.ndarray
    status: str = "off"
    fitness: float = float("nan")
    rmse: float = float("nan")
    conditioning: float = float("nan")
    cost: float = float("nan")
    iterations: int = 0

    @property
    def refined(self) -> bool:
        return self.status == "refined"

    @property
    def correction(self) -> np.ndarray:
        """(4, 4) world-frame transform from the tracker's pose to the fused one: ``correction @ tracker_pose``."""
        return self.pose @ inverse(self.tracker_pose)

    def change(self) -> tuple[float, float]:
        """(metres, degrees) between the tracker's pose and the fused one."""
        t, r = pose_error(self.pose, self.tracker_pose)
        return t, float(np.rad2deg(r))


@dataclass
class _FrameGrid:
    """The frame's depth subsampled by ``stride``: camera points and normals on a (h, w) grid."""

    points: np.ndarray  # (h, w, 3) camera coordinates, z = 0 where invalid
    normals: np.ndarray  # (h, w, 3) unit, facing the camera; zero where invalid
    camera: np.ndarray  # (fx, fy, cx, cy) of the grid


def _frame_grid(frame: Frame, image_width: int) -> _FrameGrid:
    k = frame.intrinsics
    stride = max(1, int(round(k.width / image_width)))
    depth = frame.depth[stride // 2::stride, stride // 2::stride].astype(np.float64)
    h, w = depth.shape
    # pixel (i, j) of the grid is pixel (stride*i + stride//2, ...) of the image
    fx, fy = k.fx / stride, k.fy / stride
    cx, cy = (k.cx - stride // 2) / stride, (k.cy - stride // 2) / stride
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    points = np.stack([(u - cx) / fx * depth, (v - cy) / fy * depth, depth], axis=-1)
    normals = np.zeros_like(points)
    dx = points[1:-1, 2:] - points[1:-1, :-2]
    dy = points[2:, 1:-1] - points[:-2, 1:-1]
    n = np.cross(dx, dy)
    length = np.linalg.norm(n, axis=-1)
    z = depth[1:-1, 1:-1]
    near = [depth[1:-1, 2:], depth[1:-1, :-2], depth[2:, 1:-1], depth[:-2, 1:-1]]
    ok = (z > 0) & (length > 1e-12)
    for other in near:  # no normal across a depth discontinuity or a hole
        ok &= (other > 0) & (np.abs(other - z) < 0.05 * z + 0.01)
    n = np.where(ok[..., None], n / np.maximum(length, 1e-12)[..., None], 0.0)
    flip = np.sum(n * points[1:-1, 1:-1], axis=-1) > 0
    n[flip] *= -1.0
    normals[1:-1, 1:-1] = n
    return _FrameGrid(points, normals, np.array([fx, fy, cx, cy]))


def _pair(grid: _FrameGrid, cam: np.ndarray):
    """Map points ``cam`` (M, 3) in camera coordinates -> (in_view, frame point, frame normal) per point."""
    return project_to_grid(cam, grid.points, grid.normals, grid.camera)


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (M, 3) arrays."""
    return np.einsum("ij,ij->i", a, b)


def _mean_depth(pts: np.ndarray, pose_cw: np.ndarray) -> float:
    return float(np.mean(np.abs(pts @ pose_cw[2, :3] + pose_cw[2, 3])))


def _strong_part(pose_cw: np.ndarray, start_cw: np.ndarray, hessian: np.ndarray, lever: float,
                 weak: float) -> np.ndarray:
    """``pose_cw`` with its change from ``start_cw`` kept only along the well-held directions of ``hessian``."""
    if weak <= 0 or not np.any(hessian):
        return pose_cw
    scale = np.array([lever] * 3 + [1.0] * 3)
    eig, vec = np.linalg.eigh(_normalised(hessian, lever))
    delta = untwist(pose_cw @ inverse(start_cw)) * scale
    keep = eig >= weak * eig[-1]
    return twist((vec[:, keep] @ (vec[:, keep].T @ delta)) / scale) @ start_cw


def _significance(pose_cw: np.ndarray, start_cw: np.ndarray, hessian: np.ndarray, rmse: float) -> float:
    """d' H d / rmse^2 of the change d from ``start_cw`` to ``pose_cw``: how many times larger the
    change is than the spread the residuals alone would give it (a chi-square with 6 degrees of
    freedom for independent residuals)."""
    delta = untwist(pose_cw @ inverse(start_cw))
    return float(delta @ hessian @ delta) / max(rmse, 1e-6) ** 2


def _normalised(hessian: np.ndarray, lever: float) -> np.ndarray:
    """The 6x6 system with rotations in metres at depth ``lever``, so its eigenvalues compare."""
    scale = np.array([lever] * 3 + [1.0] * 3)
    return hessian / np.outer(scale, scale)


class PoseRefiner:
    """Refines each frame's pose against a set of map surface points (see the module docstring)."""

    def __init__(self, config: RefineConfig | None = None):
        self.config = config or RefineConfig()
        self._carried = np.eye(4)  # last accepted correction (world frame)
        self._frames = 0

    def reset(self) -> None:
        self._carried = np.eye(4)
        self._frames = 0

    def __call__(self, frame: Frame, map_points: np.ndarray) -> PoseCorrection:
        """The correction of ``frame``'s pose against ``map_points`` (P, 3) world metres."""
        cfg = self.config
        tracker = np.asarray(frame.pose, np.float64)
        if not cfg.enabled:
            return PoseCorrection(tracker, tracker.copy(), "off")
        self._frames += 1
        if self._frames <= cfg.start_after:
            return PoseCorrection(tracker, tracker.copy(), "not_started")
        carried = cfg.carry and not np.allclose(self._carried, np.eye(4))
        starts = [self._carried @ tracker, tracker] if carried else [tracker]
        result = self._align(frame, np.asarray(map_points), starts)
        if result.refined:
            self._carried = result.pose @ inverse(tracker)
        result.tracker_pose = tracker
        return result

    def _align(self, frame: Frame, map_points: np.ndarray, starts: list[np.ndarray]) -> PoseCorrection:
        """Align from the start the map fits best; a rejected alignment keeps that start."""
        cfg = self.config
        start = starts[0]
        out = PoseCorrection(start, start.copy(), "no_map")
        if len(map_points) < cfg.min_map_points:
            return out
        grid = _frame_grid(frame, cfg.image_width)
        world_to_cam = inverse(start)
        step = max(1, len(map_points) // (3 * cfg.max_points))  # a large map: every step-th voxel is enough
        map_points = np.asarray(map_points[int(frame.index) % step::step], np.float64)
        cam = map_points @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        in_view, _, _ = _pair(grid, cam)
        candidates = map_points[in_view]
        if len(candidates) * step < cfg.min_map_points:
            out.status = "few_points"
            return out
        pts = candidates[sample_indices(len(candidates), cfg.max_points, seed=int(frame.index))]
        scored = []
        for candidate in starts:  # the carried correction (drift) or the tracker's own pose (no drift)
            score = PoseCorrection(candidate, candidate)
            self._score(score, grid, pts, inverse(candidate), np.zeros((6, 6)))
            margin = 1.0 if not scored else 1.0 + cfg.carry_margin  # the carried start wins near-ties
            scored.append((score.cost * margin, len(scored), candidate, score))
        _, _, start, before = min(scored, key=lambda x: x[:2])
        out.pose, world_to_cam = start.copy(), inverse(start)
        pose_cw = world_to_cam
        schedule = np.geomspace(cfg.max_distance, cfg.min_distance, max(1, cfg.iterations // 2))
        h_last = np.zeros((6, 6))
        for it in range(cfg.iterations):
            reach = schedule[min(it, len(schedule) - 1)]
            pairs, hessian, gradient = normal_equations(pts, pose_cw, grid.points, grid.normals, grid.camera, reach,
                                                        cfg.huber)
            if pairs < 6 * 10:
                break
            h_last = hessian
            try:
                xi = -np.linalg.solve(h_last + 1e-9 * np.eye(6), gradient)
            except np.linalg.LinAlgError:
                break
            pose_cw = twist(xi) @ pose_cw
            out.iterations = it + 1
            if np.linalg.norm(xi[:3]) < 1e-5 and np.linalg.norm(xi[3:]) < 1e-5 and reach <= cfg.min_distance:
                break
        pose_cw = _strong_part(pose_cw, world_to_cam, h_last, _mean_depth(pts, pose_cw), cfg.weak_direction)
        self._score(out, grid, pts, pose_cw, h_last)
        out.pose = inverse(pose_cw)
        if out.status == "refined" and out.cost >= before.cost * (1.0 - cfg.min_gain):
            out.status = "no_gain"
        if out.status == "refined":
            moved_m, moved_rad = pose_error(out.pose, start)
            if moved_m > cfg.max_step_m or np.rad2deg(moved_rad) > cfg.max_step_deg:
                out.status = "large_step"
            elif moved_m < cfg.min_step_m and np.rad2deg(moved_rad) < cfg.min_step_deg:
                out.status = "unchanged"
            elif _significance(pose_cw, world_to_cam, h_last, out.rmse) < cfg.min_significance:
                out.status = "unchanged"
        if not out.refined:
            out.pose = start.copy()
        return out

    def _score(self, out: PoseCorrection, grid: _FrameGrid, pts: np.ndarray, pose_cw: np.ndarray,
               hessian: np.ndarray) -> None:
        """Fill fitness, rmse, conditioning and the status they give."""
        cfg = self.config
        s = pts @ pose_cw[:3, :3].T + pose_cw[:3, 3]
        ok, p, n = _pair(grid, s)
        occluded = ok & (s[:, 2] > p[:, 2] + cfg.min_distance)  # behind the surface the frame sees
        seen = ok & ~occluded
        gap = s - p
        inlier = seen & (_rowdot(gap, gap) < cfg.min_distance**2)
        out.fitness = float(inlier.sum() / max(seen.sum(), 1))
        r = _rowdot(n[inlier], gap[inlier])
        out.cost = float((np.minimum(np.abs(r), cfg.min_distance).sum() + cfg.min_distance * (seen.sum() - len(r)))
                         / max(seen.sum(), 1))
        out.rmse = float(np.sqrt(np.mean(r**2))) if len(r) else float("inf")
        lever = float(np.mean(np.abs(s[inlier, 2]))) if inlier.any() else 1.0
        eig = np.linalg.eigvalsh(_normalised(hessian, lever)) if np.any(hessian) else np.zeros(6)
        out.conditioning = float(eig[0] / eig[-1]) if eig[-1] > 0 else 0.0
        if inlier.sum() < cfg.min_map_points // 4:
            out.status = "few_points"
        elif out.fitness < cfg.min_fitness:
            out.status = "low_fitness"
        elif out.rmse > cfg.max_rmse:
            out.status = "high_rmse"
        elif out.conditioning < cfg.min_conditioning:
            out.status = "degenerate"
        else:
            out.status = "refined"


