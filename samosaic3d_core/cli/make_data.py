"""``samosaic3d make-data``: write synthetic scenes in the ScanNet frames layout."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from samosaic3d_core.cli.arguments import count, image_side

STYLES = ("default", "hard", "kitchen")  # SynthConfig.style; named here so that --help imports no generator code
STYLE_HELP = """scene styles (--style):
  default  living rooms, offices, bedrooms with 8-20 objects: the training distribution;
           a seed gives the same scene as before styles existed
  hard     15-25 objects in the cases instance segmentation gets wrong: shelves packed
           with touching books and boxes, chairs pushed in to the table edge, stacked
           boxes side by side, rows of touching items of repeating colours on desks and
           cabinets, furniture 3-9 mm from the walls
  kitchen  10-22 objects in a layout no model is trained on (zero-shot evaluation):
           counters along the walls, an island with stools or chairs, a fridge, cups,
           bowls and bottles spaced out on the worktops"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = STYLE_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the epilog's lines
    parser.add_argument("--out", required=True, type=Path, help="output folder; scenes go to OUT/synth_s<seed>_<i>")
    parser.add_argument("--scenes", type=count, default=1, help="number of scenes (default 1)")
    parser.add_argument("--frames", type=count, default=300, help="frames per scene (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; scene i is drawn from (seed, i)")
    parser.add_argument("--width", type=image_side, default=640, help="image width in pixels (default 640)")
    parser.add_argument("--height", type=image_side, default=480, help="image height in pixels (default 480)")
    parser.add_argument("--style", choices=STYLES, default="default",
                        help="scene style, see below (default: default)")
    parser.add_argument("--depth-noise", type=float, nargs="?", const=0.0025, default=0.0, metavar="SIGMA_AT_1M",
                        help="Kinect-like depth noise, std dev in metres at 1 m growing with z^2 "
                             "(flag alone: 0.0025; default off)")
    parser.add_argument("--holes", action="store_true",
                        help="drop depth at discontinuities, on dark surfaces and at random")
    parser.add_argument("--max-range", type=float, default=0.0, help="drop depth beyond this many metres (0 = off)")
    parser.add_argument("--pose-error", choices=("none", "vio", "poor"), default="none",
                        help="tracking error of the written poses: random-walk drift, jitter and (poor) "
                             "relocalisation jumps; true poses go to pose_true/ (docs/tracking_error.md)")
    parser.add_argument("--pose-noise-cm", type=float, default=0.0, help="std dev of an independent per-frame translation error (on top of --pose-error)")
    parser.add_argument("--pose-noise-deg", type=float, default=0.0, help="std dev of an independent per-frame rotation error (on top of --pose-error)")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="colour image format (default jpg)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from samosaic3d_core.data.synth import SensorConfig, SynthConfig, generate_scene, write_scene
    from samosaic3d_core.data.tracking_error import preset

    sensor = SensorConfig(depth_noise=args.depth_noise, holes=args.holes, max_range=args.max_range,
                          pose_noise_cm=args.pose_noise_cm, pose_noise_deg=args.pose_noise_deg,
                          tracking=preset(args.pose_error))
    config = SynthConfig(width=args.width, height=args.height, frames=args.frames, style=args.style, sensor=sensor)
    start = time.perf_counter()
    for i in range(args.scenes):
        scene = generate_scene(config, args.seed, i)
        path = write_scene(scene, args.out, image_format=args.format, progress=not args.quiet)
        print(f"{path}  ({len(scene.objects)} objects, {len(scene)} frames)")
    print(f"wrote {args.scenes} scene(s) to {args.out.resolve()} in {time.perf_counter() - start:.1f} s")
    return 0
