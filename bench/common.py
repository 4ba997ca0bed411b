"""Shared pieces of the benchmark scripts: data generation, one pipeline over scenes, a table row."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from samosaic3d_core.cli.run import segment_scene
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import EvalConfig, evaluate_directory
from samosaic3d_core.model.frame_model import F2IFrameModel
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

MASK_SEED = 12345
"""Seed of the ``sim`` masks in every benchmark, so that all variants see the same masks."""


def ensure_scenes(root: Path, scenes: int, frames: int, seed: int, width: int, height: int, extra=()) -> Path:
    """Generate ``root`` with ``samosaic3d make-data`` unless it already holds ``scenes`` scenes."""
    if root.is_dir() and len(list_scenes(root)) >= scenes:
        return root
    cmd = [sys.executable, "-m", "samosaic3d_core.cli.main", "make-data", "--out", str(root), "--scenes", str(scenes),
           "--frames", str(frames), "--seed", str(seed), "--width", str(width), "--height", str(height), "--quiet",
           *extra]
    subprocess.run(cmd, check=True)
    return root


def style_flags(style: str) -> list[str]:
    """``make-data`` flags of a scene style (``default`` needs none)."""
    return [] if style == "default" else ["--style", style]


def made_with(seed: int, extra=(), width: int = 320, height: int = 240) -> str:
    """How scenes were generated, for a report's title: ``make-data --seed 310 --style hard, 320x240``."""
    return f"make-data --seed {seed}{''.join(' ' + flag for flag in extra)}, {width}x{height}"


@dataclass
class Row:
    name: str
    ap: float
    ap50: float
    ap25: float
    fps: float
    frames: int

    def markdown(self) -> str:
        return (f"| {self.name} | {100 * self.ap:.1f} | {100 * self.ap50:.1f} | {100 * self.ap25:.1f} | "
                f"{self.fps:.1f} |")


def write_report(text: str, path: Path) -> None:
    """Print a benchmark's markdown report and write it to ``path``."""
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"written {path}")


HEADER = "| variant | AP | AP50 | AP25 | FPS (CPU) |\n|---|---|---|---|---|"


def cost_setup(argv, description: str) -> tuple[argparse.Namespace, list[list], dict]:
    """What a per-frame cost benchmark starts from: its options (--data, --scenes, --repeats), the
    frames of its validation scenes (generated when missing) and the settings every variant shares
    (``sim`` masks of ``MASK_SEED``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/synth/val"))
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    data = ensure_scenes(args.data, args.scenes, 60, 200, 320, 240)
    scenes = [list(SceneReader(d)) for d in list_scenes(data)[: args.scenes]]
    return args, scenes, {"masks.source": "sim", "masks.sim.seed": MASK_SEED}


def time_steps(seg: OnlineSegmenter, frames, stages: tuple[str, ...]) -> tuple[float, float]:
    """Seconds of all steps over ``frames`` (segmenter reset first) and of their ``stages`` together."""
    seg.reset()
    total = staged = 0.0
    for frame in frames:
        started = time.perf_counter()
        result = seg.step(frame)
        total += time.perf_counter() - started
        staged += sum(result.timings[stage] for stage in stages)
    return total, staged


def run_variant(name: str, config: SegmenterConfig, data: Path, out: Path, stride: int = 1,
                score_on: Path | None = None) -> Row:
    """Segment every scene of ``data`` with ``config``, write maps under ``out/<name>``, score them on
    the scenes of ``score_on`` of the same names (default ``data``: e.g. the noise-free renders of
    scenes ``data`` holds with noisy depth)."""
    seg = OnlineSegmenter.from_config(config)
    pred = out / name.replace(" ", "_").replace("/", "-")
    frames, seconds = 0, 0.0
    for scene_dir in list_scenes(data):
        reader = SceneReader(scene_dir, stride=stride)
        started = time.perf_counter()
        stats = segment_scene(seg, reader.name, iter(reader), pred)
        seconds += time.perf_counter() - started
        frames += stats.frames
    result = evaluate_directory(score_on or data, pred, EvalConfig())
    return Row(name, result.ap, result.ap50, result.ap25, frames / max(seconds, 1e-9), frames)


@contextmanager
def frame_model_wrapped(wrap):
    """Within the block, every F2IFrameModel segments a frame with ``wrap(frame_model, frame, points,
    fragments)`` in place of its F2I model (a callable like the model: a list of inputs to a list of
    predictions, with the model's ``backbone``); restored after each frame and after the block."""
    segment = F2IFrameModel._segment

    def wrapped_segment(frame_model, frame, points, fragments):
        model = frame_model.model
        frame_model.model = wrap(frame_model, frame, points, fragments)
        try:
            return segment(frame_model, frame, points, fragments)
        finally:
            frame_model.model = model

    F2IFrameModel._segment = wrapped_segment
    try:
        yield
    finally:
        F2IFrameModel._segment = segment
