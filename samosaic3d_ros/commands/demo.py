"""``samosaic3d demo``: generate a scene, segment it through the ROS 2 node, score it, write a report.

    samosaic3d demo --out out/demo            # through the node over DDS (rosbag replay)
    samosaic3d demo --out out/demo --offline  # straight into the core pipeline, no ROS

Steps: a synthetic room is written in the ScanNet frames layout (``OUT/data``) and as a rosbag
(``OUT/scene.mcap``); the bag is replayed into ``samosaic3d_node`` in lock-step (every frame is
processed); the node's final ``/instances/cloud`` is scored with the evaluator; ``OUT/report``
gets the pictures and metrics. Without an importable rclpy the demo says so and runs offline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import time
from pathlib import Path

from samosaic3d_core.cli.arguments import count, image_side
from samosaic3d_ros.commands.pipeline_flags import add_pipeline_arguments, node_overrides

HELP = "generate a scene, segment it, score it and write a picture report"

DEFAULT_SEED = 7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"scene seed (default {DEFAULT_SEED})")
    parser.add_argument("--frames", type=count, default=90, help="frames of the scan (default 90)")
    parser.add_argument("--width", type=image_side, default=640, help="image width (default 640)")
    parser.add_argument("--height", type=image_side, default=480, help="image height (default 480)")
    parser.add_argument("--offline", action="store_true", help="run the core pipeline directly, without ROS")
    add_pipeline_arguments(parser)


def _ros_available() -> bool:
    try:
        import rclpy  # noqa: F401
        import samosaic3d_msgs.msg  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from samosaic3d_core.data.scannet import SceneReader
    from samosaic3d_core.data.synth import SynthConfig, generate_scene, write_scene
    from samosaic3d_core.eval import (
        EvalConfig, ap_entries, build_scene_points, evaluate_scenes, format_ap_line, score_map,
    )
    from samosaic3d_core.report.scene_report import ReportInputs, write_report
    from samosaic3d_ros.bag.reader import without_ground_truth
    from samosaic3d_ros.bag.replay import default_params_file
    from samosaic3d_ros.local_install import reexec_with_local_interfaces
    from samosaic3d_core.masks import build_mask_source
    from samosaic3d_core.pipeline import resolve_pipeline
    from samosaic3d_ros.params import build_segmenter, params_from_yaml

    out = args.out
    overrides = node_overrides(args)
    if args.masks in ("sim", "oracle") and not args.offline:
        raise SystemExit(f"--masks {args.masks} reads ground truth the node never receives; add --offline")
    offline = args.offline
    if not offline:
        reexec_with_local_interfaces()  # started from the venv without scripts/env.sh: the node needs them
    if not offline and not _ros_available():
        print("rclpy or samosaic3d_msgs is not importable (run `make setup` / source scripts/env.sh); "
              "running the demo offline, without the node")
        offline = True

    started = time.perf_counter()
    scene = generate_scene(SynthConfig(frames=args.frames, width=args.width, height=args.height), seed=args.seed)
    scene_dir = write_scene(scene, out / "data")
    frames = list(SceneReader(scene_dir))
    print(f"scene {scene.name}: {len(scene.objects)} objects, {len(frames)} frames -> {scene_dir}")

    params_file = args.config or str(default_params_file())
    params = params_from_yaml(params_file, **overrides)
    seg_started = time.perf_counter()
    with contextlib.ExitStack() as stack:  # a node started here is stopped on the way out
        if offline:
            segmenter = build_segmenter(params)
            for frame in _progress(frames, "segment"):
                segmenter.step(frame if params.segmenter.masks.source in ("sim", "oracle")
                               else without_ground_truth(frame))
            scene_map, processed, mode = segmenter.map(), len(frames), "offline (core pipeline)"
            frame_seconds = []
        else:
            from samosaic3d_ros.bag.replay import NodeProcess, ReplayConfig, replay
            from samosaic3d_ros.bag.writer import write_bag

            bag, recorded = out / "scene.mcap", out / "node_outputs"
            replay_config = ReplayConfig(params_file=params_file, overrides=overrides, record=str(recorded))
            node = stack.enter_context(NodeProcess(replay_config))  # it loads its model while the bag is written
            write_bag(bag, frames, overwrite=True)
            if recorded.is_dir():  # the previous demo's recording in this output folder
                shutil.rmtree(recorded)
            print(f"bag: {bag}; replaying it into samosaic3d_node (lock-step) ...")
            result = replay(bag, replay_config, node=node)
            node.request_stop()  # the node shuts down while its map is scored
            scene_map, processed, mode = result.final_map, result.frames_processed, "ROS 2 node over DDS"
            frame_seconds = list(result.frame_seconds.values())
        seg_seconds = time.perf_counter() - seg_started

        config = EvalConfig()
        points = build_scene_points(frames, config)
        scored = score_map(points, scene_map, config, scene.name)
        ap = evaluate_scenes([scored.eval_input], config.min_region_size)

        shown = max(frames, key=_visible_instances)
        shown_masks = build_mask_source(params.segmenter.masks)(shown)  # the masks the segmenter saw
        metrics = {
            "scene": scene.name, "seed": args.seed, "frames": len(frames), "frames_processed": processed,
            "mode": mode, "pipeline": resolve_pipeline(params.segmenter).pipeline,
            "masks": params.segmenter.masks.source,
            **ap_entries(ap),
            "segment_seconds": round(seg_seconds, 2), "fps": round(processed / max(seg_seconds, 1e-9), 2),
            **_stream_entries(frame_seconds),
            "gt_instances": int(len(set(points.gt_instance.tolist()) - {0})), "map_points": int(len(scene_map.xyz)),
            **scored.quality(params.segmenter.memory.map_voxel_size),
        }
        report = out / "report"
        write_report(report, ReportInputs(shown, shown_masks, points.xyz, scored.pred_ids, points.gt_instance,
                                          scene_map, metrics))
        print(json.dumps(metrics))
        print(f"demo finished in {time.perf_counter() - started:.0f} s; report: {report}/ "
              "(overview.png, map_top_down.png, map_perspective.png, metrics.json)")
        print(format_ap_line(ap))
    return 0


def _stream_entries(frame_seconds: list[float]) -> dict:
    """Through the node: the lock-step rate once it runs (``fps`` also counts starting the node,
    loading the model and writing the bag, up to the node's final map) and the median round trip,
    images out to result back."""
    if not frame_seconds:
        return {}
    ordered = sorted(frame_seconds)
    return {"stream_fps": round(len(ordered) / sum(ordered), 2), "round_trip_ms": round(1e3 * ordered[len(ordered) // 2], 1)}


def _progress(items, desc):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="frame")


def _visible_instances(frame) -> int:
    """Ground-truth instances covering at least 0.5 % of the image (the report shows a busy view)."""
    import numpy as np

    ids, counts = np.unique(frame.instance_gt[frame.instance_gt > 0], return_counts=True)
    return int((counts >= 0.005 * frame.instance_gt.size).sum())
