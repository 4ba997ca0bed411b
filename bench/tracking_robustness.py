"""AP and camera-path error under tracking error, in one run: the table of docs/tracking_error.md.

    python bench/tracking_robustness.py                  # 4 held-out scenes (make-data --seed 300) per condition
    python bench/tracking_robustness.py --scenes 10 --conditions none vio

Conditions: exact poses, the ``vio`` and ``poor`` tracking-error presets (make-data --pose-error),
and independent per-frame noise of 1 cm / 1 deg and 2 cm / 2 deg (--pose-noise-cm/-deg). Rows:
the baseline and the full model without refinement; the full model with refinement and the map
published in the frame of its first poses (``refine.anchor: first``), and with the defaults
(refinement, ``auto`` anchor: the frame of the tracker's average pose once the corrections
jitter); oracle masks (ground-truth instances as masks, baseline merging) without and with
refinement, which separates association failures from smeared geometry. Ground truth is placed
with the true poses (pose_true/). ATE is the RMS camera-position error of the tracker's poses and
of the poses the step reports (fused, in the published frame), against the true ones.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from common import MASK_SEED, ensure_scenes, made_with, write_report

from samosaic3d_core.cli.run import segment_scene
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import EvalConfig, evaluate_directory
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

CONDITIONS = {
    "none": [],
    "vio": ["--pose-error", "vio"],
    "poor": ["--pose-error", "poor"],
    "independent 1 cm / 1 deg": ["--pose-noise-cm", "1", "--pose-noise-deg", "1"],
    "independent 2 cm / 2 deg": ["--pose-noise-cm", "2", "--pose-noise-deg", "2"],
}
SHORT = {"none": "none", "vio": "vio", "poor": "poor", "independent 1 cm / 1 deg": "n1", "independent 2 cm / 2 deg": "n2"}


def variants() -> dict[str, SegmenterConfig]:
    sim = {"masks.source": "sim", "masks.sim.seed": MASK_SEED}
    off = {"refine.enabled": False}
    return {
        "baseline": SegmenterConfig.from_flat({"pipeline": "baseline", **sim, **off}),
        "full model, no refinement": SegmenterConfig.from_flat({**sim, **off}),
        "full model, refinement, anchor first": SegmenterConfig.from_flat({**sim, "refine.anchor": "first"}),
        "full model (defaults: refinement, anchor auto)": SegmenterConfig.from_flat(sim),
        "oracle masks, no refinement": SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": "oracle", **off}),
        "oracle masks, refinement": SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": "oracle"}),
    }


def run(config: SegmenterConfig, data: Path, pred: Path) -> tuple[float, float, float]:
    """(AP, ATE of the tracker, ATE of the fused poses) over the scenes of ``data``."""
    seg = OnlineSegmenter.from_config(config)
    tracker, fused = [], []
    for scene_dir in list_scenes(data):
        reader = SceneReader(scene_dir)
        entries = segment_scene(seg, reader.name, iter(reader), pred).entries()
        tracker.append(entries.get("ate_tracker", np.nan))
        fused.append(entries.get("ate_fused", np.nan))
    return evaluate_directory(data, pred, EvalConfig()).ap, float(np.mean(tracker)), float(np.mean(fused))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=300)
    parser.add_argument("--conditions", nargs="+", choices=[SHORT[c] for c in CONDITIONS], default=list(SHORT.values()))
    parser.add_argument("--out", type=Path, default=Path("out/bench/tracking"))
    args = parser.parse_args(argv)
    conditions = [c for c in CONDITIONS if SHORT[c] in args.conditions]
    ap: dict[str, dict[str, float]] = {name: {} for name in variants()}
    ate: dict[str, tuple[float, float]] = {}
    for condition in conditions:
        data = ensure_scenes(args.out / "data" / SHORT[condition], args.scenes, args.frames, args.seed, 320, 240,
                             CONDITIONS[condition])
        for name, config in variants().items():
            pred = args.out / "maps" / SHORT[condition] / name.split(",")[0].split(" (")[0].replace(" ", "_")
            pred = pred.with_name(pred.name + ("_refine" if config.refine.enabled else "")
                                  + f"_{config.refine.anchor}")
            ap[name][condition], tracker_ate, fused_ate = run(config, data, pred)
            if name == "full model (defaults: refinement, anchor auto)":
                ate[condition] = (tracker_ate, fused_ate)
            print(f"{condition} | {name}: AP {100 * ap[name][condition]:.1f}", flush=True)
    lines = [f"AP under tracking error, {args.scenes} held-out scenes x {args.frames} frames ({made_with(args.seed)}), "
             f"sim masks seed {MASK_SEED}, {os.cpu_count()} CPU cores", "",
             "| variant | " + " | ".join(conditions) + " |", "|---|" + "---|" * len(conditions)]
    for name, row in ap.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * row[c]:.1f}" for c in conditions) + " |")
    lines.append("| ATE tracker -> fused, cm (full model) | " + " | ".join(
        f"{100 * ate[c][0]:.1f} -> {100 * ate[c][1]:.1f}" for c in conditions) + " |")
    write_report("\n".join(lines) + "\n", args.out / "tracking_robustness.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
