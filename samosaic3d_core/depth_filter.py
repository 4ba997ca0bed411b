"""Edge-preserving smoothing of a depth image before anything reads it (``LiftConfig.depth_filter``).

Consumer RGB-D cameras measure depth with noise that grows with distance: with its square for
stereo and structured-light sensors (a Kinect-like sensor: about 2.5 mm at 1 m, 1 cm at 2 m; their
noise is constant in disparity), about linearly for others. Lifted, it roughens every surface:
normals turn, the boundary planes of the room thicken, and touching objects lose the small depth
steps between them. KinectFusion (Newcombe et al., ISMAR 2011) filters raw depth with a bilateral
filter before it computes vertices and normals; so does the segmenter here, with the range kernel
on a transform of depth in which the noise is the same at every distance: inverse depth (``space
"inverse"``, for noise growing with the square of depth) or the logarithm of depth (``"log"``,
noise relative to depth). A jump between an object and what lies behind it is kept. Pixels without
a measurement (0 or not finite) stay without one and do not take part.

How wide the range kernel should be depends on the sensor, so ``relative_noise`` measures it on
each frame, in the same space: the spread of the second differences of the transformed depth along
image rows (robust: the median absolute deviation, so that object edges do not count). In either
space the number reads as the noise relative to depth at 1 m. A rendered or otherwise clean depth
image measures about 0 and is left as it is.

Far readings are noisier than any filter can mend (a Kinect-like sensor: 4 cm at 4 m), and a map
that keeps every voxel they touch thickens its far walls into slabs. ``noise_by_depth`` measures
how the noise grows with depth on each frame, ``noise_range`` where it reaches a given deviation;
the segmenter drops depth beyond it (``LiftConfig.max_depth_noise``).
"""

from __future__ import annotations

import cv2
import numpy as np

SPACES = ("log", "inverse")
"""Spaces of depth the filter smooths in (``LiftConfig.filter_space``)."""


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"depth filter space must be one of {SPACES}, got {space!r}")


def _transform(depth: np.ndarray, space: str) -> np.ndarray:
    return np.log(depth) if space == "log" else 1.0 / depth


def _inverse_transform(values: np.ndarray, space: str) -> np.ndarray:
    return np.exp(values) if space == "log" else 1.0 / values


def bilateral_depth(depth: np.ndarray, radius: int, sigma_pixels: float, sigma_relative: float,
                    space: str = "log") -> np.ndarray:
    """``depth`` ((H, W) float32 metres, 0 = none) smoothed by a bilateral filter; a new array.

    Args:
        radius: half width of the window in pixels (0: ``depth`` returned as a copy).
        sigma_pixels: width of the spatial kernel in pixels.
        sigma_relative: width of the range kernel as a share of the depth at 1 m (0.02: 2 cm at
            1 m; at 2 m 4 cm in ``log`` space, 8 cm in ``inverse`` space).
        space: ``log`` or ``inverse`` (see the module's docstring).
    """
    depth = np.asarray(depth, np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    if radius < 0 or sigma_pixels <= 0 or sigma_relative <= 0:
        raise ValueError(f"bilateral_depth needs radius >= 0 and positive sigmas, got {radius}, {sigma_pixels}, "
                         f"{sigma_relative}")
    _check_space(space)
    valid = np.isfinite(depth) & (depth > 0)
    if radius == 0 or not valid.any():
        return depth.copy()
    values = _transform(np.where(valid, depth, 1.0), space).astype(np.float32)
    # pixels without depth lie far from every measurement in the range kernel (weight 0); near the
    # measured range, so that OpenCV's range table keeps its resolution
    far = float(values[valid].max()) + 50.0 * sigma_relative
    values[~valid] = far
    smoothed = cv2.bilateralFilter(values, 2 * radius + 1, sigma_relative, sigma_pixels,
                                   borderType=cv2.BORDER_REPLICATE)
    return np.where(valid, _inverse_transform(smoothed, space), depth).astype(np.float32)


def _row_triples(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, middle, right) float64 depths of the horizontal pixel triples of every fourth row that
    are all measured (the noise estimates' samples)."""
    rows = np.asarray(depth, np.float64)[::4]
    left, mid, right = rows[:, :-2], rows[:, 1:-1], rows[:, 2:]
    valid = (left > 0) & (mid > 0) & (right > 0) & np.isfinite(left + mid + right)
    return left[valid], mid[valid], right[valid]


def noise_by_depth(depth: np.ndarray, bins: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """How the noise of ``depth`` ((H, W) metres, 0 = none) grows with depth, measured on the frame.

    The valid triples along every fourth row are split into ``bins`` groups of equal count by depth;
    in each, the spread of the second differences of inverse depth (0 on any plane, so only noise
    and edges, which the median absolute deviation ignores) times the square of the group's median
    depth gives the deviation of depth in metres there. No model of the sensor is assumed.

    Returns (z, sigma): (B,) median depth and (B,) deviation in metres of each group, nearest
    first; empty with too few valid triples.
    """
    left, z, right = _row_triples(depth)
    if len(z) < 100 * bins:
        return np.zeros(0), np.zeros(0)
    second = 1.0 / left - 2.0 / z + 1.0 / right
    order = np.argsort(z)
    groups = np.array_split(order, bins)
    z_med = np.array([np.median(z[g]) for g in groups])
    spread = np.array([np.median(np.abs(second[g] - np.median(second[g]))) for g in groups])
    return z_med, 1.4826 * spread / np.sqrt(6.0) * z_med**2


def noise_range(depth: np.ndarray, max_noise: float, bins: int = 8) -> float:
    """Depth (metres) beyond which the noise of ``depth`` exceeds ``max_noise`` metres.

    The groups of ``noise_by_depth`` are fitted with a power of depth, sigma = a z^b (least squares
    in log-log: b is 2 for a Kinect-like sensor, 1 for noise relative to depth), which also reaches
    past the farthest group's median to the frame's farthest readings. inf when the noise does not
    grow with depth or cannot be measured (rendered depth).
    """
    z, sigma = noise_by_depth(depth, bins)
    ok = sigma > 0
    if ok.sum() < 2 or np.ptp(np.log(z[ok])) < 1e-3:
        return float("inf")
    b, log_a = np.polyfit(np.log(z[ok]), np.log(sigma[ok]), 1)
    if b <= 0:
        return float("inf")
    return float(np.exp((np.log(max_noise) - log_a) / b))


def relative_noise(depth: np.ndarray, space: str = "log") -> float:
    """Standard deviation of the depth noise relative to depth at 1 m, measured on ``depth`` ((H, W)
    metres, 0 = none) in ``space`` from the second differences along every fourth row (0.0 with too
    few valid triples).

    White noise of deviation s in the space gives second differences t[u-1] - 2 t[u] + t[u+1] of
    deviation s * sqrt(6); a smooth surface gives about 0 (its curvature in the image is small
    against sensor noise), an edge an outlier that the median absolute deviation ignores. In ``log``
    space s is the noise relative to depth wherever it is measured; in ``inverse`` space (1 / depth)
    noise of a * z^2 metres at depth z measures a at every depth.
    """
    _check_space(space)
    left, mid, right = _row_triples(depth)
    if len(mid) < 100:
        return 0.0
    if space == "log":
        second = (left - 2.0 * mid + right) / mid
    else:
        second = 1.0 / left - 2.0 / mid + 1.0 / right
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(6.0))
