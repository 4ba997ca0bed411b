"""Score a folder of saved maps against a folder of scenes with ground truth.

``<pred>/<scene>.npz`` (a map file) is scored against scene ``<data>/<scene>``. A scene
without a map file is an error unless ``EvalConfig.skip_missing`` is set, because a
benchmark over fewer scenes is not comparable. The benchmark AP pools the matches of
all scenes before integrating, as the ScanNet script does; it is not a mean of scene APs.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from samosaic3d_core.eval.config import EvalConfig
from samosaic3d_core.eval.instance_ap import ApResult, SceneEvalInput, evaluate_matches, format_ap_line, match_scene
from samosaic3d_core.eval.map_quality import ScoredMap, score_map
from samosaic3d_core.eval.scene_points import build_scene_points
from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.types import Frame, SceneMap

DUMP_KEYS = ("gt_instance", "pred_masks", "pred_scores")
"""The arrays of a dump file, and nothing else."""


def scene_eval_input(frames: Iterable[Frame], scene_map: SceneMap, config: EvalConfig, name: str) -> SceneEvalInput:
    """Scene points from ``frames`` with their ground truth, and ``scene_map`` transferred onto them."""
    return score_map(build_scene_points(frames, config), scene_map, config, name).eval_input


def write_eval_dump(path: str | os.PathLike, scene: SceneEvalInput) -> None:
    """Write what is scored for a scene: ``gt_instance`` (N,) int64, ``pred_masks`` (K, N) bool,
    ``pred_scores`` (K,) float64, atomically, as an uncompressed .npz with exactly these keys."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                gt_instance=np.asarray(scene.gt_instance, np.int64),
                pred_masks=np.asarray(scene.pred_masks, np.bool_),
                pred_scores=np.asarray(scene.pred_scores, np.float64),
            )


def read_eval_dump(path: str | os.PathLike) -> SceneEvalInput:
    """Read a file written by ``write_eval_dump``; ValueError naming ``path`` if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(data.files) != sorted(DUMP_KEYS):
                raise ValueError(f"keys {sorted(data.files)}, expected {sorted(DUMP_KEYS)}")
            scene = SceneEvalInput(data["gt_instance"], data["pred_masks"], data["pred_scores"], name=str(path))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not an evaluation dump ({exc})") from exc
    return scene.validate()


def format_scene_line(name: str, result: ApResult) -> str:
    """One line per scene: name, scored ground-truth instances and predictions, scene AP."""
    return f"{name}  gt={result.num_gt}  pred={result.num_pred}  {format_ap_line(result)}"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def evaluate_directory(
    data_root: str | os.PathLike,
    pred_root: str | os.PathLike,
    config: Optional[EvalConfig] = None,
    dump_dir: str | os.PathLike | None = None,
    *,
    on_scene: Optional[Callable[[str, ApResult], None]] = None,
    on_map: Optional[Callable[[str, ScoredMap], None]] = None,
    on_warning: Callable[[str], None] = _warn,
) -> ApResult:
    """Pooled AP of the maps in ``pred_root`` over the scenes of ``data_root``.

    dump_dir: if given, ``<dump_dir>/<scene>.npz`` (see ``write_eval_dump``) per scene.
    on_scene: called with (scene name, that scene's ApResult) after each scene.
    on_map: called with (scene name, the map scored on the scene's points) before each scene's AP,
    e.g. for its ``quality``.
    on_warning: receives the message for each skipped scene (``config.skip_missing``).
    Raises FileNotFoundError for a missing map (unless skipping) and ValueError when no
    scene was scored or an input file is malformed.
    """
    from samosaic3d_core.data.scannet import SceneReader, list_scenes
    from samosaic3d_core.io.scene_map import read_scene_map

    config = config or EvalConfig()
    data_root, pred_root = Path(data_root), Path(pred_root)
    scene_dirs = list_scenes(data_root)
    if not scene_dirs:
        raise ValueError(f"{data_root}: no scenes found; point --data at a folder of scene folders")
    matches = []
    for scene_dir in scene_dirs:
        name = Path(scene_dir).name
        map_path = pred_root / f"{name}.npz"
        if not map_path.is_file():
            if config.skip_missing:
                on_warning(f"skipping scene {name}: no map file {map_path}")
                continue
            raise FileNotFoundError(
                f"no map for scene {name}: expected {map_path}; run 'samosaic3d run' on it "
                f"or pass --skip-missing to score only the scenes that have maps"
            )
        scored = score_map(build_scene_points(SceneReader(scene_dir), config), read_scene_map(map_path), config, name)
        if on_map is not None:
            on_map(name, scored)
        scene = scored.eval_input
        if dump_dir is not None:
            write_eval_dump(Path(dump_dir) / f"{name}.npz", scene)
        scene_matches = match_scene(scene, config.min_region_size)
        matches.append(scene_matches)
        if on_scene is not None:
            on_scene(name, evaluate_matches([scene_matches]))
    if not matches:
        raise ValueError(f"no scene of {data_root} has a map file in {pred_root}")
    return evaluate_matches(matches)
