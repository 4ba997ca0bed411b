"""Lift a frame's 2D masks to 3D: points of the frame and the fragments they form."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from samosaic3d_core.depth_filter import SPACES, bilateral_depth, noise_range, relative_noise
from samosaic3d_core.geometry import backproject, group_boxes, hash_sample, sample_indices, voxel_keys
from samosaic3d_core.geometry.depth_voxels import depth_voxel_points
from samosaic3d_core.types import Fragments, Frame, FramePoints, MaskResult


@dataclass
class LiftConfig:
    """How a frame becomes points and fragments."""

    voxel_size: float = 0.02
    """Frame points are downsampled to one per voxel of this size (metres)."""
    point_budget: int = 10000
    """At most this many points per frame after downsampling (0 = no limit)."""
    min_depth: float = 0.1
    """Depth below this (metres) is treated as invalid."""
    max_depth: float = 6.0
    """Depth beyond this (metres) is treated as invalid."""
    min_fragment_points: int = 10
    """Fragments with fewer 3D points are dropped; their points become unassigned (-1). 10 was chosen
    on validation scenes with SAM-like (``sim``) fragments over 5, 15 and 20 (mean AP over three
    mask seeds, hard val / val8: 41.3 / 64.7, 44.5 / 65.5, 42.6 / 63.8, 39.1 / 62.3): a book or
    bottle of 150-200 pixels at 320x240 keeps 13-22 points in one fragment after the boundary
    erosion and is otherwise left out of most frames. The ``oversegment`` source has its own
    (``oversegment_min_fragment_points``)."""
    oversegment_min_fragment_points: int | None = 20
    """``min_fragment_points`` for the weight-free ``oversegment`` pieces (None: the same). Its
    colour-and-depth pieces below 20 points are more often noise: at 10 the 640x480 validation
    scenes gained AP (41.7 -> 48.8) but held 19.0 object instances for 13 objects instead of 16.7
    and their label noise rose from 5.1 to 7.5 %; the 320x240 ones lost 4.0 AP (44.7 -> 40.7)."""
    budget_sampling: Literal["voxel", "random"] = "voxel"
    """How the point budget is drawn when a frame has more voxels: "voxel" keeps the voxels with the
    smallest hash of their coordinates (seeded per frame), so a point more or less changes a few
    choices (1e-7 relative depth noise on a 640x480 frame changed 5 of its 10,000 points, against
    3,166 with "random", and then the frame model's grouping in 11 of 15 frames); "random" draws
    afresh (the training recipes use it). Both are seeded with ``seed`` plus the frame index."""
    keep_small_fragments: int = 40
    """Fragments with at most this many voxels keep all of them when the budget is drawn (the rest
    of the budget is drawn from the other points), so a small object cut into a few fragments is
    not thinned below ``min_fragment_points`` (a bottle of 1,000-2,000 pixels in three fragments
    kept 9-37 points); 0 = off. 40 was chosen on validation scenes over 0 and 80 (AP summed over
    four sets 107.5 / 113.0 / 118.2; 80 lost 5 AP at 640x480 with oversegment pieces)."""
    seed: int = 0
    """Seed of the point-budget sampling (combined with the frame index)."""
    depth_filter: Literal["none", "bilateral", "auto"] = "auto"
    """Smoothing of the depth image before anything reads it (pose refinement, masks, points,
    normals; ``samosaic3d_core.depth_filter``): an edge-preserving bilateral filter whose range
    kernel grows with depth as the sensor's noise does (``filter_space``). "bilateral": a range
    kernel of ``filter_sigma_relative``; "auto": of ``filter_noise_factor`` times the noise measured
    on each frame, and no smoothing of a frame that measures below ``filter_min_noise`` (rendered
    depth); "none": depth as it comes."""
    filter_space: Literal["log", "inverse"] = "log"
    """``depth_filter``: the transform of depth the filter smooths in, in which the sensor's noise is
    the same at every distance: "inverse" (1 / depth) for noise growing with the square of depth
    (stereo and structured-light cameras), "log" for noise relative to depth. The kernels and the
    measured noise read as a share of depth at 1 m in both. On scenes rendered with Kinect-like
    noise (which grows with the square of depth) the two were level over validation scenes
    (docs/depth_noise.md, "Inverse depth"), so the first, "log", stays the default."""
    filter_radius: int = 2
    """``depth_filter``: half width of the window, pixels."""
    filter_sigma_pixels: float = 2.0
    """``depth_filter``: width of the spatial kernel, pixels."""
    filter_sigma_relative: float = 0.02
    """``depth_filter: bilateral``: width of the range kernel as a share of depth at 1 m (0.02: 2 cm
    at 1 m; at 2 m 4 cm in ``log`` space, 8 cm in ``inverse``); depth steps well above it (an object
    in front of what is behind it) are kept."""
    filter_noise_factor: float = 2.5
    """``depth_filter: auto``: width of the range kernel in units of the frame's measured noise (a
    Kinect-like sensor, 2.5 mm at 1 m, measures 0.004-0.009 in rooms in ``log`` space: a kernel of
    1-2.3 % of depth; 0.0025 in ``inverse`` space: 6 mm at 1 m, 10 cm at 4 m)."""
    filter_min_noise: float = 0.001
    """``depth_filter: auto``: measured noise below which a frame is not smoothed (1 mm at 1 m;
    rendered depth measures below 0.0003)."""
    max_depth_noise: float = 0.0
    """Depth beyond the distance where its noise exceeds this (metres) is dropped, as no measurement,
    before anything reads it. The noise is measured on each raw frame at eight depths and fitted
    with a power of depth (``depth_filter.noise_range``, whatever the sensor's model: 4 cm is 4 m
    for a Kinect-like sensor); a frame that measures below ``filter_min_noise`` (rendered depth)
    keeps its whole range. A map keeps every voxel a reading touches, and the far readings of a
    noisy sensor thicken its walls into slabs. 0 = off: on noisy validation scenes 4 cm kept the
    long scans' walls thinner but lost short scenes' objects seen only from afar, and long scans
    moved both ways (docs/depth_noise.md, "The depth range")."""

    def __post_init__(self):
        for name in ("min_fragment_points", "oversegment_min_fragment_points"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"lift.{name} must be >= 0, got {value}")
        if self.budget_sampling not in ("voxel", "random"):
            raise ValueError(f"lift.budget_sampling must be 'voxel' or 'random', got {self.budget_sampling!r}")
        if self.depth_filter not in ("none", "bilateral", "auto"):
            raise ValueError(f"lift.depth_filter must be 'none', 'bilateral' or 'auto', got {self.depth_filter!r}")
        if self.filter_space not in SPACES:
            raise ValueError(f"lift.filter_space must be one of {', '.join(SPACES)}, got {self.filter_space!r}")
        if self.filter_radius < 0:
            raise ValueError(f"lift.filter_radius must be >= 0, got {self.filter_radius}")
        if self.filter_min_noise < 0:
            raise ValueError(f"lift.filter_min_noise must be >= 0, got {self.filter_min_noise}")
        if self.max_depth_noise < 0:
            raise ValueError(f"lift.max_depth_noise must be >= 0, got {self.max_depth_noise}")
        for name in ("filter_sigma_pixels", "filter_sigma_relative", "filter_noise_factor"):
            if getattr(self, name) <= 0:
                raise ValueError(f"lift.{name} must be > 0, got {getattr(self, name)}")


def lift_config_for_masks(config: LiftConfig, mask_source: str) -> LiftConfig:
    """``config`` with the smallest fragment of ``mask_source`` (``oversegment_min_fragment_points``)."""
    if mask_source == "oversegment" and config.oversegment_min_fragment_points is not None:
        return dataclasses.replace(config, min_fragment_points=config.oversegment_min_fragment_points)
    return config


def filtered_depth(frame: Frame, config: LiftConfig) -> Frame:
    """``frame`` with its depth smoothed as ``config.depth_filter`` says and cut where its noise exceeds
    ``config.max_depth_noise`` (the same frame when neither applies)."""
    measure = config.depth_filter == "auto" or config.max_depth_noise > 0
    noise = relative_noise(frame.depth, config.filter_space) if measure else 0.0
    depth = frame.depth
    if config.depth_filter == "bilateral" or (config.depth_filter == "auto" and noise >= config.filter_min_noise):
        sigma = config.filter_sigma_relative if config.depth_filter == "bilateral" else config.filter_noise_factor * noise
        depth = bilateral_depth(depth, config.filter_radius, config.filter_sigma_pixels, sigma, config.filter_space)
    if config.max_depth_noise > 0 and noise >= config.filter_min_noise:
        far = noise_range(frame.depth, config.max_depth_noise)
        if np.isfinite(far):
            depth = np.where(depth <= far, depth, 0.0).astype(np.float32)
    return frame if depth is frame.depth else dataclasses.replace(frame, depth=depth)


def frame_points(frame: Frame, config: LiftConfig, fragment_map: np.ndarray | None = None) -> FramePoints:
    """Back-project, voxel-downsample and budget-sample a frame (fragment ids all -1).

    ``fragment_map`` (H, W) mask index per pixel (-1 none) lets the budget keep small fragments
    whole (``keep_small_fragments``).
    """
    if config.voxel_size > 0:  # one point per voxel, in image order: deterministic and cache-friendly
        xyz, pixel = depth_voxel_points(frame.depth, frame.intrinsics, frame.pose, config.min_depth,
                                        config.max_depth, config.voxel_size)
    else:
        xyz, pixel = backproject(frame.depth, frame.intrinsics, frame.pose, config.min_depth, config.max_depth)
    mask_of = fragment_map.reshape(-1)[pixel] if fragment_map is not None else None
    keep = budget_sample(xyz, pixel, config, frame.index, mask_of)
    xyz, pixel = xyz[keep], pixel[keep]
    rgb = frame.rgb.reshape(-1, 3)[pixel]
    return FramePoints(xyz=xyz, rgb=rgb, pixel=pixel, fragment=np.full(len(xyz), -1, np.int32))


def budget_sample(xyz: np.ndarray, pixel: np.ndarray, config: LiftConfig, frame_index: int,
                  mask_of: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of at most ``config.point_budget`` of the downsampled points (``budget_sampling``).

    ``mask_of`` (N,) mask index per point (-1 none): points of masks with at most
    ``config.keep_small_fragments`` points are all kept when they fit in the budget.
    """
    n, budget = len(xyz), config.point_budget
    if budget <= 0 or n <= budget:
        return np.arange(n, dtype=np.int64)
    protected = np.zeros(0, np.int64)
    if mask_of is not None and config.keep_small_fragments > 0 and np.any(mask_of >= 0):
        counts = np.bincount(mask_of[mask_of >= 0])
        small = (mask_of >= 0) & (counts[np.maximum(mask_of, 0)] <= config.keep_small_fragments)
        if np.count_nonzero(small) < budget:
            protected = np.flatnonzero(small)
    unprotected = np.ones(n, bool)
    unprotected[protected] = False
    rest = np.flatnonzero(unprotected)
    seed = config.seed + frame_index
    if config.budget_sampling == "random":
        drawn = sample_indices(len(rest), budget - len(protected), seed=seed)
    else:
        keys = voxel_keys(xyz[rest], config.voxel_size) if config.voxel_size > 0 else pixel[rest]
        drawn = hash_sample(keys, budget - len(protected), seed=seed)
    return np.sort(np.concatenate([protected, rest[drawn]]))


