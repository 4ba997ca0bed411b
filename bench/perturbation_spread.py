"""How far one scene's AP moves when its depth changes by float rounding: the run-to-run noise of a map.

    python bench/perturbation_spread.py                       # the demo scene (seed 7, 90 frames, 640x480)
    python bench/perturbation_spread.py --set lift.budget_sampling=random
    python bench/perturbation_spread.py --data data/synth/val --masks sim --runs 4

Run 0 segments the frames as they are; run k > 0 multiplies every depth value by
``1 + N(0, noise)`` (default 1e-7: 0.2 µm at 2 m, about the rounding a bag or another CPU adds).
Each run prints AP / AP50 and the map's instance count; the last line counts the distinct results.
A map that many thresholded decisions build can flip between outcomes: differences between
settings smaller than this spread are noise (docs/map_quality.md, "Run-to-run noise").
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from common import MASK_SEED, ensure_scenes

from samosaic3d_core.cli.run import compose_config, segment_scene
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import EvalConfig, evaluate_directory
from samosaic3d_core.pipeline import OnlineSegmenter


def perturbed(frames, run: int, noise: float, keep_ground_truth: bool):
    """The frames with depth scaled by 1 + N(0, noise) (run 0: unchanged); ground truth dropped unless kept."""
    rng = np.random.default_rng(run)
    for frame in frames:
        if run:
            scale = 1.0 + rng.normal(0.0, noise, frame.depth.shape)
            frame = dataclasses.replace(frame, depth=(frame.depth * scale).astype(np.float32))
        if not keep_ground_truth:
            frame = dataclasses.replace(frame, instance_gt=None, part_gt=None)
        yield frame


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("out/bench/perturbation/demo_scene"),
                        help="scene folder(s) in the ScanNet frames layout (generated as the demo's if missing)")
    parser.add_argument("--masks", default="oversegment", choices=["oversegment", "sim", "oracle"])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--noise", type=float, default=1e-7, help="relative depth noise of runs 1..N-1")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a segmenter setting")
    parser.add_argument("--out", type=Path, default=Path("out/bench/perturbation"))
    args = parser.parse_args(argv)
    if args.runs < 1 or not args.noise > 0:
        raise SystemExit("--runs must be at least 1 and --noise above 0")
    try:
        config = compose_config(None, {"masks.source": args.masks, "masks.sim.seed": MASK_SEED}, args.set)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    data = ensure_scenes(args.data, 1, 90, 7, 640, 480)
    seg = OnlineSegmenter.from_config(config)
    results = []
    for run in range(args.runs):
        pred = args.out / f"run{run}"
        instances = 0
        for scene_dir in list_scenes(data):
            reader = SceneReader(scene_dir)
            frames = perturbed(iter(reader), run, args.noise, keep_ground_truth=args.masks != "oversegment")
            segment_scene(seg, reader.name, frames, pred)
            instances += len(seg.instances().ids)
        result = evaluate_directory(data, pred, EvalConfig())
        results.append((round(100 * result.ap, 1), round(100 * result.ap50, 1), instances))
        print(f"run {run}: AP {results[-1][0]:.1f} AP50 {results[-1][1]:.1f} map instances {instances}", flush=True)
    aps = [ap for ap, _, _ in results]
    print(f"{args.runs} runs, {len(set(results))} distinct results: AP {min(aps):.1f}-{max(aps):.1f}, "
          f"mean {sum(aps) / len(aps):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
