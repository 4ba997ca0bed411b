"""Online AP of one pipeline setting swept over values, on validation scenes (how defaults are chosen).

    python bench/sweep.py --checkpoint runs/f2i/model.safetensors --merging heuristic \
        --param frame_model.group_threshold --values 0.3 0.5 0.7 0.9
    python bench/sweep.py --checkpoint runs/temporal/model.safetensors --merging learned \
        --param i2s_merge_threshold --values 0.3 0.5 0.7

Scenes: ``make-data --seed 200`` (the validation seed of config/train_*.yaml), ``sim`` masks with
the ablation's fixed seed. One table row per value; the test scenes (seed 300) are never used here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import HEADER, MASK_SEED, ensure_scenes, run_variant

from samosaic3d_core.config import leaf_fields
from samosaic3d_core.pipeline import SegmenterConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="F2I or F2I + I2S weights")
    parser.add_argument("--merging", default="auto", help="SegmenterConfig.merging")
    parser.add_argument("--param", required=True, help="a SegmenterConfig setting by dotted name, e.g. frame_model.group_threshold")
    parser.add_argument("--values", required=True, nargs="+", type=float)
    parser.add_argument("--data", type=Path, default=Path("data/synth/val"))
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("out/bench/sweep"))
    args = parser.parse_args(argv)
    if args.param not in {f.name for f in leaf_fields(SegmenterConfig)}:
        raise SystemExit(f"--param {args.param!r} is not a SegmenterConfig setting (e.g. frame_model.group_threshold)")
    data = ensure_scenes(args.data, args.scenes, args.frames, args.seed, 320, 240)
    rows = []
    for value in args.values:
        config = SegmenterConfig.from_flat({"pipeline": "learned", "masks.source": "sim", "masks.sim.seed": MASK_SEED,
                                            "checkpoint": args.checkpoint, "merging": args.merging, args.param: value})
        rows.append(run_variant(f"{args.param}={value:g}", config, data, args.out / args.param))
    title = (f"{args.param} sweep, merging {args.merging}, {args.scenes} validation scenes x {args.frames} frames "
             f"(make-data --seed {args.seed}, 320x240), sim masks seed {MASK_SEED}, {os.cpu_count()} CPU cores")
    text = "\n".join([title, "", HEADER, *(row.markdown() for row in rows)])
    print(text)
    (args.out / f"{args.param}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
