"""``samosaic3d eval-bag BAG``: replay a bag into the node (or, with --offline, straight into the core),
score the final map against the bag's ground-truth instance images; the last line is ``AP=… AP50=… AP25=…``.
"""

from __future__ import annotations

import argparse
import logging
import time

HELP = "replay a bag into the node (or --offline) and score it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder (mcap or sqlite3) with ground-truth instance images")
    parser.add_argument("--offline", action="store_true", help="feed the bag into the core pipeline, without ROS")
    parser.add_argument("--config", default=None, help="node parameter file (default: config/samosaic3d.yaml)")
    parser.add_argument("--pipeline", default=None, help="override the node's pipeline parameter")
    parser.add_argument("--masks", default=None, help="override the node's masks.source parameter")
    parser.add_argument("--record", default=None, help="write the node's outputs to this bag folder (mcap)")
    parser.add_argument("--no-lockstep", action="store_true",
                        help="publish at the bag's rate; the node drops frames it cannot keep up with")
    parser.add_argument("--voxel", type=float, default=None, help="evaluation voxel size (m)")


def _overrides(args) -> dict:
    out = {}
    if args.pipeline:
        out["pipeline"] = args.pipeline
    if args.masks:
        out["masks.source"] = args.masks
    return out


def run(args: argparse.Namespace) -> int:
    from samosaic3d_core.eval import EvalConfig, evaluate_scenes, format_ap_line, scene_eval_input
    from samosaic3d_ros.bag.reader import read_frames, without_ground_truth
    from samosaic3d_ros.params import build_segmenter, params_from_yaml
    from samosaic3d_ros.bag.replay import ReplayConfig, default_params_file, replay

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    params = params_from_yaml(args.config or default_params_file(), **_overrides(args))
    if args.offline and args.record:
        raise SystemExit("--record needs the node; drop --offline")
    frames = list(read_frames(args.bag, params))
    if not any(f.instance_gt is not None for f in frames):
        raise SystemExit(f"bag '{args.bag}' has no ground-truth instance images; nothing to score")
    started = time.perf_counter()
    if args.offline:
        segmenter = build_segmenter(params)
        for frame in frames:
            segmenter.step(without_ground_truth(frame))
        scene_map = segmenter.map()
        mode, processed = "offline", len(frames)
    else:
        result = replay(args.bag, ReplayConfig(params_file=args.config, overrides=_overrides(args),
                                               lockstep=not args.no_lockstep, record=args.record))
        scene_map, processed = result.final_map, result.frames_processed
        mode = "node"
    seconds = time.perf_counter() - started
    config = EvalConfig() if args.voxel is None else EvalConfig(voxel_size=args.voxel)
    scene = scene_eval_input(frames, scene_map, config, name=str(args.bag))
    ap = evaluate_scenes([scene], config.min_region_size)
    print(f"{mode}: {processed}/{len(frames)} frames processed in {seconds:.1f} s, "
          f"{len(set(scene_map.instance_ids.tolist()) - {0})} map instances")
    print(format_ap_line(ap))
    return 0
