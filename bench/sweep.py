"""Online AP of one pipeline setting swept over values, on validation scenes (how defaults are chosen).

    python bench/sweep.py --checkpoint runs/f2i/model.safetensors --merging heuristic \
        --param frame_model.group_threshold --values 0.3 0.5 0.7 0.9
    python bench/sweep.py --checkpoint runs/temporal/model.safetensors --merging learned \
        --param i2s_merge_threshold --values 0.3 0.5 0.7

Scenes: ``make-data --seed 200`` (the validation seed of config/train_*.yaml), ``sim`` masks with
the ablation's fixed seed. One table row per value; the test scenes (seed 300) are never used here.

A map is the outcome of many thresholded decisions, so one run's AP carries noise: the same ten test
scenes gave 34.4-36.4 AP over three ``lift.seed`` values. ``--repeats N`` runs every value with
``lift.seed`` 0..N-1 and reports the mean and the range; differences inside the range are noise.
The random fragments of ``sim`` masks move AP more: the three hard validation scenes gave 24.5-32.3
AP over three mask seeds with the same defaults. ``--mask-seeds A B ...`` runs every value once
per mask seed (and per repeat), so a setting is chosen on its mean over fragments. ``--score-on
DIR`` scores the maps on the scenes of DIR with the same names: the noise-free renders of scenes
made with ``make-data --depth-noise`` (the harness's own points would be noisy too):

    python bench/sweep.py --checkpoint samosaic3d_core/checkpoints/samosaic3d_synth_sam.safetensors \
        --param memory.structure.band --values 0.015 0.03 --data data/synth/hard_val --style hard \
        --scenes 3 --seed 210 --mask-seeds 0 1 12345
    python bench/sweep.py ... --data data/synth/hard_val_noisy --score-on data/synth/hard_val

``--set NAME=VALUE`` fixes another setting under every value (as ``samosaic3d run --set``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import HEADER, MASK_SEED, ensure_scenes, made_with, run_variant, style_flags

from samosaic3d_core.config import leaf_fields, parse_overrides
from samosaic3d_core.pipeline import SegmenterConfig

REPEATED_HEADER = ("| variant | AP, mean of {n} (min-max) | AP50, mean (min-max) | AP25, mean | FPS (CPU) |\n"
                   "|---|---|---|---|---|")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="F2I or F2I + I2S weights")
    parser.add_argument("--merging", default="auto", help="SegmenterConfig.merging")
    parser.add_argument("--param", required=True, help="a SegmenterConfig setting by dotted name, e.g. frame_model.group_threshold")
    parser.add_argument("--values", required=True, nargs="+",
                        help="values of --param, read as YAML scalars (0.5, 10, true, voxel)")
    parser.add_argument("--data", type=Path, default=Path("data/synth/val"))
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=200)
    parser.add_argument("--style", default="default", help="scene style of generated scenes (make-data --style)")
    parser.add_argument("--score-on", type=Path, help="score the maps on these scenes (same names) instead of --data")
    parser.add_argument("--repeats", type=int, default=1, help="runs per value with lift.seed 0..N-1 (mean and range)")
    parser.add_argument("--mask-seeds", type=int, nargs="+", default=[MASK_SEED],
                        help="seeds of the sim masks; every value runs once per seed (mean and range)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                        help="a fixed setting under every value (repeatable), as `samosaic3d run --set`")
    parser.add_argument("--out", type=Path, default=Path("out/bench/sweep"))
    args = parser.parse_args(argv)
    fixed = parse_overrides(args.set)
    values = [parse_overrides([f"{args.param}={text}"], "--values")[args.param] for text in args.values]
    if args.param not in {f.name for f in leaf_fields(SegmenterConfig)}:
        raise SystemExit(f"--param {args.param!r} is not a SegmenterConfig setting (e.g. frame_model.group_threshold)")
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be at least 1, got {args.repeats}")
    style = style_flags(args.style)
    data = ensure_scenes(args.data, args.scenes, args.frames, args.seed, 320, 240, style)
    lines = []
    runs_per_value = args.repeats * len(args.mask_seeds)
    for value in values:
        runs = []
        for mask_seed in args.mask_seeds:
            for repeat in range(args.repeats):
                config = SegmenterConfig.from_flat({
                    **fixed, "pipeline": "learned", "masks.source": "sim", "masks.sim.seed": mask_seed,
                    "checkpoint": args.checkpoint, "merging": args.merging, "lift.seed": repeat, args.param: value})
                name = (f"{args.param}={label(value)}" + (f" mask seed {mask_seed}" if len(args.mask_seeds) > 1 else "")
                        + (f" lift seed {repeat}" if args.repeats > 1 else ""))
                runs.append(run_variant(name, config, data, args.out / args.param, score_on=args.score_on))
        lines.append(runs[0].markdown() if runs_per_value == 1 else repeated_row(f"{args.param}={label(value)}", runs))
    seeds = ", ".join(map(str, args.mask_seeds))
    title = (f"{args.param} sweep, merging {args.merging}, {args.scenes} validation scenes x {args.frames} frames "
             f"({made_with(args.seed, style)}), sim masks "
             f"seed{'s' if len(args.mask_seeds) > 1 else ''} {seeds}"
             f"{f', scored on {args.score_on}' if args.score_on else ''}"
             f"{''.join(f', {k}={v}' for k, v in fixed.items())}, {os.cpu_count()} CPU cores")
    header = HEADER if runs_per_value == 1 else REPEATED_HEADER.format(n=runs_per_value)
    text = "\n".join([title, "", header, *lines])
    print(text)
    (args.out / f"{args.param}.md").write_text(text + "\n")
    return 0


def label(value) -> str:
    """A swept value as a row names it: numbers in their shortest form (0.03, 10), others as written."""
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def repeated_row(name: str, runs: list) -> str:
    """One markdown row: mean and range of AP and AP50 over ``runs`` (``common.Row``s)."""
    def spread(values: list[float]) -> str:
        return f"{100 * sum(values) / len(values):.1f} ({100 * min(values):.1f}-{100 * max(values):.1f})"
    ap25 = sum(r.ap25 for r in runs) / len(runs)
    fps = sum(r.fps for r in runs) / len(runs)
    return (f"| {name} | {spread([r.ap for r in runs])} | {spread([r.ap50 for r in runs])} | {100 * ap25:.1f} | "
            f"{fps:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
