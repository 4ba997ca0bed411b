"""``samosaic3d segment-bag BAG --out DIR``: segment any rosbag2 (mcap or sqlite3) of a posed RGB-D camera.

    samosaic3d segment-bag my_realsense_bag --out out/my_scan          # the core pipeline, no ROS
    samosaic3d segment-bag my_realsense_bag --out out/my_scan --node   # through samosaic3d_node over DDS

The inputs are found by message type (``samosaic3d_ros.bag.discover``): the colour and depth
Image topics by the encoding of their first message, the CameraInfo in the depth image's
namespace, a ground-truth instance topic (16UC1 with 'instance' in its name) if there is one,
and the camera pose from /tf + /tf_static (any chain, e.g. ``map -> odom -> base_link ->
camera_link -> camera_color_optical_frame``) or from a PoseStamped / Odometry topic. The map
frame is ``map`` when the camera's TF tree has it, else that tree's root. What is ambiguous
or missing stops the command with one line naming the candidates and the flag that chooses:
``--color-topic``, ``--depth-topic``, ``--camera-info-topic``, ``--instance-topic``,
``--pose-topic`` (with ``--pose-frame``: the frame a PoseStamped is the pose of; default the
depth image's), ``--map-frame``.

DIR receives the map (``map.npz``, the format of ``samosaic3d run``, and ``map.ply``), the report
pictures (``overview.png``, ``map_top_down.png``, ``map_perspective.png``; ``scene_report``),
``timings.csv`` (one row per processed frame: index, stamp in seconds, then milliseconds per
pipeline stage and ``total_ms``; with ``--node``, ``round_trip_ms``: from sending a frame's images
to the node's result) and ``metrics.json`` (frames, fps, map instances, label noise, mean stage
times, the inputs used). A bag with ground truth is also scored as ``eval-bag`` scores it
(AP/AP50/AP25 and map quality in metrics.json); the last line is then ``AP=… AP50=… AP25=…``.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

from samosaic3d_core.cli.arguments import count
from samosaic3d_ros.commands.pipeline_flags import add_pipeline_arguments, node_overrides

HELP = "segment any posed RGB-D rosbag2 (topics and TF found by type) into a map and a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder (mcap or sqlite3) with colour, depth, camera info and poses")
    parser.add_argument("--out", type=Path, required=True, help="output folder: map, pictures, timings, metrics")
    parser.add_argument("--node", action="store_true", help="run it through samosaic3d_node over DDS (lock-step)")
    parser.add_argument("--color-topic", help="colour Image topic (default: found by encoding)")
    parser.add_argument("--depth-topic", help="depth Image topic, registered to the colour image (default: found)")
    parser.add_argument("--camera-info-topic", help="CameraInfo of the depth image (default: in its namespace)")
    parser.add_argument("--instance-topic", help="ground-truth instance id images to score against (default: found)")
    parser.add_argument("--pose-topic", help="PoseStamped/Odometry topic of the camera pose (default: TF)")
    parser.add_argument("--pose-frame", help="frame a PoseStamped pose is of (default: the depth image's frame)")
    parser.add_argument("--map-frame", help="fixed frame of the map (default: map, else the root of the TF tree)")
    add_pipeline_arguments(parser)
    parser.add_argument("--max-frames", type=count, help="segment no more than this many frames")


def run(args: argparse.Namespace) -> int:
    from samosaic3d_ros.bag.discover import Choices, discover
    from samosaic3d_ros.bag.replay import default_params_file
    from samosaic3d_ros.bag.segment import GROUND_TRUTH_MASKS, segment_node, segment_offline
    from samosaic3d_ros.local_install import reexec_with_local_interfaces
    from samosaic3d_ros.params import params_from_yaml

    if args.node:
        if args.masks in GROUND_TRUTH_MASKS:
            raise ValueError(f"--masks {args.masks} reads ground truth the node never receives; drop --node")
        reexec_with_local_interfaces()  # started from the venv without scripts/env.sh: the node needs them
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    choices = Choices(color=args.color_topic, depth=args.depth_topic, camera_info=args.camera_info_topic,
                      instance=args.instance_topic, pose_topic=args.pose_topic, pose_frame=args.pose_frame,
                      map_frame=args.map_frame)
    inputs = discover(args.bag, choices)  # DiscoveryError: one line naming the flag (samosaic3d_core.cli.main)
    print(f"inputs: {inputs.describe()}")
    for note in inputs.notes:
        print(f"  {note}")
    overrides = node_overrides(args)
    params = params_from_yaml(args.config or default_params_file(), **overrides, **inputs.node_parameters())
    if args.node:
        run_ = segment_node(args.bag, inputs, params, args.config, overrides, args.max_frames)
    else:
        run_ = segment_offline(args.bag, inputs, params, args.max_frames)
    if run_.processed == 0 or run_.shown is None:
        raise ValueError(f"no frame of '{args.bag}' could be segmented (see the warnings above)")
    return _write_outputs(args, inputs, params, run_)


def _write_outputs(args, inputs, params, run_) -> int:
    """Score (with ground truth), write DIR, print the summary (and the AP line last)."""
    from samosaic3d_core.eval.map_quality import map_quality
    from samosaic3d_core.masks import build_mask_source
    from samosaic3d_core.pipeline import resolve_pipeline
    from samosaic3d_core.report.scene_report import ReportInputs, write_report
    from samosaic3d_ros.bag.reader import read_frames
    from samosaic3d_ros.bag.scoring import score_bag, summary_line

    scene_map, topics = run_.scene_map, inputs.topics
    score = None
    if topics.instance:
        score = score_bag(read_frames(args.bag, params, topics, args.max_frames), scene_map, params, name=str(args.bag))
    quality = score.quality if score else map_quality(scene_map, None, None, params.segmenter.memory.map_voxel_size)
    fps = round(run_.processed / max(run_.seconds, 1e-9), 2)
    metrics = {
        "bag": str(args.bag), "mode": run_.mode, "frames": run_.frames, "frames_processed": run_.processed,
        "segment_seconds": round(run_.seconds, 2), "fps": fps,
        "pipeline": resolve_pipeline(params.segmenter).pipeline, "masks": params.segmenter.masks.source,
        "map_points": int(len(scene_map.xyz)), **(score.entries() if score else quality),
        "mean_ms": run_.mean_ms(),
        "inputs": {"color": topics.color, "depth": topics.depth, "camera_info": topics.camera_info,
                   "instance": topics.instance or None, "pose_source": inputs.pose_source,
                   "pose_topic": inputs.pose_topic or None, "camera_frame": inputs.camera_frame,
                   "map_frame": inputs.map_frame},
    }
    masks = run_.shown_masks if run_.shown_masks is not None else build_mask_source(params.segmenter.masks)(run_.shown)
    if score:
        shown = ReportInputs(run_.shown, masks, score.points.xyz, score.scored.pred_ids, score.points.gt_instance,
                             scene_map, metrics)
    else:  # the map's own points, by map instance
        shown = ReportInputs(run_.shown, masks, scene_map.xyz, scene_map.instance_ids, None, scene_map, metrics)
    written = write_report(args.out, shown)
    _write_timings(args.out / "timings.csv", run_)
    if score:
        print(summary_line(run_.mode, run_.processed, run_.frames, run_.seconds, quality))
    else:
        print(f"{run_.mode}: {run_.processed}/{run_.frames} frames processed in {run_.seconds:.1f} s ({fps} fps), "
              f"{quality['map_instances']} map instances, label noise {quality['label_noise']:.4f}")
    print(f"wrote {args.out}: {', '.join(sorted(p.name for p in written.values()))}, timings.csv")
    if score:
        print(score.ap_line())
    return 0


def _write_timings(path: Path, run_) -> None:
    """timings.csv: frame, stamp (s), then one column of milliseconds per ``run_.columns``."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "stamp", *(f"{name}_ms" for name in run_.columns)])
        for index, stamp, milliseconds in run_.rows:
            writer.writerow([index, f"{stamp:.6f}", *(f"{ms:.3f}" for ms in milliseconds)])
