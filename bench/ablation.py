"""The ablation table of the online system, its robustness, in one run each.

    python bench/ablation.py --f2i runs/pair/model.safetensors --full runs/temporal/model.safetensors \
        --f2i-w runs/f2i/model.safetensors
    python bench/ablation.py ... --robustness   # pose noise 0/1/2/5 cm+deg, stronger over-segmentation

Held-out scenes: ``make-data --seed 300`` (10 scenes x 60 frames, 320x240; training used seeds
100 and 200), ``sim`` masks with a fixed seed. Rows:
  baseline (ESAM-style)         fragments as instances + heuristic merging (box IoU, cell overlap, colour)
  F2I only, W without pair head learned F2I grouped by its affinity W alone + heuristic merging (--f2i-w)
  F2I only                      learned Fragment-to-Instance (with its pair head) + the same heuristic merging
  F2I + I2S without L_merge     learned F2I + cascaded memory merging with the untrained merger
  full model                    learned F2I + I2S trained with L_merge
  oracle masks (upper bound)    ground-truth instances as masks + heuristic merging
FPS is frames per second of the whole step on this machine's CPU, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import HEADER, MASK_SEED, ensure_scenes, run_variant

from samosaic3d_core.pipeline import SegmenterConfig


def variants(f2i: str, full: str, sim: dict | None = None, f2i_w: str | None = None) -> dict[str, SegmenterConfig]:
    sim_masks = {"masks": {"source": "sim", "sim": {"seed": MASK_SEED, **(sim or {})}}}

    def learned(checkpoint: str, merging: str) -> SegmenterConfig:
        return SegmenterConfig.from_dict({"pipeline": "learned", "checkpoint": checkpoint, "merging": merging, **sim_masks})

    without_pair_head = {} if f2i_w is None else {"F2I only, W without pair head": learned(f2i_w, "heuristic")}
    return {
        "baseline (ESAM-style)": SegmenterConfig.from_dict({"pipeline": "baseline", **sim_masks}),
        **without_pair_head,
        "F2I only": learned(f2i, "heuristic"),
        "F2I + I2S without L_merge": learned(full, "untrained"),
        "full model": learned(full, "learned"),
        "oracle masks (upper bound)": SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": "oracle"}),
    }


def table(title: str, rows) -> str:
    return "\n".join([title, "", HEADER, *(row.markdown() for row in rows)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--f2i", required=True, help="F2I-only weights")
    parser.add_argument("--full", required=True, help="F2I + I2S weights")
    parser.add_argument("--f2i-w", help="F2I weights without pair head (adds the row of W alone)")
    parser.add_argument("--data", type=Path, default=Path("data/synth/test"))
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("out/bench/ablation"))
    parser.add_argument("--robustness", action="store_true", help="pose-noise and over-segmentation tables instead")
    parser.add_argument("--robust-scenes", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cores = f"{os.cpu_count()} CPU cores"
    tables = []
    if not args.robustness:
        data = ensure_scenes(args.data, args.scenes, args.frames, args.seed, 320, 240)
        rows = [run_variant(name, config, data, args.out / "main")
                for name, config in variants(args.f2i, args.full, f2i_w=args.f2i_w).items()]
        tables.append(table(f"Ablation, {args.scenes} held-out scenes x {args.frames} frames (make-data --seed "
                            f"{args.seed}, 320x240), sim masks seed {MASK_SEED}, {cores}", rows))
    else:
        keep = ("baseline (ESAM-style)", "full model")
        rows = []
        for noise in (0, 1, 2, 5):
            extra = ["--pose-noise-cm", str(noise), "--pose-noise-deg", str(noise)] if noise else []
            data = ensure_scenes(args.out / f"pose_noise_{noise}", args.robust_scenes, args.frames, args.seed, 320, 240, extra)
            for name, config in variants(args.f2i, args.full).items():
                if name in keep:
                    rows.append(run_variant(f"{name}, pose noise {noise} cm / {noise} deg", config, data,
                                            args.out / f"pose_{noise}"))
        data = ensure_scenes(args.out / "pose_noise_0", args.robust_scenes, args.frames, args.seed, 320, 240)
        strong = {"split_prob": 0.6, "merge_prob": 0.05}
        for name, config in variants(args.f2i, args.full, strong).items():
            if name in keep:
                rows.append(run_variant(f"{name}, strong over-segmentation (split 0.6, merge 0.05)", config, data,
                                        args.out / "overseg"))
        tables.append(table(f"Robustness, {args.robust_scenes} scenes x {args.frames} frames (make-data --seed "
                            f"{args.seed}, 320x240, written poses perturbed), {cores}", rows))
    text = "\n\n".join(tables)
    print(text)
    (args.out / ("robustness.md" if args.robustness else "ablation.md")).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
