"""Score a map against a bag's ground-truth instance images: what ``eval-bag`` and ``segment-bag`` print and save.

AP / AP50 / AP25 by the ScanNet protocol (``samosaic3d evaluate``) and the map quality
(``samosaic3d_core.eval.map_quality``) on the scene points of the bag's frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from samosaic3d_core.eval import (
    ApResult, EvalConfig, ScenePoints, ScoredMap, ap_entries, build_scene_points, evaluate_scenes, format_ap_line,
    score_map,
)
from samosaic3d_core.types import Frame, SceneMap
from samosaic3d_ros.params import NodeParams


@dataclass
class BagScore:
    """A map scored on a bag's frames."""

    ap: ApResult
    quality: dict
    """map_instances, label_noise, object_instances, objects, label_noise_gt"""
    points: ScenePoints
    scored: ScoredMap

    def entries(self) -> dict:
        """AP, AP50, AP25 and the map quality, for a metrics.json."""
        return {**ap_entries(self.ap), **self.quality}

    def ap_line(self) -> str:
        """``AP=… AP50=… AP25=…``: the last line of the commands that score."""
        return format_ap_line(self.ap)


def score_bag(frames: Iterable[Frame], scene_map: SceneMap, params: NodeParams, voxel: float | None = None,
              name: str = "bag") -> BagScore:
    """Score ``scene_map`` on ``frames`` (with ``instance_gt``); ``voxel``: evaluation voxel size (m)."""
    config = EvalConfig() if voxel is None else EvalConfig(voxel_size=voxel)
    points = build_scene_points(frames, config)
    scored = score_map(points, scene_map, config, name=name)
    ap = evaluate_scenes([scored.eval_input], config.min_region_size)
    return BagScore(ap, scored.quality(params.segmenter.memory.map_voxel_size), points, scored)


def summary_line(mode: str, processed: int, frames: int, seconds: float, quality: dict) -> str:
    """``offline: 12/12 frames processed in 3.1 s, 9 map instances (...), label noise 0.0123``."""
    return (f"{mode}: {processed}/{frames} frames processed in {seconds:.1f} s, "
            f"{quality['map_instances']} map instances ({quality['object_instances']} object instances, "
            f"{quality['objects']} objects), label noise {quality['label_noise']:.4f}")
