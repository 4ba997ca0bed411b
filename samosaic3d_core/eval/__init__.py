"""ScanNet-protocol class-agnostic 3D instance AP."""

from samosaic3d_core.eval.benchmark import (
    DUMP_KEYS, evaluate_directory, format_scene_line, read_eval_dump, scene_eval_input, write_eval_dump,
)
from samosaic3d_core.eval.config import EvalConfig
from samosaic3d_core.eval.instance_ap import (
    MIN_REGION_SIZE, OVERLAPS, ApResult, SceneEvalInput, SceneMatches, ap_entries, average_precision,
    evaluate_matches, evaluate_scenes, format_ap_line, match_scene,
)
from samosaic3d_core.eval.map_quality import ScoredMap, map_quality, score_map
from samosaic3d_core.eval.scene_points import ScenePoints, build_scene_points, prediction_masks, transfer_instances

__all__ = [
    "DUMP_KEYS", "MIN_REGION_SIZE", "OVERLAPS", "ApResult", "EvalConfig", "SceneEvalInput", "SceneMatches",
    "ScenePoints", "ScoredMap", "ap_entries", "average_precision", "build_scene_points", "evaluate_directory",
    "evaluate_matches", "evaluate_scenes", "format_ap_line", "format_scene_line", "map_quality", "match_scene",
    "prediction_masks", "read_eval_dump", "scene_eval_input", "score_map", "transfer_instances", "write_eval_dump",
]
