"""``oversegment``: a weight-free mask source (graph-based colour segmentation cut at depth edges).

Felzenszwalb-Huttenlocher segmentation of the colour image (at reduced resolution for speed),
cut wherever depth jumps, split into connected pieces, and small pieces dropped. Sizes in pixels
(``min_size``, ``min_area``) are pixels of the image Felzenszwalb sees, which by default is about
320 pixels wide whatever the camera's resolution, so a piece covers the same share of the view at
320x240 as at 640x480. With
``reference_width`` a wide image is segmented at about that width and the pieces scaled back up
(faster, coarser). It over-segments
on purpose: like SAM, it returns object parts that the 3D stages must assemble. It needs no
weights, so it is the default wherever no FastSAM weights file is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.masks.base import depth_edges, label_counts, result_from_labels
from samosaic3d_core.masks.felzenszwalb import felzenszwalb
from samosaic3d_core.masks.regions import split_components
from samosaic3d_core.types import Frame, MaskResult

AUTO_SEGMENT_WIDTH = 320
"""Width in pixels of the image Felzenszwalb segments when ``downsample`` is 0 (automatic)."""


@dataclass
class OversegmentConfig:
    scale: float = 200.0
    """Felzenszwalb ``scale``: larger gives larger segments."""
    sigma: float = 0.6
    """Gaussian smoothing before segmentation (pixels of the reduced image)."""
    min_size: int = 40
    """Felzenszwalb ``min_size`` (pixels of the reduced image)."""
    downsample: int = 0
    """Segment an image this many times smaller per side (1 = full resolution); 0 = the whole factor
    that brings its width nearest 320 pixels (640x480 -> 2, 320x240 -> 1)."""
    depth_jump: float = 0.05
    """Cut segments where neighbouring depths differ by more than this fraction."""
    min_area: int = 25
    """Pieces with fewer pixels of the reduced image (after ``reference_width`` and ``downsample``)
    are dropped: 25 is 100 pixels of a 640x480 image and 25 of a 320x240 one."""
    reference_width: int = 0
    """Segment a wide image at about this width: it is first subsampled by the whole factor that
    brings it nearest (640 -> 320 with 320), and its pieces are scaled back up, so depth edges and
    piece borders are found at the coarser size (faster). 0 = the image's own resolution."""

    def __post_init__(self):
        if self.downsample < 0 or self.min_area < 1 or self.reference_width < 0:
            raise ValueError("OversegmentConfig.min_area must be >= 1, downsample and reference_width >= 0")


class OversegmentMasks:
    """Colour + depth over-segmentation; scores grow with a piece's area (large = more object-like)."""

    def __init__(self, config: OversegmentConfig | None = None):
        self.config = config or OversegmentConfig()

    def __call__(self, frame: Frame) -> MaskResult:
        h, w = frame.shape
        factor = max(1, round(w / self.config.reference_width)) if self.config.reference_width else 1
        if factor == 1:
            labels, scores = self._segment(frame.rgb, frame.depth)
            return result_from_labels(labels, scores, self._min_pixels(w))
        labels, scores = self._segment(frame.rgb[::factor, ::factor], frame.depth[::factor, ::factor])
        labels = np.where(np.isin(labels, np.fromiter(scores, np.int64, len(scores))), labels, 0)  # small pieces out
        labels = np.repeat(np.repeat(labels, factor, axis=0), factor, axis=1)[:h, :w]
        labels = np.where(depth_edges(frame.depth, self.config.depth_jump), 0, labels)  # no piece across a depth jump
        return result_from_labels(labels, scores)

    def _step(self, width: int) -> int:
        """Subsampling per side of an image ``width`` pixels wide before Felzenszwalb."""
        return self.config.downsample or max(1, round(width / AUTO_SEGMENT_WIDTH))

    def _min_pixels(self, width: int) -> int:
        """``min_area`` in pixels of an image ``width`` pixels wide (it counts pixels of the reduced image)."""
        return self.config.min_area * self._step(width) ** 2

    def _segment(self, rgb: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        """Label image of ``rgb`` and the score of each label with at least ``min_area`` reduced pixels."""
        cfg = self.config
        h, w = depth.shape
        step = self._step(w)
        seg = felzenszwalb(rgb[::step, ::step], cfg.scale, cfg.sigma, cfg.min_size) + 1
        seg = np.repeat(np.repeat(seg, step, axis=0), step, axis=1)[:h, :w]
        seg = np.where(depth_edges(depth, cfg.depth_jump), 0, seg)
        labels = split_components(seg)
        ids, counts = label_counts(labels)
        big = counts >= self._min_pixels(w)
        area = counts[big].astype(np.float64) / float(h * w)
        score = np.clip(0.5 + 0.1 * np.log10(np.maximum(area, 1e-6) * 1e4), 0.05, 1.0)
        return labels, dict(zip(ids[big].tolist(), score.tolist()))
