"""Render docs/images/rviz_view.png: the demo scene's map as RViz shows it with rviz/samosaic3d.rviz.

    python bench/render_rviz_view.py [--frames 60] [--seed 7] [--out docs/images/rviz_view.png]

The scene is segmented offline by the core pipeline configured from config/samosaic3d.yaml (the node's
parameters), so the map and boxes are what the node would publish for the same frames; the picture is
drawn by ``samosaic3d_core.report.rviz_view`` (RViz itself is not needed).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--width", type=int, default=1280, help="picture width (default 1280)")
    parser.add_argument("--height", type=int, default=800, help="picture height (default 800)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "rviz_view.png")
    args = parser.parse_args()

    from PIL import Image

    from samosaic3d_core.data.synth import SynthConfig, generate_scene
    from samosaic3d_core.report.rviz_view import render_rviz_view
    from samosaic3d_ros.params import build_segmenter, params_from_yaml

    params = params_from_yaml(REPO / "config" / "samosaic3d.yaml")
    segmenter = build_segmenter(params)
    scene = generate_scene(SynthConfig(frames=args.frames), seed=args.seed)
    for frame in scene:
        segmenter.step(dataclasses.replace(frame, instance_gt=None, part_gt=None))  # what the node gets
    scene_map, instances = segmenter.map(), segmenter.instances()
    image = render_rviz_view(scene_map, instances, width=args.width, height=args.height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(args.out, optimize=True)
    print(f"{scene.name}: {len(scene_map)} map points, {len(instances)} instances -> {args.out} "
          f"({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
