"""``samosaic3d run``: the online pipeline over dataset scenes; writes one map per scene, then scores them.

For each scene: ``OUT/<scene>.npz`` (the map file ``samosaic3d evaluate`` reads) and
``OUT/<scene>.ply`` (points coloured by instance), and one timing line per scene on stderr.
``OUT/metrics.json`` holds, per scene and as the mean over scenes, map_instances and label_noise
(``samosaic3d_core.eval.map_quality``), with ground truth also object_instances, objects,
label_noise_gt (the same noise measured on the ground truth) and the scene's AP, and then the
pooled AP/AP50/AP25. When the frames carry ground truth, the ScanNet-protocol AP line is printed
last, on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import yaml

from samosaic3d_core.cli.main import one_line
from samosaic3d_core.colors import id_colors
from samosaic3d_core.config import parse_overrides
from samosaic3d_core.io.scene_map import read_scene_map, write_ply, write_scene_map
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from samosaic3d_core.types import Frame

STAGES = ("refine", "masks", "lift", "frame_model", "associate", "memory")
MEAN_ENTRIES = ("map_instances", "label_noise", "label_noise_gt", "object_instances", "objects", "ate_tracker",
                "ate_fused", "refined_frames")
"""Per-scene metrics.json entries that are also averaged over the scenes."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="dataset root holding one folder per scene")
    parser.add_argument("--out", required=True, type=Path, help="output folder for <scene>.npz and <scene>.ply")
    parser.add_argument("--masks", choices=("sim", "oversegment", "fastsam", "oracle"),
                        help="mask source (default oversegment)")
    parser.add_argument("--pipeline", choices=("auto", "baseline", "learned"),
                        help="segmentation pipeline (auto: learned with the shipped weights if present, else baseline)")
    parser.add_argument("--weights", type=Path, help="weights of the mask model (e.g. FastSAM .pt)")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint of the learned pipeline (.safetensors)")
    parser.add_argument("--merging", choices=("auto", "heuristic", "learned", "untrained"),
                        help="learned pipeline's merging: heuristic, learned (F2I + I2S checkpoint), untrained "
                             "(I2S with its initial weights), auto (learned when the checkpoint has an I2S part)")
    parser.add_argument("--device", help="torch device of learned parts: auto (default), cpu, cuda, ...")
    parser.add_argument("--config", type=Path, help="segmenter configuration (YAML, nested as `samosaic3d_core."
                                                    "pipeline.SegmenterConfig`); the flags above override it")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                        help="one setting by dotted name, e.g. --set lift.voxel_size=0.03 (repeatable; last wins)")
    parser.add_argument("--scenes", type=int, help="process only the first N scenes")
    parser.add_argument("--frames-per-scene", type=int, help="process at most N frames of each scene (after --stride)")
    parser.add_argument("--stride", type=int, default=1, help="use every K-th frame")


def segmenter_config(args: argparse.Namespace) -> SegmenterConfig:
    """The ``--config`` file (or the defaults), then the flags, then each ``--set``."""
    flags = {"pipeline": args.pipeline, "masks.source": args.masks, "checkpoint": args.checkpoint,
             "merging": args.merging, "device": args.device, "masks.fastsam.weights": args.weights}
    return compose_config(args.config, flags, args.set)


