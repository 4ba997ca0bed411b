"""``samosaic3d train``: the training stages on RGB-D scenes.

    samosaic3d train --stage f2i --data data/synthetic/train --val-data data/synthetic/val --out runs/f2i
    torchrun --nproc_per_node 2 -m samosaic3d_core.cli.main train --stage f2i ...   (DDP)
    samosaic3d train --stage f2i --config config/train_f2i.yaml

    samosaic3d train --stage pair --init runs/f2i/model.safetensors --config config/train_pair.yaml
    samosaic3d train --stage temporal --init runs/pair/model.safetensors --config config/train_temporal.yaml

The pair stage fits the pair head of the frozen F2I model of ``--init`` on same-object fragment
pairs (``samosaic3d_core.train.pair``) and writes that F2I model with its head; sections "pair"
(PairTrainConfig) and "pair_head" (PairHeadConfig), and "data".

The temporal stage trains the I2S merger with L_merge on teacher-forced replays of the training
scenes, the F2I model of ``--init`` frozen (``samosaic3d_core.train.temporal``); it writes
combined F2I + I2S weights. Its config has the sections "i2s" (I2SConfig), "temporal"
(TemporalConfig), "train" and "data"; ``train.val_frames`` counts validation merge problems
(frames) there.

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
    parser.add_argument("--stage", choices=["f2i", "pair", "temporal"], default="f2i",
                        help="what to train (f2i: single-frame assembly; pair: the pair head of the F2I model of "
                        "--init; temporal: I2S merging, needs --init)")
    parser.add_argument("--init", type=Path, help="F2I weights (.safetensors) to start from: frozen in the pair and "
                        "temporal stages, fine-tuned in the f2i stage (its model config must match)")
    parser.add_argument("--data", type=Path, help="folder of training scenes (or data.train in --config)")
    parser.add_argument("--val-data", type=Path, help="folder of validation scenes (validated at each checkpoint)")
    parser.add_argument("--out", type=Path, help="run directory (default runs/f2i, runs/pair or runs/temporal)")
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
    known = {"model", "loss", "train", "data", "i2s", "temporal", "pair", "pair_head"}
    unknown = set(sections) - known if isinstance(sections, dict) else {"<not a mapping>"}
    if unknown:
        raise SystemExit(f"samosaic3d train: {path}: unknown section(s) {sorted(unknown)}; "
                         f"expected some of {sorted(known)}")
    return sections


def _data_arguments(args: argparse.Namespace, data: dict) -> None:
    """Fill data options left unset on the command line from the config's data section."""
    args.data = args.data or (Path(data["train"]) if data.get("train") else None)
    if args.data is None:
        raise SystemExit("samosaic3d train: give --data DIR or data.train in --config")
    if args.val_data is None and data.get("val"):
        args.val_data = Path(data["val"])
    args.masks = args.masks or data.get("masks", "sim")
    args.frame_stride = args.frame_stride or int(data.get("frame_stride", 1))
    if args.point_budget is None and data.get("point_budget") is not None:
        args.point_budget = int(data["point_budget"])


def _train_config(args: argparse.Namespace, sections: dict):
    from samosaic3d_core.train.loop import TrainConfig

    overrides = {"out_dir": str(args.out), "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                 "seed": args.seed, "device": args.device, "num_workers": args.workers, "threads": args.threads,
                 "checkpoint_every": args.checkpoint_every}
    config = TrainConfig(**{**sections.get("train", {}), **{k: v for k, v in overrides.items() if v is not None}})
    if args.no_resume:
        config.resume = False
    return config


def run(args: argparse.Namespace) -> int:
    sections = read_config(args.config) if args.config else {}
    if args.stage == "temporal":
        return run_temporal(args, sections)
    if args.stage == "pair":
        return run_pair(args, sections)
    from samosaic3d_core.data.scannet import list_scenes
    from samosaic3d_core.train.dataset import SceneFrameDataset
    from samosaic3d_core.train.loop import train

    args.out = args.out or Path(sections.get("train", {}).get("out_dir", "runs/f2i"))
    data = sections.get("data", {})
    _data_arguments(args, data)
    if not data.get("augment", True):
        args.no_augment = True
    model_config = F2IConfig.from_dict(sections.get("model", {}))
    init = None
    if args.init is not None:
        from samosaic3d_core.model.checkpoint import load_f2i

        try:
            init, init_config = load_f2i(args.init)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"samosaic3d train: {exc}") from exc
        if "model" in sections and init_config != model_config:
            raise SystemExit(f"samosaic3d train: the config's model section differs from the model of --init "
                             f"{args.init}; drop the section or make it match")
        model_config = init_config
    loss_config = LossConfig(**sections.get("loss", {}))
    train_config = _train_config(args, sections)
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
                      "lift": dataclasses.asdict(lift_config), "augment": dataclasses.asdict(augment)},
             "init": str(args.init) if args.init else None}
    final = train(train_config, model_config, loss_config, train_set, val_set, extra_config=extra, init=init)
    print(f"F2I weights: {final}")
    return 0


def _frozen_init(init: Path, stage: str, device_name: str, threads: int):
    """(F2I model, its config, torch device) of the frozen ``--init`` weights; SystemExit naming
    ``stage`` if they do not load. Sets the torch CPU threads (``threads`` > 0)."""
    from samosaic3d_core.model.checkpoint import load_f2i
    from samosaic3d_core.train.loop import setup_distributed

    try:
        f2i, f2i_config = load_f2i(init)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"{stage}: {exc}") from exc
    _, _, device = setup_distributed(device_name)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    return f2i, f2i_config, device


