"""Settings of the ScanNet-protocol evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from samosaic3d_core.eval.instance_ap import MIN_REGION_SIZE


@dataclass
class EvalConfig:
    """How scene points are built, how predictions reach them, and what is scored."""

    voxel_size: float = 0.02
    """Edge of the evaluation voxel grid in metres; one scored point per occupied voxel."""
    min_depth: float = 0.1
    """Closest depth (metres) a frame pixel may have to become a scene point."""
    max_depth: float = 10.0
    """Farthest depth (metres) a frame pixel may have to become a scene point."""
    min_region_size: int = MIN_REGION_SIZE
    """Points below which a ground-truth instance is not scored and a prediction is dropped."""
    transfer_radius: float = 1.5
    """Scene points with no map point in their voxel take the nearest map point's id closer
    than this many voxel sizes (else no instance)."""
    gt_poses: str = "true"
    """Poses the ground-truth points are placed with: "true" (a frame's ``true_pose`` where the scene
    has one, e.g. ``pose_true/`` of a synthetic scene with tracking error; else its pose) or
    "reported" (always the pose the frames carry, which a tracker's error smears)."""
    skip_missing: bool = False
    """Skip scenes that have no map file (with a warning) instead of failing."""

    def __post_init__(self) -> None:
        if self.voxel_size <= 0:
            raise ValueError(f"EvalConfig.voxel_size must be > 0 metres, got {self.voxel_size}")
        if not 0 <= self.min_depth < self.max_depth:
            raise ValueError(f"EvalConfig depth range must satisfy 0 <= min_depth < max_depth, "
                             f"got [{self.min_depth}, {self.max_depth}]")
        if self.min_region_size < 1:
            raise ValueError(f"EvalConfig.min_region_size must be >= 1 point, got {self.min_region_size}")
        if self.gt_poses not in ("true", "reported"):
            raise ValueError(f"EvalConfig.gt_poses must be 'true' or 'reported', got {self.gt_poses!r}")
        if self.transfer_radius < 0:
            raise ValueError(f"EvalConfig.transfer_radius must be >= 0 voxel sizes, got {self.transfer_radius}")
