#!/usr/bin/env python3
"""Fit the learned instance confidence (samosaic3d_core/instance_scorer.py) to saved maps.

Each --maps RUN=DATA pairs a folder of maps written by ``samosaic3d run`` (with the "support"
confidence, the default before "learned": the support is one of the features) with the scenes they
were made from; every map instance on the scored points is one sample, its best IoU with a
ground-truth instance the target. --val pairs are only scored: AP with the maps' own confidence and
re-ranked by the fitted scorer.

    samosaic3d make-data --out data/synth/score_train --scenes 8 --frames 60 --seed 120 --width 320 --height 240
    samosaic3d run --data data/synth/score_train --out runs/score_maps/score_train_m0 --masks sim \
        --set memory.confidence=support --set masks.sim.seed=0
    python scripts/train_instance_scorer.py --maps runs/score_maps/score_train_m0=data/synth/score_train \
        --out samosaic3d_core/checkpoints/instance_scorer.json

(scripts/train_model.sh runs the whole recipe.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from samosaic3d_core.eval.instance_ap import SceneEvalInput, evaluate_matches, match_scene
from samosaic3d_core.eval.map_quality import score_map
from samosaic3d_core.eval.scene_points import build_scene_points
from samosaic3d_core.instance_scorer import fit_scorer, instance_features
from samosaic3d_core.io.scene_map import read_scene_map
from samosaic3d_core.train.dataset import open_scene


def scene_samples(map_path: Path, scene_dir: Path, voxel_size: float):
    """Features and best IoU of the instances of one map on its scene's scored points, and what AP scores."""
    scene_map = read_scene_map(map_path)
    transferred = score_map(build_scene_points(open_scene(scene_dir)), scene_map, name=scene_dir.name)
    owner = np.asarray(scene_map.instance_ids, np.int64)
    num_ids = int(owner.max(initial=0))
    support = np.zeros(num_ids)
    np.maximum.at(support, owner[owner > 0] - 1, np.asarray(scene_map.scores, np.float64)[owner > 0])
    features = instance_features(scene_map.xyz, owner, num_ids, voxel_size, support)
    ids = np.unique(transferred.pred_ids[transferred.pred_ids > 0])  # the rows of the scored masks, ascending
    scored = transferred.eval_input
    gt = np.asarray(scored.gt_instance, np.int64)
    gt_size = np.bincount(gt, minlength=gt.max(initial=0) + 1)
    iou = np.zeros(len(ids))
    for k, mask in enumerate(scored.pred_masks):
        inter = np.bincount(gt[mask], minlength=len(gt_size))[1:]
        if len(inter):
            iou[k] = (inter / (mask.sum() + gt_size[1:] - inter)).max()
    return features[ids - 1], iou, scored


def collect(pairs: list[str], voxel_size: float):
    features, iou, scenes = [], [], []
    for pair in pairs:
        run, _, data = pair.partition("=")
        if not data:
            raise SystemExit(f"--maps/--val take RUN=DATA, got {pair!r}")
        maps = sorted(Path(run).glob("*.npz"))
        if not maps:
            raise SystemExit(f"no maps (*.npz) in {run}")
        for path in maps:
            f, y, scored = scene_samples(path, Path(data) / path.stem, voxel_size)
            features.append(f)
            iou.append(y)
            scenes.append(scored)
            print(f"{path}: {len(y)} instances", file=sys.stderr)
    return np.concatenate(features), np.concatenate(iou), scenes


def ap(scenes: list[SceneEvalInput], scores: np.ndarray | None = None) -> tuple[float, float]:
    matches, start = [], 0
    for scene in scenes:
        n = len(scene.pred_scores)
        s = scene.pred_scores if scores is None else scores[start:start + n]
        start += n
        matches.append(match_scene(SceneEvalInput(scene.gt_instance, scene.pred_masks, np.asarray(s, np.float64))))
    result = evaluate_matches(matches)
    return 100 * result.ap, 100 * result.ap50


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maps", action="append", default=[], required=True, help="RUN=DATA to fit on (repeatable)")
    parser.add_argument("--val", action="append", default=[], help="RUN=DATA to score only (repeatable)")
    parser.add_argument("--out", type=Path, help="write the scorer here (JSON)")
    parser.add_argument("--voxel", type=float, default=0.02, help="the maps' voxel size (memory.map_voxel_size)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    features, iou, _ = collect(args.maps, args.voxel)
    scorer = fit_scorer(features, iou, seed=args.seed, voxel_size=args.voxel)
    print(f"fitted on {len(iou)} instances (mean best IoU {iou.mean():.3f}); weights "
          + ", ".join(f"{w:+.2f}" for w in scorer.weights))
    for pair in args.val:
        vf, _, scenes = collect([pair], args.voxel)
        print(f"{pair}: AP / AP50 with the maps' confidence %.1f / %.1f, re-ranked %.1f / %.1f"
              % (*ap(scenes), *ap(scenes, scorer(vf))))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(scorer.to_dict(trained_on=args.maps), indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
