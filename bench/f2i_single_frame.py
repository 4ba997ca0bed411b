"""Single-frame assembly on held-out synthetic scenes: fragments-as-instances vs hard vs soft F2I.

    python bench/f2i_single_frame.py --checkpoint models/f2i.safetensors --data data/synth/test

Each frame is cut into fragments by the ``sim`` mask source (fixed seed), lifted to 3D (the
pipeline's LiftConfig), and turned into frame instances by
  fragments  every fragment is an instance (the baseline's frame model);
  hard       the F2I model with argmax assignment of fragments to centers (no gradient path);
  soft       the F2I model as trained (softmax assignment, W-gated decoder);
each learned model read out per point, by fragment cover, and by the affinity (the default): the pair
head's refined affinity for a model that has one (then also a row of W alone, pair head off).
Scores: ScanNet-protocol class-agnostic AP / AP50 / AP25 over the frames' points (every frame a
"scene", matches pooled over frames), and count MAE: |instances output - visible GT instances|
for all, and |N̂ (count head) - true count| for the learned rows. GT = the instance id of each
point's pixel; only instances with >= ``--min-region`` points in a frame are scored.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch

from samosaic3d_core.baseline import FragmentsAsInstances
from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.eval import SceneEvalInput, evaluate_scenes
from samosaic3d_core.lift import LiftConfig, lift_frame
from samosaic3d_core.losses import LossConfig
from samosaic3d_core.masks import make_mask_source
from samosaic3d_core.model.checkpoint import load_f2i
from samosaic3d_core.model.f2i import F2IInput
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel


def frame_inputs(scene_dirs, stride: int, mask_seed: int, lift: LiftConfig):
    """(frame, points, fragments, gt per point) for every ``stride``-th frame of the scenes."""
    for scene_dir in scene_dirs:
        masks = make_mask_source("sim", seed=mask_seed)
        for frame in SceneReader(scene_dir, stride=stride):
            points, fragments = lift_frame(frame, masks(frame), lift)
            gt = frame.instance_gt.reshape(-1)[points.pixel].astype(np.int64)
            yield frame, points, fragments, gt


def visible_count(gt: np.ndarray, min_points: int) -> int:
    ids, counts = np.unique(gt[gt > 0], return_counts=True)
    return int((counts >= min_points).sum())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path, help="held-out scenes (ScanNet frames layout)")
    parser.add_argument("--stride", type=int, default=5, help="every k-th frame")
    parser.add_argument("--mask-seed", type=int, default=12345)
    parser.add_argument("--min-region", type=int, default=100, help="points below which a region is not scored")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    soft_model, _ = load_f2i(args.checkpoint)
    hard_model = copy.deepcopy(soft_model)
    hard_model.assembly.config = copy.copy(hard_model.assembly.config)
    hard_model.assembly.config.grouping = "hard"
    variants = {
        "fragments-as-instances": FragmentsAsInstances(),
        "hard F2I (argmax), point readout": F2IFrameModel(hard_model, F2IFrameConfig(readout="points")),
        "soft F2I (learned), point readout": F2IFrameModel(soft_model, F2IFrameConfig(readout="points")),
        "hard F2I (argmax), fragment readout": F2IFrameModel(hard_model, F2IFrameConfig(readout="fragments")),
        "soft F2I (learned), fragment readout": F2IFrameModel(soft_model, F2IFrameConfig(readout="fragments")),
        "hard F2I (argmax), affinity readout": F2IFrameModel(hard_model, F2IFrameConfig(readout="affinity")),
        "soft F2I (learned), affinity readout": F2IFrameModel(soft_model, F2IFrameConfig(readout="affinity")),
    }
    if soft_model.pair is not None:
        without_head = copy.deepcopy(soft_model)
        without_head.pair = None
        variants["soft F2I (learned), affinity readout on W (pair head off)"] = F2IFrameModel(
            without_head, F2IFrameConfig(readout="affinity"))
    scenes = {name: [] for name in variants}
    count_err = {name: [] for name in variants}
    head_err = {name: [] for name in variants}
    seconds = {name: 0.0 for name in variants}
    frames = 0
    for frame, points, fragments, gt in frame_inputs(list_scenes(args.data), args.stride, args.mask_seed, LiftConfig()):
        frames += 1
        truth = visible_count(gt, args.min_region)
        head_truth = visible_count(gt, LossConfig().min_gt_points)  # the count head's training target
        for name, model in variants.items():
            started = time.perf_counter()
            instances, labels = model(frame, points, fragments)
            seconds[name] += time.perf_counter() - started
            k = len(instances)
            masks = labels[None, :] == np.arange(1, k + 1)[:, None]
            scenes[name].append(SceneEvalInput(gt, masks, instances.scores.astype(np.float64), name=f"{frame.index}"))
            count_err[name].append(abs(int((masks.sum(1) >= args.min_region).sum()) - truth))
            if isinstance(model, F2IFrameModel) and len(fragments):
                with torch.no_grad():
                    pred = model.model([F2IInput.from_points(points, len(fragments), "cpu")])[0]
                head_err[name].append(abs(int(pred.count_logits.argmax()) + 1 - head_truth))

    lines = [f"Single-frame assembly, {frames} held-out frames of {len(list_scenes(args.data))} scenes "
             f"({args.data}, stride {args.stride}), sim masks seed {args.mask_seed}, min region {args.min_region} points, "
             f"checkpoint {args.checkpoint.name}, CPU {torch.get_num_threads()} threads", "",
             "| frame model | AP | AP50 | AP25 | count MAE (output) | count MAE (N̂ head) | ms/frame |",
             "|---|---|---|---|---|---|---|"]
    for name in variants:
        ap = evaluate_scenes(scenes[name], args.min_region)
        head = f"{np.mean(head_err[name]):.2f}" if head_err[name] else "–"
        lines.append(f"| {name} | {100 * ap.ap:.1f} | {100 * ap.ap50:.1f} | {100 * ap.ap25:.1f} | "
                     f"{np.mean(count_err[name]):.2f} | {head} | {1000 * seconds[name] / max(frames, 1):.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
