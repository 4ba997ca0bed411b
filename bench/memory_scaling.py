"""Per-frame time with 10 / 100 / 500 / 1000 instances already in memory.

    python bench/memory_scaling.py [--pipeline learned --checkpoint models/samosaic3d.safetensors]

The memory is pre-filled with N small instances (30 points each, placed on a grid outside the
room, random features of the memory's width, so they occupy memory without touching the scene);
then the same real frames are segmented by every pre-filled segmenter in turn (round-robin, so
load changes on the machine hit all sizes alike) and the median per-frame step time is taken. The last
line gives the ratio of the largest to the smallest N: the cost of a frame should not grow with
the size of the map (target < 1.2).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from samosaic3d_core.types import FramePoints, Instances


def prefill(segmenter: OnlineSegmenter, count: int, seed: int = 0) -> None:
    """Add ``count`` instances far from the scene to the segmenter's memory, in batches of 50."""
    memory = segmenter.memory
    rng = np.random.default_rng(seed)
    feat_dim = memory.feat_dim or 0
    side = int(np.ceil(np.sqrt(count)))
    offsets = np.stack(np.meshgrid(np.arange(3), np.arange(3), np.arange(3) + 1, indexing="ij"), -1).reshape(-1, 3)[:30]
    for start in range(0, count, 50):
        ids = np.arange(start, min(count, start + 50))
        xyz = np.concatenate([np.array([100.0 + 0.5 * (i % side), 100.0 + 0.5 * (i // side), 0.0]) + 0.02 * offsets
                              for i in ids]).astype(np.float32)
        local = np.repeat(np.arange(1, len(ids) + 1), len(offsets))
        points = FramePoints(xyz=xyz, rgb=np.full((len(xyz), 3), 128, np.uint8), pixel=np.zeros(len(xyz), np.int64),
                             fragment=np.zeros(len(xyz), np.int32))
        box_min = np.stack([xyz[local == k + 1].min(0) for k in range(len(ids))])
        box_max = np.stack([xyz[local == k + 1].max(0) for k in range(len(ids))])
        instances = Instances(
            ids=np.arange(1, len(ids) + 1), scores=np.full(len(ids), 0.5, np.float32), box_min=box_min, box_max=box_max,
            num_points=np.full(len(ids), len(offsets), np.int64),
            feats=rng.normal(size=(len(ids), feat_dim)).astype(np.float32), centroid=(box_min + box_max) / 2,
        )
        obs = memory.observe(points, instances, local, frame_index=-1, timestamp=-1.0)
        memory.integrate(obs, np.zeros(len(ids), np.int64))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="baseline")
    parser.add_argument("--checkpoint")
    parser.add_argument("--masks", default="sim")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500, 1000])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--seed", type=int, default=300)
    args = parser.parse_args(argv)
    frames = list(generate_scene(SynthConfig(frames=args.frames + 1, width=320, height=240), seed=args.seed))
    config = SegmenterConfig.from_flat({"pipeline": args.pipeline, "masks.source": args.masks,
                                        "checkpoint": args.checkpoint or ""})
    segmenters = {}
    for size in args.sizes:
        segmenters[size] = segmenter = OnlineSegmenter.from_config(config)
        segmenter.step(frames[0])  # fixes the memory's feature width
        prefill(segmenter, size)
    times = {size: [] for size in args.sizes}
    for frame in frames[1:]:  # round-robin, so a change in machine load hits every size alike
        for size, segmenter in segmenters.items():
            started = time.perf_counter()
            segmenter.step(frame)
            times[size].append(time.perf_counter() - started)
    medians = {size: statistics.median(t) for size, t in times.items()}
    for size, segmenter in segmenters.items():
        print(f"| {size} | {len(segmenter.instances())} | {1000 * medians[size]:.1f} |")
    ratio = medians[max(args.sizes)] / medians[min(args.sizes)]
    print(f"ratio {max(args.sizes)} / {min(args.sizes)} instances: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    print("| instances pre-filled | alive after the run | median ms/frame |\n|---|---|---|")
    raise SystemExit(main())
