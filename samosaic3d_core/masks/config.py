"""Which 2D mask source runs, and the settings of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from samosaic3d_core.masks.fastsam import FastSAMConfig
from samosaic3d_core.masks.oracle import OracleConfig
from samosaic3d_core.masks.oversegment import OversegmentConfig
from samosaic3d_core.masks.sim import SimConfig


@dataclass
class MaskConfig:
    """The mask source of the pipeline: ``source`` picks one; each has its own sub-config."""

    source: Literal["oversegment", "fastsam", "sim", "oracle"] = "oversegment"
    """"oversegment" (weight-free colour + depth segments, the default without weights), "fastsam"
    (FastSAM from ``fastsam.weights``), "sim" (SAM-like fragments of ground-truth parts, synthetic
    data only) or "oracle" (ground-truth instances, an upper bound)."""
    oversegment: OversegmentConfig = field(default_factory=OversegmentConfig)
    fastsam: FastSAMConfig = field(default_factory=FastSAMConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
