"""``samosaic3d eval-bag BAG``: replay a bag into the node (or, with --offline, straight into the core),
score the final map against the bag's ground-truth instance images; the last line is ``AP=… AP50=… AP25=…``.
``--metrics FILE`` also writes the scores as JSON: AP/AP50/AP25 and the map quality (map_instances,
label_noise, object_instances, objects, label_noise_gt; ``samosaic3d_core.eval.map_quality``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from samosaic3d_core.cli.arguments import positive_float
from samosaic3d_ros.commands.pipeline_flags import add_pipeline_arguments, node_overrides

HELP = "replay a bag into the node (or --offline) and score it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder (mcap or sqlite3) with ground-truth instance images "
                                    "(topics found as segment-bag finds them)")
    parser.add_argument("--offline", action="store_true", help="feed the bag into the core pipeline, without ROS")
    add_pipeline_arguments(parser)
    parser.add_argument("--record", default=None, help="write the node's outputs to this bag folder (mcap)")
    parser.add_argument("--no-lockstep", action="store_true",
                        help="publish at the bag's rate; the node drops frames it cannot keep up with")
    parser.add_argument("--voxel", type=positive_float, default=None, help="evaluation voxel size (m)")
    parser.add_argument("--metrics", type=Path, default=None,
                        help="write AP and map quality (label noise, object instances) as JSON to this file")



def run(args: argparse.Namespace) -> int:
    from samosaic3d_ros.bag.discover import discover
    from samosaic3d_ros.bag.reader import read_frames, without_ground_truth
    from samosaic3d_ros.bag.scoring import score_bag, summary_line
    from samosaic3d_ros.params import build_segmenter, params_from_yaml
    from samosaic3d_ros.bag.replay import ReplayConfig, default_params_file, replay
    from samosaic3d_ros.local_install import reexec_with_local_interfaces

    if not args.offline:
        reexec_with_local_interfaces()  # started from the venv without scripts/env.sh: the node needs them
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.offline and args.record:
        raise SystemExit("--record needs the node; drop --offline")
    params_file = args.config or default_params_file()
    params_from_yaml(params_file, **node_overrides(args))  # a bad parameter file or value is named before the bag
    inputs = discover(args.bag)  # the topics and TF of any layout, as segment-bag finds them
    if not inputs.topics.instance:
        raise SystemExit(f"bag '{args.bag}' has no ground-truth instance images; nothing to score "
                         "(samosaic3d segment-bag maps it without)")
    params = params_from_yaml(params_file, **node_overrides(args), **inputs.node_parameters())
    frames = list(read_frames(args.bag, params, inputs.topics))
    started = time.perf_counter()
    if args.offline:
        segmenter = build_segmenter(params)
        for frame in frames:
            segmenter.step(without_ground_truth(frame))
        scene_map = segmenter.map()
        mode, processed = "offline", len(frames)
    else:
        result = replay(args.bag, ReplayConfig(params_file=args.config,
                                               overrides={**node_overrides(args), **inputs.node_parameters()},
                                               lockstep=not args.no_lockstep, record=args.record,
                                               topics=inputs.topics, pose_topic=inputs.pose_topic))
        scene_map, processed = result.final_map, result.frames_processed
        mode = "node"
    seconds = time.perf_counter() - started
    score = score_bag(frames, scene_map, params, args.voxel, name=str(args.bag))
    print(summary_line(mode, processed, len(frames), seconds, score.quality))
    if args.metrics:
        metrics = {"bag": str(args.bag), "mode": mode, "frames": len(frames), "frames_processed": processed,
                   "segment_seconds": round(seconds, 2), **score.entries()}
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        args.metrics.write_text(json.dumps(metrics, indent=2) + "\n")
    print(score.ap_line())
    return 0
