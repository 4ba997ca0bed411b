"""Per-frame time of the depth filter (``lift.depth_filter``), in one run (alternating).

    python bench/depth_filter_cost.py          # one noisy and one rendered scene at 320x240 and 640x480

Scenes: ``make-data --seed 200 --scenes 1 --frames 20`` at both sizes, rendered (no noise: "auto"
measures it and leaves the frames as they are) and with Kinect-like noise (``--depth-noise``:
"auto" smooths every frame). Prints ms/frame of the whole step and of its lift stage (which
includes the filter) for ``none``, ``auto`` and ``auto`` with the depth range cut at a noise of
4 cm (``lift.max_depth_noise``), and the step-time ratios of the last two to ``none``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import MASK_SEED, ensure_scenes, time_steps, write_report

from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

SIZES = ((320, 240), (640, 480))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/bench/depth_filter"))
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    base = {"masks.source": "sim", "masks.sim.seed": MASK_SEED}
    variants = {"none": {"lift.depth_filter": "none"}, "auto": {"lift.depth_filter": "auto"},
                "range": {"lift.depth_filter": "auto", "lift.max_depth_noise": 0.04}}
    segs = {kind: OnlineSegmenter.from_config(SegmenterConfig.from_flat({**base, **flat}))
            for kind, flat in variants.items()}
    lines = [f"Depth filter cost, 1 scene x {args.frames} frames per row, sim masks, {os.cpu_count()} CPU cores", "",
             "| depth | size | none: ms/frame (lift) | auto: ms/frame (lift) | auto + range: ms/frame (lift) "
             "| step auto / none | step auto + range / none |", "|---|---|---|---|---|---|---|"]
    for width, height in SIZES:
        for noisy in (False, True):
            extra = ["--depth-noise"] if noisy else []
            root = args.out / f"{'noisy' if noisy else 'rendered'}_{width}x{height}"
            data = ensure_scenes(root, 1, args.frames, 200, width, height, extra)
            frames = list(SceneReader(list_scenes(data)[0]))
            sums = {kind: [0.0, 0.0] for kind in segs}
            for _ in range(args.repeats):
                for kind, seg in segs.items():  # alternate so that all see the same machine load
                    total, lift = time_steps(seg, frames, ("lift",))
                    sums[kind][0] += total
                    sums[kind][1] += lift
            n = args.repeats * len(frames)
            step = {k: 1000 * sums[k][0] / n for k in segs}
            lifts = {k: 1000 * sums[k][1] / n for k in segs}
            cells = " | ".join(f"{step[k]:.1f} ({lifts[k]:.1f})" for k in segs)
            lines.append(f"| {'noisy' if noisy else 'rendered'} | {width}x{height} | {cells} | "
                         f"{step['auto'] / step['none']:.3f} | {step['range'] / step['none']:.3f} |")
    write_report("\n".join(lines) + "\n", args.out / "depth_filter_cost.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
