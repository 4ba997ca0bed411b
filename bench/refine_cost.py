"""Cost of frame-to-map pose refinement, in one run (alternating on and off over the same frames).

    python bench/refine_cost.py                     # validation scenes with the vio tracking error
    python bench/refine_cost.py --max-points 5000 --scenes 1

Prints the refine stage's ms/frame (mean and 95th percentile; ``refine.max_points`` map voxels per
frame, 10000 by default) and the whole step's ms/frame with refinement off and on, with their ratio,
and on with every output published through the anchor's fit (``refine.anchor: tracker_mean``, the
most the anchor can cost: ``auto`` publishes through it only when the poses jitter).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from common import MASK_SEED, ensure_scenes

from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig


def run_once(seg: OnlineSegmenter, frames) -> tuple[float, list[float]]:
    """Seconds of all steps and the refine stage's seconds per frame (segmenter reset first)."""
    seg.reset()
    total, refine = 0.0, []
    for frame in frames:
        started = time.perf_counter()
        result = seg.step(frame)
        total += time.perf_counter() - started
        if result.pose_correction.status not in ("off", "not_started", "no_map"):
            refine.append(result.timings["refine"])
    return total, refine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/synth/val_vio"))
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-points", type=int, default=10000, help="refine.max_points")
    args = parser.parse_args(argv)
    data = ensure_scenes(args.data, args.scenes, 60, 200, 320, 240, ["--pose-error", "vio"])
    scenes = [list(SceneReader(d)) for d in list_scenes(data)[: args.scenes]]
    base = {"masks.source": "sim", "masks.sim.seed": MASK_SEED, "refine.max_points": args.max_points}
    variants = {"off": {"refine.enabled": False}, "on": {"refine.enabled": True},
                "anchored": {"refine.enabled": True, "refine.anchor": "tracker_mean"}}
    segs = {name: OnlineSegmenter.from_config(SegmenterConfig.from_flat({**base, **flat}))
            for name, flat in variants.items()}
    totals, frames_run, refine = dict.fromkeys(segs, 0.0), 0, []
    for _ in range(args.repeats):
        for frames in scenes:
            for name, seg in segs.items():  # alternate so that all see the same machine load
                total, stage = run_once(seg, frames)
                totals[name] += total
                refine += stage if name == "on" else []
            frames_run += len(frames)
    off, on, anchored = (1000 * totals[k] / frames_run for k in segs)
    ms = 1000 * np.asarray(refine)
    voxels = f"{args.max_points} map voxels per frame"
    print(f"refinement cost, {args.scenes} scenes x 60 frames x {args.repeats}, {voxels}, {os.cpu_count()} CPU cores")
    print("| refine ms/frame mean | refine ms/frame p95 | step ms/frame off | step ms/frame on | on / off "
          "| step ms/frame on, tracker_mean anchor | anchored / on |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {ms.mean():.1f} | {np.percentile(ms, 95):.1f} | {off:.1f} | {on:.1f} | {on / off:.3f} "
          f"| {anchored:.1f} | {anchored / on:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
