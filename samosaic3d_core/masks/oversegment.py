"""``oversegment``: a weight-free mask source (graph-based colour segmentation cut at depth edges).

Felzenszwalb-Huttenlocher segmentation of the colour image (at reduced resolution for speed),
cut wherever depth jumps, split into connected pieces, and small pieces dropped. It over-segments
on purpose: like SAM, it returns object parts that the 3D stages must assemble. It needs no
weights, so it is the default wherever no FastSAM weights file is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.segmentation import felzenszwalb

from samosaic3d_core.masks.base import depth_edges, result_from_labels
from samosaic3d_core.masks.regions import split_components
from samosaic3d_core.types import Frame, MaskResult


@dataclass
class OversegmentConfig:
    scale: float = 200.0
    """Felzenszwalb ``scale``: larger gives larger segments."""
    sigma: float = 0.6
    """Gaussian smoothing before segmentation (pixels of the reduced image)."""
    min_size: int = 40
    """Felzenszwalb ``min_size`` (pixels of the reduced image)."""
    downsample: int = 2
    """Segment an image this many times smaller per side (1 = full resolution)."""
    depth_jump: float = 0.05
    """Cut segments where neighbouring depths differ by more than this fraction."""
    min_area: int = 100
    """Pieces with fewer pixels (full resolution) are dropped."""

    def __post_init__(self):
        if self.downsample < 1 or self.min_area < 1:
            raise ValueError("OversegmentConfig.downsample and min_area must be >= 1")


class OversegmentMasks:
    """Colour + depth over-segmentation; scores grow with a piece's area (large = more object-like)."""

    def __init__(self, config: OversegmentConfig | None = None):
        self.config = config or OversegmentConfig()

    def __call__(self, frame: Frame) -> MaskResult:
        cfg = self.config
        h, w = frame.shape
        step = cfg.downsample
        small = frame.rgb[::step, ::step]
        seg = felzenszwalb(small, scale=cfg.scale, sigma=cfg.sigma, min_size=cfg.min_size) + 1
        seg = np.repeat(np.repeat(seg, step, axis=0), step, axis=1)[:h, :w]
        seg = np.where(depth_edges(frame.depth, cfg.depth_jump), 0, seg)
        labels = split_components(seg)
        ids, counts = np.unique(labels[labels > 0], return_counts=True)
        big = counts >= cfg.min_area
        area = counts[big].astype(np.float64) / float(h * w)
        score = np.clip(0.5 + 0.1 * np.log10(np.maximum(area, 1e-6) * 1e4), 0.05, 1.0)
        scores = dict(zip(ids[big].tolist(), score.tolist()))
        return result_from_labels(labels, scores, cfg.min_area)