def run_temporal(args: argparse.Namespace, sections: dict) -> int:
    """``--stage temporal``: train the I2S merger on scene replays, the F2I model of ``--init`` frozen."""
    from samosaic3d_core.data.scannet import list_scenes
    from samosaic3d_core.baseline import DescriptorConfig
    from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
    from samosaic3d_core.model.i2s import I2SConfig
    from samosaic3d_core.pipeline import learned_frame_features
    from samosaic3d_core.train.temporal import MergeDataset, TemporalConfig, train_temporal

    if args.init is None:
        raise SystemExit("samosaic3d train --stage temporal: give --init F2I_WEIGHTS.safetensors (from --stage f2i)")
    for name in ("model", "loss"):
        if name in sections:
            raise SystemExit(f"samosaic3d train --stage temporal: section '{name}' belongs to the f2i stage; "
                             "the F2I model comes from --init, the merger from section 'i2s'")
    args.out = args.out or Path(sections.get("train", {}).get("out_dir", "runs/temporal"))
    _data_arguments(args, sections.get("data", {}))
    train_config = _train_config(args, sections)
    f2i, f2i_config, device = _frozen_init(args.init, "samosaic3d train --stage temporal", train_config.device,
                                           train_config.threads)
    temporal_config = TemporalConfig(**sections.get("temporal", {}))
    color_dim = 3 * temporal_config.color_bins + 3 if temporal_config.color_bins else 0
    i2s_config = I2SConfig(**{"feat_dim": f2i_config.backbone.out_channels, "color_dim": color_dim,
                              **sections.get("i2s", {})})
    lift_config = LiftConfig(**({} if args.point_budget is None else {"point_budget": args.point_budget}))
    frame_model = F2IFrameModel(f2i, F2IFrameConfig(readout=temporal_config.readout,
                                                    group_threshold=temporal_config.group_threshold), device=str(device))
    frame_features = learned_frame_features(frame_model, i2s_config, DescriptorConfig(max(temporal_config.color_bins, 1)))
    make_masks = _mask_factory(args.masks)

    def dataset(root: Path):
        scenes = list_scenes(root)
        if not scenes:
            raise SystemExit(f"samosaic3d train: no scenes found under {root}")
        return MergeDataset(scenes, make_masks, frame_features, lift_config, temporal_config, seed=train_config.seed)

    train_set = dataset(args.data)
    val_set = dataset(args.val_data) if args.val_data else None
    extra = {"init": str(args.init),
             "data": {"train": str(args.data), "val": str(args.val_data) if args.val_data else None,
                      "masks": args.masks, "lift": dataclasses.asdict(lift_config)}}
    final = train_temporal(train_config, temporal_config, frame_model.model, f2i_config, i2s_config,
                           train_set, val_set, extra_config=extra)
    print(f"SAMosaic3D weights (F2I + I2S): {final}")
    return 0


def run_pair(args: argparse.Namespace, sections: dict) -> int:
    """``--stage pair``: fit the pair head on fragment pairs, the F2I model of ``--init`` frozen."""
    from samosaic3d_core.data.scannet import list_scenes
    from samosaic3d_core.model.f2i import _dataclass_from_dict
    from samosaic3d_core.model.pair_head import PairHeadConfig
    from samosaic3d_core.train.pair import PairTrainConfig, train_pair_head

    stage = "samosaic3d train --stage pair"
    if args.init is None:
        raise SystemExit(f"{stage}: give --init F2I_WEIGHTS.safetensors (from --stage f2i)")
    misplaced = sorted(set(sections) - {"pair", "pair_head", "data"})
    if misplaced:
        raise SystemExit(f"{stage}: section(s) {misplaced} belong to other stages; this one reads "
                         "'pair', 'pair_head' and 'data'")
    try:
        values = {**sections.get("pair", {}), **{k: v for k, v in {
            "out_dir": str(args.out) if args.out else None, "steps": args.steps, "lr": args.lr, "seed": args.seed,
            "device": args.device, "threads": args.threads, "frame_stride": args.frame_stride}.items() if v is not None}}
        config = PairTrainConfig(**values)
        head_config = _dataclass_from_dict(PairHeadConfig, sections.get("pair_head", {}), "pair_head")
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"{stage}: {exc}") from exc
    if args.no_resume:
        config.resume = False
    data = sections.get("data", {})
    _data_arguments(args, data)
    f2i, f2i_config, device = _frozen_init(args.init, stage, config.device, config.threads)
    lift_config = LiftConfig(**({} if args.point_budget is None else {"point_budget": args.point_budget}))
    train_scenes = list_scenes(args.data)
    val_scenes = list_scenes(args.val_data) if args.val_data else []
    if not train_scenes:
        raise SystemExit(f"{stage}: no scenes found under {args.data}")
    extra = {"init": str(args.init), "data": {"train": str(args.data), "masks": args.masks,
                                              "val": str(args.val_data) if args.val_data else None}}
    final = train_pair_head(config, head_config, f2i, f2i_config, train_scenes, val_scenes, _mask_factory(args.masks),
                            lift_config, device, extra_config=extra)
    print(f"F2I weights with pair head: {final}")
    return 0