def compose_config(config_file: Path | None, flags: dict, sets: list[str],
                   base: SegmenterConfig | None = None) -> SegmenterConfig:
    """``base`` (or the defaults), then the YAML ``config_file`` (nested), then ``flags`` by dotted
    name (empty ones left out), then each ``NAME=VALUE`` of ``sets``; ValueError names the source."""
    config = base or SegmenterConfig()
    if config_file:
        try:
            values = yaml.safe_load(Path(config_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"--config {config_file}: cannot read it ({exc})") from exc
        config = SegmenterConfig.from_dict(values, f"--config {config_file}", base=config)
    flags = {name: str(value) if isinstance(value, Path) else value for name, value in flags.items() if value}
    config = SegmenterConfig.from_flat(flags, "flags", base=config)
    return SegmenterConfig.from_flat(parse_overrides(sets), "--set", base=config)


@dataclass
class SceneStats:
    """What one scene's run measured."""

    name: str
    frames: int = 0
    skipped: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # summed per stage
    instances: int = 0
    points: int = 0
    has_ground_truth: bool = False
    paths: list[tuple] = field(default_factory=list)  # (tracker, fused, true) pose of each frame with a true pose
    refined: int = 0
    refine_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # frames per outcome

    @property
    def fps(self) -> float:
        """Frames per second of the whole step (NaN before any timed frame)."""
        total = self.seconds.get("total", 0.0)
        return self.frames / total if total > 0 else float("nan")

    def entries(self) -> dict:
        """The scene's metrics.json entries known without scoring: frames, skipped, fps, map_points."""
        fps = None if self.fps != self.fps else round(self.fps, 2)
        entries = {"frames": self.frames, "skipped": self.skipped, "fps": fps, "map_points": self.points,
                   "refined_frames": self.refined, "refine_status": dict(sorted(self.refine_status.items()))}
        if self.paths and len(self.paths) == self.frames:
            entries.update(path_entries(*map(np.stack, zip(*self.paths))))
        return entries

    def line(self) -> str:
        """``scene0000_00: 40 frames, 9.8 FPS, ms/frame masks 60.1 lift 3.2 ... | 25 instances, 80123 points``"""
        n = max(self.frames, 1)
        stages = " ".join(f"{s} {1000 * self.seconds.get(s, 0.0) / n:.1f}" for s in STAGES)
        skipped = f" ({self.skipped} skipped)" if self.skipped else ""
        return (
            f"{self.name}: {self.frames} frames{skipped}, {self.fps:.1f} FPS, ms/frame {stages} "
            f"| {self.instances} instances, {self.points} points"
        )


def select_frames(reader, stride: int, limit: int | None) -> Iterator[Frame]:
    """Every ``stride``-th frame of ``reader``, at most ``limit``; indexes the reader when it can."""
    if stride < 1:
        raise ValueError(f"--stride must be >= 1, got {stride}")
    if hasattr(reader, "__getitem__") and hasattr(reader, "__len__"):
        indices = range(0, len(reader), stride)
        for i in indices if limit is None else indices[:limit]:
            yield reader[i]
    else:
        yield from islice(iter(reader), 0, None if limit is None else limit * stride, stride)


def segment_scene(seg: OnlineSegmenter, name: str, frames: Iterable[Frame], out_dir: Path, total: int | None = None) -> SceneStats:
    """Run ``seg`` (reset first) over ``frames``; write ``out_dir/<name>.npz`` and ``.ply``."""
    from tqdm import tqdm

    seg.reset()
    stats = SceneStats(name)
    for frame in tqdm(frames, total=total, desc=name, unit="frame", leave=False):
        try:
            frame.validate(f"{name} frame {frame.index}")
        except ValueError as exc:  # e.g. ScanNet frames with lost tracking (pose of -inf)
            tqdm.write(f"warning: skipping {exc}", file=sys.stderr)
            stats.skipped += 1
            continue
        result = seg.step(frame)
        correction = result.pose_correction
        if correction is not None:
            stats.refined += int(correction.refined)
            stats.refine_status[correction.status] += 1
            if frame.true_pose is not None:
                stats.paths.append((correction.tracker_pose, correction.pose, frame.true_pose))
        for stage, seconds in result.timings.items():
            stats.seconds[stage] += seconds
        stats.frames += 1
        stats.has_ground_truth |= frame.instance_gt is not None
    scene_map = seg.map()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_scene_map(out_dir / f"{name}.npz", scene_map)
    write_ply(out_dir / f"{name}.ply", scene_map.xyz, id_colors(scene_map.instance_ids), scene_map.instance_ids)
    stats.instances = len(seg.instances())
    stats.points = len(scene_map)
    return stats


def run(args: argparse.Namespace) -> int:
    try:
        from samosaic3d_core.data.scannet import SceneReader, list_scenes
    except ImportError as exc:
        print(f"samosaic3d run: the dataset reader is not available ({exc})", file=sys.stderr)
        return 2
    try:
        scenes = list_scenes(args.data)
        if not scenes:
            raise ValueError(f"{args.data}: no scenes found (expected one folder per scene)")
        scenes = scenes[: args.scenes] if args.scenes else scenes
        config = segmenter_config(args)
        seg = OnlineSegmenter.from_config(config)
        has_ground_truth, scene_entries = False, {}
        for scene_dir in scenes:
            reader = SceneReader(scene_dir)
            total = len(range(0, len(reader), args.stride)) if hasattr(reader, "__len__") else None
            if total is not None and args.frames_per_scene:
                total = min(total, args.frames_per_scene)
            frames = select_frames(reader, args.stride, args.frames_per_scene)
            stats = segment_scene(seg, reader.name, frames, args.out, total)
            print(stats.line(), file=sys.stderr)
            has_ground_truth |= stats.has_ground_truth
            scene_entries[stats.name] = stats.entries()
    except (ValueError, NotImplementedError) as exc:
        print(f"samosaic3d run: {one_line(exc)}", file=sys.stderr)
        return 2
    voxel_size = config.memory.map_voxel_size
    if has_ground_truth:
        evaluation = _evaluate(args.data, args.out, voxel_size)
    else:
        evaluation = Evaluation(scenes={name: _quality_without_ground_truth(args.out / f"{name}.npz", voxel_size)
                                        for name in scene_entries})
    for name, entries in evaluation.scenes.items():
        scene_entries.setdefault(name, {}).update(entries)
    metrics = {**evaluation.entries, "scenes": scene_entries, "mean": mean_entries(scene_entries.values())}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"metrics: {args.out / 'metrics.json'} (mean over {len(scene_entries)} scenes: "
          + ", ".join(f"{name} {value}" for name, value in metrics["mean"].items()) + ")", file=sys.stderr)
    if evaluation.ap_line is not None:
        print(evaluation.ap_line)
    return evaluation.code


