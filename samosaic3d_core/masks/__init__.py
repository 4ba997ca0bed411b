"""2D mask sources: ``frame -> MaskResult`` behind one protocol, built by name.

    sim          SAM-like fragments from ground-truth parts (training / synthetic evaluation)
    oversegment  weight-free colour + depth over-segmentation (default without weights)
    fastsam      ultralytics FastSAM from a user weights file
    oracle       ground-truth instances (upper bound)
"""

from __future__ import annotations

import dataclasses

from samosaic3d_core.masks.base import MaskSource, empty_result, fragment_map_from_masks, result_from_labels

MASK_SOURCES = ("sim", "oversegment", "fastsam", "oracle")


def _registry():
    from samosaic3d_core.masks.fastsam import FastSAMConfig, FastSAMMasks
    from samosaic3d_core.masks.oracle import OracleConfig, OracleMasks
    from samosaic3d_core.masks.oversegment import OversegmentConfig, OversegmentMasks
    from samosaic3d_core.masks.sim import SimConfig, SimMasks

    return {
        "sim": (SimMasks, SimConfig),
        "oversegment": (OversegmentMasks, OversegmentConfig),
        "fastsam": (FastSAMMasks, FastSAMConfig),
        "oracle": (OracleMasks, OracleConfig),
    }


def make_mask_source(name: str, **options) -> MaskSource:
    """The mask source ``name`` configured with ``options`` (fields of its config dataclass)."""
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown mask source {name!r}; choose one of {', '.join(MASK_SOURCES)}")
    source_cls, config_cls = registry[name]
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(f"mask source {name!r}: unknown option(s) {unknown}; known: {sorted(fields)}")
    if "score_range" in options:
        options = {**options, "score_range": tuple(options["score_range"])}
    return source_cls(config_cls(**options))


def build_mask_source(config) -> MaskSource:
    """The mask source a ``MaskConfig`` names, with its sub-config."""
    registry = _registry()
    if config.source not in registry:
        raise ValueError(f"unknown mask source {config.source!r}; choose one of {', '.join(MASK_SOURCES)}")
    source_cls, _ = registry[config.source]
    return source_cls(getattr(config, config.source))


def default_mask_source(weights: str | None = None, **options) -> MaskSource:
    """FastSAM when a weights file is given, else the weight-free over-segmentation."""
    if weights:
        return make_mask_source("fastsam", weights=weights, **options)
    return make_mask_source("oversegment", **options)


__all__ = [
    "MASK_SOURCES", "MaskSource", "build_mask_source", "default_mask_source", "empty_result", "fragment_map_from_masks",
    "make_mask_source", "result_from_labels",
]