def lift_frame(frame: Frame, masks: MaskResult, config: LiftConfig) -> tuple[FramePoints, Fragments]:
    """Points of ``frame`` with their fragment index, and the M fragments with enough points.

    Fragment ``j`` of the result is mask ``fragments.mask_index[j]``; ``points.fragment``
    indexes the result's fragments (0..M-1) or is -1.
    """
    if masks.fragment_map.shape != frame.shape:
        raise ValueError(f"fragment map shape {masks.fragment_map.shape} does not match the frame {frame.shape}")
    points = frame_points(frame, config, masks.fragment_map)
    mask_of_point = masks.fragment_map.reshape(-1)[points.pixel].astype(np.int64)  # (N,) mask index or -1
    num_masks = len(masks)
    counts = np.bincount(mask_of_point[mask_of_point >= 0], minlength=num_masks)
    kept = np.flatnonzero(counts >= max(config.min_fragment_points, 1))  # (M,) mask indices
    remap = np.full(num_masks + 1, -1, np.int64)  # last slot maps -1 -> -1
    remap[kept] = np.arange(len(kept))
    fragment = remap[mask_of_point].astype(np.int32)
    points.fragment = fragment
    return points, fragments_from_points(points, kept, masks.scores[kept] if num_masks else np.zeros(0, np.float32))


def fragments_from_points(points: FramePoints, mask_index: np.ndarray, score: np.ndarray) -> Fragments:
    """Centroid, box and size of each fragment from its member points (``points.fragment``)."""
    m = len(mask_index)
    members = points[points.fragment >= 0]
    frag = members.fragment.astype(np.int64)
    xyz = members.xyz.astype(np.float64)
    num_points = np.bincount(frag, minlength=m).astype(np.int64)
    centroid = np.zeros((m, 3))
    for axis in range(3):
        centroid[:, axis] = np.bincount(frag, weights=xyz[:, axis], minlength=m)
    centroid /= np.maximum(num_points, 1)[:, None]
    boxes = group_boxes(xyz, frag, m)  # (M, 6)
    return Fragments(
        mask_index=np.asarray(mask_index, np.int64),
        centroid=centroid.astype(np.float32),
        box_min=boxes[:, :3].astype(np.float32),
        box_max=boxes[:, 3:].astype(np.float32),
        num_points=num_points,
        score=np.asarray(score, np.float32),
    )
