"""Where a frame's time goes: the learned pipeline's stages, the Python functions under them, and the
torch operators of the frame model, measured on one generated scene in one run.

    python bench/profile_step.py                       # 60 frames 320x240, sim masks, seed 7
    python bench/profile_step.py --masks oversegment --width 640 --height 480 --out out/bench/profile_640.md

Three passes over the same frames (the map is reset before each, the first frames warm up caches):
1. stage wall times from ``StepResult.timings`` (no profiler attached);
2. ``cProfile`` over every ``step``: functions by cumulative time per frame, grouped under the stage
   they belong to (deterministic profiling inflates functions that make many small calls, so read it
   for where, and pass 1 for how long);
3. ``torch.profiler`` over the frame model: operators by self CPU time per frame.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import time
from pathlib import Path

import numpy as np
from common import write_report

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

STAGES = ("refine", "masks", "lift", "frame_model", "associate", "memory")
WARMUP = 3


def frames_of(args) -> list:
    scene = generate_scene(SynthConfig(frames=args.frames, width=args.width, height=args.height), seed=args.seed)
    return list(scene)


def stage_times(seg: OnlineSegmenter, frames) -> dict[str, np.ndarray]:
    """ms per stage and per whole step for every frame after the warm-up ones."""
    seg.reset()
    out: dict[str, list[float]] = {}
    for i, frame in enumerate(frames):
        started = time.perf_counter()
        result = seg.step(frame)
        elapsed = time.perf_counter() - started
        if i < WARMUP:
            continue
        for key in STAGES:
            out.setdefault(key, []).append(result.timings.get(key, 0.0) * 1e3)
        out.setdefault("step", []).append(elapsed * 1e3)
    return {key: np.asarray(v) for key, v in out.items()}


def python_profile(seg: OnlineSegmenter, frames, top: int) -> list[tuple[str, float, float, int]]:
    """(function, cumulative ms per frame, own ms per frame, calls per frame) of the ``top`` costliest."""
    seg.reset()
    for frame in frames[:WARMUP]:
        seg.step(frame)
    profiler = cProfile.Profile()
    counted = frames[WARMUP:]
    for frame in counted:
        profiler.enable()
        seg.step(frame)
        profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    root = str(Path(__file__).resolve().parents[1])
    for (filename, line, name), (calls, _, own, cumulative, _) in stats.stats.items():
        where = filename.replace(root + os.sep, "")
        if "site-packages" in where:
            where = "…/" + where.split("site-packages" + os.sep, 1)[1]
        rows.append((f"{where}:{line}({name})", cumulative * 1e3 / len(counted), own * 1e3 / len(counted),
                     round(calls / len(counted))))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def torch_profile(seg: OnlineSegmenter, frames, top: int) -> list[tuple[str, float, int]]:
    """(operator, self CPU ms per frame, calls per frame) inside the frame model."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    seg.reset()
    for frame in frames[:WARMUP]:
        seg.step(frame)
    counted = frames[WARMUP:]
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        for frame in counted:
            seg.step(frame)
    rows = [(e.key, e.self_cpu_time_total / 1e3 / len(counted), round(e.count / len(counted)))
            for e in prof.key_averages()]
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def report(args, config: SegmenterConfig, times, py_rows, torch_rows) -> str:
    import torch

    step = times["step"]
    lines = [
        f"# Profile of `OnlineSegmenter.step`: {args.frames} frames {args.width}x{args.height}, seed {args.seed}, "
        f"pipeline {config.pipeline}, masks {config.masks.source}",
        "",
        f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"device {config.device}, Python {platform.python_version()}. First {WARMUP} frames not counted.",
        "",
        "## 1. Stages (wall clock, no profiler)",
        "",
        "| stage | mean ms | median ms | p95 ms | share of step |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in (*STAGES, "step"):
        v = times[key]
        lines.append(f"| {key} | {v.mean():.1f} | {np.median(v):.1f} | {np.percentile(v, 95):.1f} | "
                     f"{v.mean() / step.mean():.0%} |")
    if py_rows:
        lines += [
            "",
            "## 2. Python functions (cProfile, per frame, by cumulative time)",
            "",
            "| function | cumulative ms | own ms | calls |",
            "|---|---:|---:|---:|",
            *[f"| `{name}` | {cum:.1f} | {own:.1f} | {calls} |" for name, cum, own, calls in py_rows],
        ]
    if torch_rows:
        lines += [
            "",
            "## 3. Torch operators (torch.profiler, per frame, by self CPU time)",
            "",
            "| operator | self CPU ms | calls |",
            "|---|---:|---:|",
            *[f"| `{name}` | {ms:.2f} | {calls} |" for name, ms, calls in torch_rows],
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--masks", default="sim", help="mask source (sim needs the generated ground truth)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="segmenter overrides")
    parser.add_argument("--stages-only", action="store_true", help="pass 1 alone (no profilers)")
    parser.add_argument("--top", type=int, default=30, help="rows of the function and operator tables")
    parser.add_argument("--out", type=Path, default=Path("out/bench/profile.md"))
    args = parser.parse_args(argv)

    from samosaic3d_core.config import parse_overrides

    if args.frames <= WARMUP:
        parser.error(f"--frames must be more than the {WARMUP} warm-up frames")
    flat = {"masks.source": args.masks, **({"masks.sim.seed": 12345} if args.masks == "sim" else {}),
            **parse_overrides(args.set)}
    config = SegmenterConfig.from_flat(flat)
    seg = OnlineSegmenter.from_config(config)
    frames = frames_of(args)
    print(f"{len(frames)} frames; 1. stages ...", flush=True)
    times = stage_times(seg, frames)
    py_rows, torch_rows = [], []
    if not args.stages_only:
        print("2. cProfile ...", flush=True)
        py_rows = python_profile(seg, frames, args.top)
        print("3. torch.profiler ...", flush=True)
        torch_rows = torch_profile(seg, frames, args.top)
    text = report(args, seg.config, times, py_rows, torch_rows)
    write_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
