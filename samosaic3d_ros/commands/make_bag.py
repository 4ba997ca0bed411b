"""``samosaic3d make-bag``: a synthetic scene as a rosbag2 (colour, depth, camera info, TF, ground truth).

``--layout realsense`` names topics and frames as Intel's ``realsense2_camera`` driver does (aligned depth
under ``/camera/camera``) and puts the camera on a robot's ``map -> odom -> base_link`` TF chain
(``samosaic3d_ros.bag.layout``); ``default`` is the layout ``eval-bag`` and the demo use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from samosaic3d_core.cli.arguments import count, image_side

HELP = "write a synthetic scene as a rosbag2 (mcap/sqlite3)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="bag folder to write")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (same seed, same bag)")
    parser.add_argument("--frames", type=count, default=60, help="number of frames")
    parser.add_argument("--width", type=image_side, default=640)
    parser.add_argument("--height", type=image_side, default=480)
    parser.add_argument("--pose-error", choices=("none", "vio", "poor"), default="none",
                        help="tracking error of the poses on /tf (drift, jitter, jumps; make-data --help); the "
                             "true poses go to /ground_truth/camera_pose")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--layout", choices=("default", "realsense"), default="default",
                        help="topic and TF names: this project's (default) or a RealSense driver's on a robot "
                             "with odometry (map -> odom -> base_link -> camera_link -> ...)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bag folder")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from samosaic3d_core.data.synth import SensorConfig, SynthConfig, generate_scene
    from samosaic3d_core.data.tracking_error import preset
    from samosaic3d_ros.bag.layout import LAYOUTS
    from samosaic3d_ros.bag.writer import write_bag

    if Path(args.out).exists() and not args.overwrite:  # before the scene is rendered
        raise FileExistsError(f"{args.out} exists; --overwrite replaces it")
    sensor = SensorConfig(tracking=preset(args.pose_error))
    config = SynthConfig(frames=args.frames, width=args.width, height=args.height, sensor=sensor)
    scene = generate_scene(config, seed=args.seed)
    frames = tqdm((scene.frame(i) for i in range(len(scene))), total=len(scene), desc=f"bag {scene.name}", unit="frame")
    written = write_bag(args.out, frames, storage=args.storage, overwrite=args.overwrite,
                        bag_layout=LAYOUTS[args.layout])
    print(f"wrote {written} frames of {scene.name} to {args.out}")
    return 0
