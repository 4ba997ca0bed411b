"""Baseline pipeline on analytic box rooms: per-stage timing at a 10k point budget and merge-rule variants.

    python bench/pipeline_baseline.py [--scenes 3] [--frames 40] [--size 640x480] [--pose-noise 0.01]

Scenes are rooms of boxes (furniture built from 1-3 box parts, floor and walls) ray-cast
analytically, seen by a camera circling the room; mask sources are ideal: "objects" (one mask
per object, one per floor/wall), "parts" (one per part) and "mixed" (per frame and object, at
random either). Quality is a point-level, class-agnostic AP on the map voxels (ScanNet-style:
predictions lying mostly on floor/walls are ignored), enough to compare merge rules with each
other; the project's evaluator is the reference for reported numbers.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from samosaic3d_core.baseline import AssociationConfig, FragmentsAsInstances, FrameModelConfig, HeuristicAssociator
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult


# ----------------------------------------------------------------- scene
def make_room(rng: np.random.Generator, num_objects: int = 12):
    """Boxes (min, max, object id, part id, rgb); object id 0 = floor/walls. World z is up."""
    boxes = [((-3, -3, -0.1), (3, 3, 0.0), 0), ((-3, -3, 0), (-2.9, 3, 2.5), 0), ((2.9, -3, 0), (3, 3, 2.5), 0),
             ((-3, -3, 0), (3, -2.9, 2.5), 0), ((-3, 2.9, 0), (3, 3, 2.5), 0)]
    placed = []
    while len(placed) < num_objects:
        size = rng.uniform([0.3, 0.3, 0.3], [1.0, 1.0, 1.1])
        centre = rng.uniform(-2.3, 2.3, 2)
        lo, hi = centre - size[:2] / 2, centre + size[:2] / 2
        if any(np.all(lo < h + 0.05) and np.all(hi > l - 0.05) for l, h in placed) or np.hypot(*centre) < 1.0:
            continue
        placed.append((lo, hi))
        obj = len(placed)
        # split the object into 1-3 parts stacked in z (table top + base, shelf boards, ...)
        cuts = np.sort(rng.uniform(0.2, 0.8, rng.integers(0, 3))) * size[2]
        z = np.concatenate([[0.0], cuts, [size[2]]])
        for z0, z1 in zip(z[:-1], z[1:]):
            boxes.append(((lo[0], lo[1], z0), (hi[0], hi[1], z1), obj))
    colours = rng.integers(40, 220, (len(boxes), 3))
    bmin = np.array([b[0] for b in boxes], np.float64)
    bmax = np.array([b[1] for b in boxes], np.float64)
    obj = np.array([b[2] for b in boxes])
    return bmin, bmax, obj, colours


def look_at(eye, target) -> np.ndarray:
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], 1)
    pose[:3, 3] = eye
    return pose


def render(room, pose, k: CameraIntrinsics, rng, index: int) -> tuple[Frame, np.ndarray]:
    """Frame (with instance_gt = object id) and the (H, W) part index (-1 = nothing hit)."""
    bmin, bmax, obj, colours = room
    v, u = np.mgrid[0 : k.height, 0 : k.width].reshape(2, -1).astype(np.float64)
    dirs = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], 1) @ pose[:3, :3].T
    dirs[np.abs(dirs) < 1e-9] = 1e-9
    origin = pose[:3, 3]
    depth = np.full(len(u), np.inf)
    part = np.full(len(u), -1)
    face = np.zeros(len(u), np.int64)
    for b in range(len(bmin)):
        t1, t2 = (bmin[b] - origin) / dirs, (bmax[b] - origin) / dirs
        tmin = np.minimum(t1, t2)
        near, far = tmin.max(1), np.maximum(t1, t2).min(1)
        hit = (near <= far) & (near > 0) & (near < depth)
        depth[hit], part[hit], face[hit] = near[hit], b, tmin[hit].argmax(1)
    shade = np.array([0.75, 0.9, 1.0])[face] * (0.9 + 0.1 * np.sin(u / 23.0) * np.cos(v / 31.0))
    rgb = np.clip(colours[np.maximum(part, 0)] * shade[:, None] + rng.normal(0, 4, (len(u), 3)), 0, 255)
    depth = np.where(part >= 0, depth + rng.normal(0, 0.001 + 0.0025 * np.minimum(depth, 9) ** 2 / 4), 0)
    shape = (k.height, k.width)
    gt = np.where(part >= 0, obj[np.maximum(part, 0)], 0).reshape(shape).astype(np.int32)
    frame = Frame(rgb.reshape(*shape, 3).astype(np.uint8), depth.reshape(shape).astype(np.float32), pose, k,
                  timestamp=index / 30.0, index=index, instance_gt=gt)
    return frame, part.reshape(shape)


def trajectory(num_frames: int, rng, pose_noise: float) -> list[np.ndarray]:
    poses = []
    for i in range(num_frames):
        a = 2 * np.pi * i / num_frames * 1.25  # a bit more than a full circle: revisits
        eye = np.array([1.3 * np.cos(a), 1.3 * np.sin(a), 1.5])
        target = np.array([2.2 * np.cos(a + 0.9), 2.2 * np.sin(a + 0.9), 0.4])
        pose = look_at(eye, target)
        if pose_noise:
            angle = rng.normal(0, np.radians(0.5), 3)
            rx, ry, rz = angle
            rot = _rot(0, rx) @ _rot(1, ry) @ _rot(2, rz)
            pose[:3, :3] = rot @ pose[:3, :3]
            pose[:3, 3] += rng.normal(0, pose_noise, 3)
        poses.append(pose)
    return poses


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def masks_for(kind: str, frame: Frame, part: np.ndarray, room, rng) -> MaskResult:
    """Ideal masks: per object ("objects"), per part ("parts"), or per object either ("mixed")."""
    obj = room[2]
    if kind == "parts":
        label = part
    else:
        # object-level label: background parts stay separate, objects are one mask ...
        label = np.where(part >= 0, np.where(obj[np.maximum(part, 0)] > 0, 1000 + obj[np.maximum(part, 0)], part), -1)
        if kind == "mixed":  # ... except a random half of the objects, cut into parts this frame
            split = rng.random(obj.max() + 1) < 0.5
            label = np.where((part >= 0) & split[obj[np.maximum(part, 0)]], part, label)
    ids, fragment_map = np.unique(label, return_inverse=True)
    fragment_map = fragment_map.reshape(label.shape) - (1 if ids[0] == -1 else 0)
    num = len(ids) - (1 if ids[0] == -1 else 0)
    masks = np.stack([fragment_map == j for j in range(num)])
    return MaskResult(masks, np.full(num, 0.8, np.float32), fragment_map.astype(np.int32))


# ----------------------------------------------------------------- scoring
def point_ap(pred: np.ndarray, scores: dict[int, float], gt: np.ndarray) -> dict[str, float]:
    """Class-agnostic AP over IoU 0.5:0.95, AP50, AP25 of predicted vs ground-truth point labels (0 = none)."""
    gt_ids = [g for g in np.unique(gt) if g > 0]
    preds = [p for p in np.unique(pred) if p > 0 and np.mean(gt[pred == p] > 0) > 0.5]  # ignore floor/walls
    preds.sort(key=lambda p: -scores[p])
    iou = np.zeros((len(preds), len(gt_ids)))
    for i, p in enumerate(preds):
        pm = pred == p
        for j, g in enumerate(gt_ids):
            gm = gt == g
            iou[i, j] = np.count_nonzero(pm & gm) / np.count_nonzero(pm | gm)
    result = {}
    for threshold in np.arange(0.25, 0.951, 0.05):
        taken, tp = set(), []
        for i in range(len(preds)):
            cand = [j for j in np.argsort(-iou[i]) if iou[i, j] >= threshold and j not in taken]
            tp.append(bool(cand))
            if cand:
                taken.add(cand[0])
        tp = np.array(tp, float)
        recall = np.cumsum(tp) / max(len(gt_ids), 1)
        precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
        precision = np.maximum.accumulate(precision[::-1])[::-1] if len(tp) else precision
        result[round(threshold, 2)] = float(np.sum(np.diff(np.concatenate([[0], recall])) * precision))
    return {"AP": np.mean([result[t] for t in result if t >= 0.5]), "AP50": result[0.5], "AP25": result[0.25],
            "preds": len(preds), "gts": len(gt_ids)}


def map_ground_truth(xyz: np.ndarray, room, margin: float = 0.02) -> np.ndarray:
    """Object id of each map point: the object whose part box contains it (0 = floor, walls, none)."""
    bmin, bmax, obj, _ = room
    label = np.zeros(len(xyz), np.int64)
    for b in np.flatnonzero(obj > 0):
        inside = np.all((xyz >= bmin[b] - margin) & (xyz <= bmax[b] + margin), axis=1)
        label[inside] = obj[b]
    return label


# ----------------------------------------------------------------- main
def run_variant(frames, room_of, config: SegmenterConfig, mask_kind: str, seed: int):
    rng = np.random.default_rng(seed)
    per_frame, metrics, growth = [], [], []
    holder = {}
    seg = OnlineSegmenter(lambda f: holder["masks"], FragmentsAsInstances(config.sub_config(FrameModelConfig)),
                          HeuristicAssociator(config.sub_config(AssociationConfig)), config)
    for scene, scene_frames in enumerate(frames):
        seg.reset()
        for frame, part in scene_frames:
            holder["masks"] = masks_for(mask_kind, frame, part, room_of[scene], rng)
            result = seg.step(frame)
            per_frame.append(result.timings)
            growth.append((seg.memory.num_voxels, len(seg.instances()), result.timings["associate"] + result.timings["memory"]))
        scene_map = seg.map()
        inst = seg.instances()
        scores = dict(zip(inst.ids.tolist(), inst.scores.tolist()))
        metrics.append(point_ap(scene_map.instance_ids, scores, map_ground_truth(scene_map.xyz, room_of[scene])))
    mean = {key: float(np.mean([m[key] for m in metrics])) for key in metrics[0]}
    median_ms = {stage: 1000 * float(np.median([t[stage] for t in per_frame])) for stage in per_frame[0]}
    return median_ms, mean, growth


VARIANTS = {
    "default": {},
    "no-join": {"overlap_join_threshold": 2.0},
    "iou+colour": {"overlap_weight": 0.0, "overlap_join_threshold": 2.0, "iou_weight": 0.6,
                   "feature_weight": 0.4, "merge_threshold": 0.5},
    "iou+colour-thr0.45": {"overlap_weight": 0.0, "overlap_join_threshold": 2.0, "iou_weight": 0.6,
                           "feature_weight": 0.4, "merge_threshold": 0.45},
    "overlap-only": {"iou_weight": 0.0, "feature_weight": 0.0, "overlap_weight": 1.0},
    "no-colour": {"feature_weight": 0.0},
    "fine-cells": {"association_voxel_size": 0.02},
    "cells-0.1": {"association_voxel_size": 0.1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--pose-noise", type=float, default=0.0, help="std of per-frame pose jitter (m; 0.5 deg rotation)")
    parser.add_argument("--masks", default="objects,mixed,parts")
    parser.add_argument("--variants", default="all", help=f"comma-separated names of {list(VARIANTS)}, or 'all'")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    k = CameraIntrinsics(525.0 * width / 640, 525.0 * height / 480, width / 2 - 0.5, height / 2 - 0.5, width, height)
    rooms, frames = [], []
    start = time.perf_counter()
    for s in range(args.scenes):
        rng = np.random.default_rng(100 + s)
        room = make_room(rng)
        rooms.append(room)
        frames.append([render(room, pose, k, rng, i) for i, pose in enumerate(trajectory(args.frames, rng, args.pose_noise))])
    print(f"rendered {args.scenes} x {args.frames} frames of {width}x{height} in {time.perf_counter() - start:.1f} s")
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    for mask_kind in args.masks.split(","):
        for name in names:
            config = replace(SegmenterConfig(), **VARIANTS[name])
            ms, quality, growth = run_variant(frames, rooms, config, mask_kind, seed=7)
            stages = " ".join(f"{s} {ms[s]:.1f}" for s in ("lift", "frame_model", "associate", "memory", "total"))
            print(f"[{mask_kind:7s}] {name:20s} AP {quality['AP']:.3f} AP50 {quality['AP50']:.3f} "
                  f"AP25 {quality['AP25']:.3f} preds {quality['preds']:.1f}/{quality['gts']:.0f} | median ms {stages}")
    g = np.array(growth)
    first, last = g[: args.frames // 4], g[-args.frames // 4 :]
    print(f"mean associate+memory ms: first quarter {1000 * first[:, 2].mean():.2f} (map {first[:, 0].mean():.0f} voxels, "
          f"{first[:, 1].mean():.0f} inst), last quarter {1000 * last[:, 2].mean():.2f} "
          f"(map {last[:, 0].mean():.0f} voxels, {last[:, 1].mean():.0f} inst)")


if __name__ == "__main__":
    main()