def path_entries(tracker: np.ndarray, fused: np.ndarray, true: np.ndarray) -> dict:
    """ATE (m) and RPE (m, deg) of the tracker's poses and of the poses the frames were fused with."""
    from samosaic3d_core.eval.trajectory import ate, rpe

    out = {}
    for name, poses in (("tracker", tracker), ("fused", fused)):
        rpe_m, rpe_deg = rpe(poses, true)
        out.update({f"ate_{name}": round(ate(poses, true), 5), f"rpe_{name}_m": round(rpe_m, 5),
                    f"rpe_{name}_deg": round(rpe_deg, 4)})
    return out


def mean_entries(scenes: Iterable[dict]) -> dict:
    """The mean over ``scenes`` of each of ``MEAN_ENTRIES`` that every scene has, to 4 decimals."""
    scenes = list(scenes)
    return {name: round(sum(s[name] for s in scenes) / len(scenes), 4)
            for name in MEAN_ENTRIES if scenes and all(name in s for s in scenes)}


@dataclass
class Evaluation:
    """What scoring the written maps gave: the AP line to print, pooled and per-scene metrics.json entries."""

    code: int = 0
    ap_line: str | None = None
    entries: dict = field(default_factory=dict)
    scenes: dict[str, dict] = field(default_factory=lambda: defaultdict(dict))


def _evaluate(data_root: Path, pred_root: Path, voxel_size: float) -> Evaluation:
    """Score the written maps: pooled AP, and per scene its AP and map quality (maps on ``voxel_size``)."""
    try:
        from samosaic3d_core.eval import ap_entries, evaluate_directory, format_ap_line
    except ImportError as exc:
        print(f"samosaic3d run: maps written; evaluation not available ({exc})", file=sys.stderr)
        return Evaluation()
    evaluation = Evaluation()
    try:
        result = evaluate_directory(
            data_root, pred_root,
            on_map=lambda name, scored: evaluation.scenes[name].update(scored.quality(voxel_size)),
            on_scene=lambda name, scene_result: evaluation.scenes[name].update(ap_entries(scene_result)),
        )
    except ValueError as exc:
        print(f"samosaic3d run: maps written; evaluation failed: {exc}", file=sys.stderr)
        return Evaluation(code=2)
    evaluation.ap_line, evaluation.entries = format_ap_line(result), ap_entries(result)
    return evaluation


def _quality_without_ground_truth(map_path: Path, voxel_size: float) -> dict:
    """map_instances and label_noise of a written map (object counts need ground truth)."""
    from samosaic3d_core.eval.map_quality import map_quality

    return map_quality(read_scene_map(map_path), None, None, voxel_size)
