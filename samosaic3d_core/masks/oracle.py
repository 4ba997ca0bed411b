"""``oracle``: ground-truth instances as masks, the upper bound of every 2D mask source."""

from __future__ import annotations

from dataclasses import dataclass

from samosaic3d_core.masks.base import result_from_labels
from samosaic3d_core.types import Frame, MaskResult


@dataclass
class OracleConfig:
    min_area: int = 1
    """Instance regions with fewer pixels are left out."""


class OracleMasks:
    """One mask per ground-truth instance visible in the frame (score 1); needs ``frame.instance_gt``."""

    def __init__(self, config: OracleConfig | None = None):
        self.config = config or OracleConfig()

    def __call__(self, frame: Frame) -> MaskResult:
        if frame.instance_gt is None:
            raise ValueError(
                f"frame {frame.index}: the oracle mask source needs ground-truth instance images "
                "(instance/*.png); this scene has none"
            )
        return result_from_labels(frame.instance_gt, 1.0, self.config.min_area)
