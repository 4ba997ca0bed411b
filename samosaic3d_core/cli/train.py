"""``samosaic3d train --stage f2i``: train the Fragment-to-Instance model on RGB-D scenes.

    samosaic3d train --stage f2i --data data/synthetic/train --val-data data/synthetic/val --out runs/f2i
    torchrun --nproc_per_node 2 -m samosaic3d_core.cli.main train --stage f2i ...   (DDP)

Model, loss and training settings can also come from a JSON file (``--config``) with the keys
"model", "loss", "train" (as written to a run's config.json); command-line options win.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.losses import LossConfig
from samosaic3d_core.model.f2i import F2IConfig
from samosaic3d_core.train.dataset import AugmentConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=["f2i"], default="f2i", help="what to train (f2i: single-frame assembly)")
    parser.add_argument("--data", required=True, type=Path, help="folder of training scenes")
    parser.add_argument("--val-data", type=Path, help="folder of validation scenes (validated at each checkpoint)")
    parser.add_argument("--out", type=Path, default=Path("runs/f2i"), help="run directory")
    parser.add_argument("--config", type=Path, help="JSON with 'model' / 'loss' / 'train' sections")
    parser.add_argument("--steps", type=int, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, help="frames per step per process")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="run seed")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    parser.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    parser.add_argument("--masks", default="sim", help="mask source that cuts frames into fragments")
    parser.add_argument("--frame-stride", type=int, default=1, help="use every k-th frame of each scene")
    parser.add_argument("--point-budget", type=int, help="points per frame after lifting (LiftConfig.point_budget)")
    parser.add_argument("--no-augment", action="store_true", help="no random rotation/scale/shift/colour")


def _mask_factory(name: str):
    """seed -> mask source. 'sim' is rebuilt per frame so every epoch cuts objects differently;
    other sources are deterministic and built once."""
    from samosaic3d_core.masks import make_mask_source

    if name == "sim":
        return lambda seed: make_mask_source("sim", seed=seed)
    source = make_mask_source(name)
    return lambda seed: source


def run(args: argparse.Namespace) -> int:
    from samosaic3d_core.data.scannet import list_scenes
    from samosaic3d_core.train.dataset import SceneFrameDataset
    from samosaic3d_core.train.loop import TrainConfig, train

    sections = json.loads(args.config.read_text()) if args.config else {}
    model_config = F2IConfig.from_dict(sections.get("model", {}))
    loss_config = LossConfig(**sections.get("loss", {}))
    overrides = {"out_dir": str(args.out), "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                 "seed": args.seed, "device": args.device, "num_workers": args.workers, "threads": args.threads,
                 "checkpoint_every": args.checkpoint_every}
    train_config = TrainConfig(**{**sections.get("train", {}), **{k: v for k, v in overrides.items() if v is not None}})
    if args.no_resume:
        train_config.resume = False
    lift_config = LiftConfig(**({} if args.point_budget is None else {"point_budget": args.point_budget}))
    augment = AugmentConfig(enabled=not args.no_augment)
    make_masks = _mask_factory(args.masks)

    def dataset(root: Path, augment_config):
        scenes = list_scenes(root)
        if not scenes:
            raise SystemExit(f"samosaic3d train: no scenes found under {root}")
        return SceneFrameDataset(scenes, make_masks, lift_config, loss_config, augment_config,
                                 frame_stride=args.frame_stride, seed=train_config.seed)

    train_set = dataset(args.data, augment)
    val_set = dataset(args.val_data, None) if args.val_data else None
    extra = {"data": {"train": str(args.data), "val": str(args.val_data) if args.val_data else None,
                      "masks": args.masks, "frame_stride": args.frame_stride,
                      "lift": dataclasses.asdict(lift_config), "augment": dataclasses.asdict(augment)}}
    final = train(train_config, model_config, loss_config, train_set, val_set, extra_config=extra)
    print(f"F2I weights: {final}")
    return 0
