"""Edge-preserving smoothing of a depth image before anything reads it (``LiftConfig.depth_filter``).

Consumer RGB-D cameras measure depth with noise that grows with the square of the distance (a
Kinect-like sensor: about 2.5 mm at 1 m, 1 cm at 2 m). Lifted, it roughens every surface: normals
turn, the boundary planes of the room thicken, and touching objects lose the small depth steps
between them. KinectFusion (Newcombe et al., ISMAR 2011) filters raw depth with a bilateral filter
before it computes vertices and normals; so does the segmenter here, with the range kernel on the
logarithm of depth, so that its width is relative (``sigma_relative`` of the depth) as the noise
is, and a jump between an object and what lies behind it is kept. Pixels without a measurement
(0 or not finite) stay without one and do not take part.

How wide the range kernel should be depends on the sensor, so ``relative_noise`` measures it on
each frame: the spread of the second differences of depth along image rows, relative to depth
(robust: the median absolute deviation, so that object edges do not count). A rendered or
otherwise clean depth image measures about 0 and is left as it is.
"""

from __future__ import annotations

import cv2
import numpy as np


def bilateral_depth(depth: np.ndarray, radius: int, sigma_pixels: float, sigma_relative: float) -> np.ndarray:
    """``depth`` ((H, W) float32 metres, 0 = none) smoothed by a bilateral filter; a new array.

    Args:
        radius: half width of the window in pixels (0: ``depth`` returned as a copy).
        sigma_pixels: width of the spatial kernel in pixels.
        sigma_relative: width of the range kernel as a share of the depth (0.02: 2 cm at 1 m).
    """
    depth = np.asarray(depth, np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    if radius < 0 or sigma_pixels <= 0 or sigma_relative <= 0:
        raise ValueError(f"bilateral_depth needs radius >= 0 and positive sigmas, got {radius}, {sigma_pixels}, "
                         f"{sigma_relative}")
    valid = np.isfinite(depth) & (depth > 0)
    if radius == 0 or not valid.any():
        return depth.copy()
    log_depth = np.log(np.where(valid, depth, 1.0), dtype=np.float32)
    # pixels without depth lie far from every measurement in the range kernel (weight 0); near the
    # measured range, so that OpenCV's range table keeps its resolution
    far = float(log_depth[valid].max()) + 50.0 * sigma_relative
    log_depth[~valid] = far
    smoothed = cv2.bilateralFilter(log_depth, 2 * radius + 1, sigma_relative, sigma_pixels,
                                   borderType=cv2.BORDER_REPLICATE)
    return np.where(valid, np.exp(smoothed), depth).astype(np.float32)


def relative_noise(depth: np.ndarray) -> float:
    """Standard deviation of the depth noise relative to depth, measured on ``depth`` ((H, W) metres,
    0 = none) from the second differences along every fourth row (0.0 with too few valid triples).

    White noise of relative deviation s gives second differences (d[u-1] - 2 d[u] + d[u+1]) / d[u]
    of deviation s * sqrt(6); a smooth surface gives about 0 (its curvature in the image is small
    against sensor noise), an edge an outlier that the median absolute deviation ignores.
    """
    rows = np.asarray(depth, np.float64)[::4]
    left, mid, right = rows[:, :-2], rows[:, 1:-1], rows[:, 2:]
    valid = (left > 0) & (mid > 0) & (right > 0) & np.isfinite(left + mid + right)
    if valid.sum() < 100:
        return 0.0
    second = (left[valid] - 2.0 * mid[valid] + right[valid]) / mid[valid]
    return float(1.4826 * np.median(np.abs(second - np.median(second))) / np.sqrt(6.0))
