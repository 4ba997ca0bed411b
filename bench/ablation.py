"""The ablation table of the online system, its robustness, in one run each.

    python bench/ablation.py --f2i runs/pair/model.safetensors --full runs/temporal/model.safetensors \
        --f2i-w runs/f2i/model.safetensors
    python bench/ablation.py ... --robustness   # pose noise 0/1/2/5 cm+deg, stronger over-segmentation
    python bench/ablation.py ... --data data/synth/hard_test --style hard --scenes 5 --seed 310 \
        --mask-seeds 12345 0 1 --rows baseline "full model"   # the hard family: full model vs baseline

Held-out scenes: ``make-data --seed 300`` (10 scenes x 60 frames, 320x240; training used seeds
100 and 200), ``sim`` masks with a fixed seed. Rows:
  baseline (ESAM-style)         fragments as instances + heuristic merging (box IoU, cell overlap, colour)
  F2I only, W without pair head learned F2I grouped by its affinity W alone + heuristic merging (--f2i-w)
  F2I only                      learned Fragment-to-Instance (with its pair head) + the same heuristic merging
  F2I + I2S without L_merge     learned F2I + cascaded memory merging with the untrained merger
  full model                    learned F2I + I2S trained with L_merge
  oracle masks (upper bound)    ground-truth instances as masks + heuristic merging
FPS is frames per second of the whole step on this machine's CPU, measured in the same run.
``--mask-seeds A B ...`` runs every row that uses ``sim`` masks once per mask seed and reports the
mean (the per-seed AP below the table): the ten test scenes move by several AP with the random
fragments alone, more than some rows differ. ``--style`` generates missing scenes in another scene
style (``make-data --style``); ``--rows`` keeps the rows whose names start with one of its words.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from common import HEADER, MASK_SEED, Row, ensure_scenes, made_with, run_variant, style_flags

from samosaic3d_core.pipeline import SegmenterConfig


def variants(f2i: str, full: str, sim: dict | None = None, f2i_w: str | None = None,
             mask_seed: int = MASK_SEED) -> dict[str, SegmenterConfig]:
    sim_masks = {"masks": {"source": "sim", "sim": {"seed": mask_seed, **(sim or {})}}}

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


def mean_row(rows: list[Row]) -> Row:
    """One row whose scores and FPS are the means of ``rows`` (the same variant, several mask seeds)."""
    return Row(rows[0].name, *(float(np.mean([getattr(r, k) for r in rows])) for k in ("ap", "ap50", "ap25", "fps")),
               sum(r.frames for r in rows))


def selected(name: str, rows: list[str] | None) -> bool:
    """Whether the row ``name`` is kept by ``--rows`` (None: every row)."""
    return rows is None or any(name.startswith(prefix) for prefix in rows)


def seeded_rows(args, data: Path) -> tuple[list[Row], str]:
    """The ablation's rows, each the mean over ``args.mask_seeds``, and a line of the per-seed AP."""
    runs: dict[str, list[Row]] = {}
    for seed in args.mask_seeds:
        for name, config in variants(args.f2i, args.full, f2i_w=args.f2i_w, mask_seed=seed).items():
            if not selected(name, args.rows):
                continue
            if config.masks.source != "sim" and name in runs:
                continue  # oracle masks do not depend on the mask seed
            out = args.out / "main" / (f"seed{seed}" if len(args.mask_seeds) > 1 else "")
            runs.setdefault(name, []).append(run_variant(name, config, data, out))
    per_seed = "; ".join(f"{name}: " + " / ".join(f"{100 * r.ap:.1f}" for r in rows)
                         for name, rows in runs.items() if len(rows) > 1)
    return [mean_row(rows) for rows in runs.values()], per_seed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--f2i", required=True, help="F2I-only weights")
    parser.add_argument("--full", required=True, help="F2I + I2S weights")
    parser.add_argument("--f2i-w", help="F2I weights without pair head (adds the row of W alone)")
    parser.add_argument("--data", type=Path, default=Path("data/synth/test"))
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("out/bench/ablation"))
    parser.add_argument("--mask-seeds", type=int, nargs="+", default=[MASK_SEED],
                        help="seeds of the sim masks; each row is the mean over them")
    parser.add_argument("--style", default="default", help="scene style of generated scenes (make-data --style)")
    parser.add_argument("--rows", nargs="+", help="keep only the rows whose names start with one of these")
    parser.add_argument("--robustness", action="store_true", help="pose-noise and over-segmentation tables instead")
    parser.add_argument("--robust-scenes", type=int, default=3)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cores = f"{os.cpu_count()} CPU cores"
    tables = []
    if not args.robustness:
        style = style_flags(args.style)
        data = ensure_scenes(args.data, args.scenes, args.frames, args.seed, 320, 240, style)
        rows, per_seed = seeded_rows(args, data)
        if not rows:
            raise SystemExit(f"--rows {' '.join(args.rows)}: no row of the ablation starts with these")
        seeds = ", ".join(map(str, args.mask_seeds))
        title = (f"Ablation, {args.scenes} held-out scenes x {args.frames} frames ({made_with(args.seed, style)}), "
                 f"sim masks seed{'s' if len(args.mask_seeds) > 1 else ''} {seeds}"
                 f"{' (mean)' if len(args.mask_seeds) > 1 else ''}, {cores}")
        tables.append(table(title, rows) + (f"\n\nAP per mask seed ({seeds}): {per_seed}" if per_seed else ""))
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
