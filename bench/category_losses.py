"""Where a map loses, by object category: best IoU, found, and where each object's points went.

    python bench/category_losses.py --data data/synth/hard_val --pred out/run_hard_val

Scores the maps of ``samosaic3d run`` (``--pred``) as ``samosaic3d evaluate`` does, on synthetic
scenes, whose ``scene.json`` names each object's category. For every object with at least
``--min-points`` scored points: its best IoU with a map instance, and the shares of its points in
that instance, in other instances and in none (unlabelled). Prints one row per category: objects,
mean best IoU, share found at IoU 0.5, and the mean of the three shares (docs/map_quality.md, "A
shelf's back panel on the wall", "A chair's back on its seat"). ``--pieces`` also lists, per
scene, the map's *pieces*: instances on at least ``--min-points`` scored points, most of them on
objects (the object instances the metrics count), that are not the instance holding most of their
object (docs/map_quality.md, "What is left": the long scan's pieces).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import EvalConfig, build_scene_points, score_map
from samosaic3d_core.io.scene_map import read_scene_map


@dataclass(frozen=True)
class ObjectLoss:
    """One object's best IoU with a map instance and the shares of its points: in that instance, in
    other instances, in none."""

    category: str
    best_iou: float
    in_best: float
    in_others: float
    unlabelled: float


def object_losses(gt: np.ndarray, pred_masks: np.ndarray, categories: dict[int, str], min_points: int) -> list[ObjectLoss]:
    """``ObjectLoss`` of every object of ``categories`` with at least ``min_points`` of the scored
    points ``gt`` (N,) carries; ``pred_masks`` (K, N) bool, the map instances on those points."""
    pred_masks = np.asarray(pred_masks, bool).reshape(-1, len(gt))
    covered = pred_masks.any(axis=0)
    losses = []
    for obj, category in sorted(categories.items()):
        own = gt == obj
        size = int(own.sum())
        if size < max(min_points, 1):
            continue
        inter = (pred_masks & own).sum(axis=1)
        union = (pred_masks | own).sum(axis=1)
        iou = inter / np.maximum(union, 1)
        best = int(np.argmax(iou)) if len(iou) else -1
        in_best = inter[best] / size if best >= 0 else 0.0
        unlabelled = float((own & ~covered).sum()) / size
        losses.append(ObjectLoss(category, float(iou[best]) if best >= 0 else 0.0, float(in_best),
                                 1.0 - float(in_best) - unlabelled, unlabelled))
    return losses


@dataclass(frozen=True)
class Piece:
    """A map instance that holds part of an object but is not that object's best-covering instance."""

    instance: int
    points: int
    category: str
    object_id: int
    share: float  # of the object's scored points
    z_range: tuple[float, float]


def find_pieces(gt: np.ndarray, pred_masks: np.ndarray, xyz: np.ndarray, categories: dict[int, str],
                min_points: int) -> list[Piece]:
    """The object instances of ``pred_masks`` (K, N) on the scored points (``gt`` (N,), ``xyz`` (N, 3))
    that are pieces: at least ``min_points`` points, more than half on objects, and not the instance
    with most points of their majority object."""
    pred_masks = np.asarray(pred_masks, bool).reshape(-1, len(gt))
    pieces = []
    for k, mask in enumerate(pred_masks):
        on = gt[mask]
        if len(on) < max(min_points, 1) or 2 * np.count_nonzero(on > 0) <= len(on):
            continue
        ids, counts = np.unique(on[on > 0], return_counts=True)
        obj = int(ids[np.argmax(counts)])
        if int(np.argmax((pred_masks & (gt == obj)).sum(axis=1))) == k:
            continue
        z = xyz[mask, 2]
        pieces.append(Piece(k, len(on), categories.get(obj, "?"), obj, float(counts.max() / np.count_nonzero(gt == obj)),
                            (float(z.min()), float(z.max()))))
    return pieces


def category_table(losses: list[ObjectLoss], found_at: float = 0.5) -> list[str]:
    """Markdown rows, one per category (most objects first): objects, mean best IoU, share found at
    ``found_at``, mean shares in the best instance, in others, unlabelled."""
    groups = defaultdict(list)
    for loss in losses:
        groups[loss.category].append(loss)
    rows = ["| category | objects | mean best IoU | found at IoU 0.5 | in the best instance | in others | unlabelled |",
            "|---|---|---|---|---|---|---|"]
    for category, group in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        mean = lambda name: np.mean([getattr(loss, name) for loss in group])  # noqa: E731
        found = np.mean([loss.best_iou >= found_at for loss in group])
        rows.append(f"| {category} | {len(group)} | {mean('best_iou'):.2f} | {100 * found:.0f} % | "
                    f"{mean('in_best'):.2f} | {mean('in_others'):.2f} | {mean('unlabelled'):.2f} |")
    return rows


def scene_categories(scene_dir: Path) -> dict[int, str]:
    """Instance id -> category from a synthetic scene's ``scene.json``."""
    path = scene_dir / "scene.json"
    if not path.is_file():
        raise SystemExit(f"{scene_dir}: no scene.json (categories come from synthetic scenes, make-data)")
    return {int(o["instance_id"]): str(o["category"]) for o in json.loads(path.read_text())["objects"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of scenes (make-data)")
    parser.add_argument("--pred", type=Path, required=True, help="folder of maps <scene>.npz (samosaic3d run --out)")
    parser.add_argument("--min-points", type=int, default=100, help="scored points an object needs (as the benchmark)")
    parser.add_argument("--pieces", action="store_true", help="also list each scene's pieces (instances not their object's own)")
    args = parser.parse_args(argv)
    config = EvalConfig()
    losses = []
    for scene_dir in list_scenes(args.data):
        map_path = args.pred / f"{scene_dir.name}.npz"
        if not map_path.is_file():
            raise SystemExit(f"{map_path}: no map for scene {scene_dir.name}")
        points = build_scene_points(SceneReader(scene_dir), config)
        scene = score_map(points, read_scene_map(map_path), config, scene_dir.name).eval_input
        losses += object_losses(scene.gt_instance, scene.pred_masks, scene_categories(scene_dir), args.min_points)
        if args.pieces:
            for piece in find_pieces(scene.gt_instance, scene.pred_masks, points.xyz, scene_categories(scene_dir),
                                     args.min_points):
                print(f"{scene_dir.name}: piece {piece.instance}, {piece.points} points, {piece.category} "
                      f"{piece.object_id} ({100 * piece.share:.0f} % of it), z {piece.z_range[0]:.2f}-{piece.z_range[1]:.2f} m")
    print(f"{args.pred} on {args.data}: {len(losses)} objects")
    print("\n".join(category_table(losses)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
