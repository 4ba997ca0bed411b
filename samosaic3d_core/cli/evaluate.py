"""``samosaic3d evaluate``: ScanNet-protocol class-agnostic instance AP of saved maps.

Prints one line per scene, then as the last line ``AP=<x> AP50=<y> AP25=<z>`` over all
scenes pooled (fractions, 4 decimals; ``nan`` when no scene has scored ground truth).
"""

from __future__ import annotations

import argparse
import sys

from samosaic3d_core.eval import EvalConfig, evaluate_directory, format_ap_line, format_scene_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = EvalConfig()
    parser.add_argument("--data", required=True,
                        help="folder of scene folders with depth, poses and instance ground truth")
    parser.add_argument("--pred", required=True, help="folder of map files <scene>.npz written by 'samosaic3d run'")
    parser.add_argument("--dump", default=None, help="write <scene>.npz with exactly what was scored into this folder")
    parser.add_argument("--voxel", type=float, default=defaults.voxel_size, help="evaluation voxel size in metres")
    parser.add_argument("--gt-poses", choices=("true", "reported"), default=defaults.gt_poses,
                        help="place ground-truth points with the true poses where a scene has them (pose_true/), "
                             "or with the poses the frames report (default: %(default)s)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="skip scenes without a map file (with a warning) instead of failing")


def run(args: argparse.Namespace) -> int:
    try:
        config = EvalConfig(voxel_size=args.voxel, skip_missing=args.skip_missing, gt_poses=args.gt_poses)
        result = evaluate_directory(
            args.data, args.pred, config, args.dump,
            on_scene=lambda name, scene_result: print(format_scene_line(name, scene_result), flush=True),
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"samosaic3d evaluate: {exc}", file=sys.stderr)
        return 1
    print(format_ap_line(result))
    return 0
