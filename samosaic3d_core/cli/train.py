"""``samosaic3d train --stage f2i``: train the Fragment-to-Instance model on RGB-D scenes.

    samosaic3d train --stage f2i --data data/synthetic/train --val-data data/synthetic/val --out runs/f2i
    torchrun --nproc_per_node 2 -m samosaic3d_core.cli.main train --stage f2i ...   (DDP)

    samosaic3d train --stage f2i --config config/train_f2i.yaml

Settings come from a YAML (or JSON) file (``--config``) with the sections "model", "loss",
"train" (as written to a run's config.json) and "data" (train, val, masks, frame_stride,
point_budget, augment); command-line options win. Relative data paths in the file are taken
relative to the current directory.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.losses import LossConfig
from samosaic3d_core.model.f2i import F2IConfig
from samosaic3d_core.train.dataset import AugmentConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=["f2i"], default="f2i", help="what to train (f2i: single-frame assembly)")
    parser.add_argument("--data", type=Path, help="folder of training scenes (or data.train in --config)")
    parser.add_argument("--val-data", type=Path, help="folder of validation scenes (validated at each checkpoint)")
    parser.add_argument("--out", type=Path, default=Path("runs/f2i"), help="run directory")
    parser.add_argument("--config", type=Path, help="YAML/JSON with 'model', 'loss', 'train', 'data' sections")
    parser.add_argument("--steps", type=int, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, help="frames per step per process")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="run seed")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train")
    parser.add_argument("--workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    parser.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    parser.add_argument("--masks", help="mask source that cuts frames into fragments (default sim)")
    parser.add_argument("--frame-stride", type=int, help="use every k-th frame of each scene (default 1)")
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


def read_config(path: Path) -> dict:
    """The sections of a YAML/JSON training config; SystemExit naming the file if it is unusable."""
    import yaml

    try:
        sections = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"samosaic3d train: cannot read config {path}: {exc}") from exc
    unknown = set(sections) - {"model", "loss", "train", "data"} if isinstance(sections, dict) else {"<not a mapping>"}
    if unknown:
        raise SystemExit(f"samosaic3d train: {path}: unknown section(s) {sorted(unknown)}; "
                         "expected model, loss, train, data")
    return sections


def run(args: argparse.Namespace) -> int:
    from samosaic3d_core.data.scannet import list_scenes
    from samosaic3d_core.train.dataset import SceneFrameDataset
    from samosaic3d_core.train.loop import TrainConfig, train

    sections = read_config(args.config) if args.config else {}
    data = sections.get("data", {})
    args.data = args.data or (Path(data["train"]) if data.get("train") else None)
    if args.data is None:
        raise SystemExit("samosaic3d train: give --data DIR or data.train in --config")
    if args.val_data is None and data.get("val"):
        args.val_data = Path(data["val"])
    args.masks = args.masks or data.get("masks", "sim")
    args.frame_stride = args.frame_stride or int(data.get("frame_stride", 1))
    if args.point_budget is None and data.get("point_budget") is not None:
        args.point_budget = int(data["point_budget"])
    if not data.get("augment", True):
        args.no_augment = True
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
