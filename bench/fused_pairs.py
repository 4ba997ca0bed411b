"""Which objects a map fuses, whether the frames kept them apart, and what fused them first.

    python bench/fused_pairs.py data/synth/val
    python bench/fused_pairs.py data/synth/hard_val --set learned_association.i2s_merge_threshold=0.6

For every scene: the learned pipeline (sim masks, ``--set`` overrides) maps it; a map instance holding
two ground-truth objects (each at least 50 scored points and 15 % of the instance) counts them as
a fused pair. For each pair, over the frames that see both (each with at least 30 points, half of
them in a frame instance): how many frames kept them in different frame instances, and the first
frame whose map ids put them together: there the frame model grouped them (one frame instance), or
association joined two frame instances into one map instance; a pair never together in a frame's
map ids was fused later (consolidation, voxel votes). docs/map_quality.md, "Where fused objects
come from".
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
from samosaic3d_core.cli.run import compose_config
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import EvalConfig, build_scene_points, score_map
from samosaic3d_core.memory import SceneMemory
from samosaic3d_core.pipeline import OnlineSegmenter

MIN_FRAME_POINTS = 30
MIN_PAIR_POINTS, MIN_PAIR_SHARE = 50, 0.15


def majority(values: np.ndarray, gt: np.ndarray, obj: int) -> int | None:
    """The id most of ``obj``'s frame points carry, None if it has too few points or most carry none."""
    own = values[gt == obj]
    labelled = own[own > 0]
    if len(own) < MIN_FRAME_POINTS or len(labelled) < 0.5 * len(own):
        return None
    ids, counts = np.unique(labelled, return_counts=True)
    return int(ids[counts.argmax()])


def fused_pairs(pred: np.ndarray, gt: np.ndarray) -> list[tuple[int, int]]:
    pairs = []
    for map_id in np.unique(pred[pred > 0]):
        mine = pred == map_id
        ids, counts = np.unique(gt[mine & (gt > 0)], return_counts=True)
        big = [int(i) for i, c in zip(ids, counts) if c >= MIN_PAIR_POINTS and c >= MIN_PAIR_SHARE * mine.sum()]
        pairs += list(itertools.combinations(sorted(big), 2))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a folder of scenes with ground truth (make-data)")
    parser.add_argument("--set", nargs="*", default=[], help="segmenter overrides NAME=VALUE")
    args = parser.parse_args()

    frame_local: list[np.ndarray] = []
    observe = SceneMemory.observe

    def recording(memory, points, instances, point_local, *rest):
        frame_local.append(np.asarray(point_local).copy())
        return observe(memory, points, instances, point_local, *rest)

    SceneMemory.observe = recording
    config = compose_config(None, {"masks.source": "sim"}, args.set)  # as `samosaic3d run --masks sim`
    totals = Counter()
    for scene_dir in list_scenes(args.data):
        frames = list(SceneReader(scene_dir))
        segmenter = OnlineSegmenter.from_config(config)
        views = []  # per frame: ground truth, frame instance and map id of each point
        for frame in frames:
            result = segmenter.step(frame)
            views.append((frame.instance_gt.reshape(-1)[result.points.pixel], frame_local[-1], result.point_instance))
        eval_config = EvalConfig()
        points = build_scene_points(frames, eval_config)
        pred = score_map(points, segmenter.map(), eval_config, scene_dir.name).pred_ids
        for a, b in fused_pairs(pred, points.gt_instance):
            both = apart = 0
            origin = "later (consolidation or votes)"
            for index, (gt, local, map_ids) in enumerate(views):
                la, lb = majority(local, gt, a), majority(local, gt, b)
                if la is not None and lb is not None:
                    both += 1
                    apart += la != lb
                ma, mb = majority(map_ids, gt, a), majority(map_ids, gt, b)
                if origin.startswith("later") and ma is not None and ma == mb:
                    origin = f"frame {index}: " + ("frame model" if la is not None and la == lb else "association")
            kind = origin.split(": ")[-1]
            totals[kind] += 1
            totals["pairs"] += 1
            totals["kept apart in most frames"] += both > 0 and apart > both / 2
            print(f"{scene_dir.name} objects {a}, {b}: apart in {apart} of {both} frames seeing both; "
                  f"first fused: {origin}")
    print(dict(totals))


if __name__ == "__main__":
    main()
