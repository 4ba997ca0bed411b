"""``samosaic3d train``: the training stages on RGB-D scenes.

    samosaic3d train --stage f2i --data data/synthetic/train --val-data data/synthetic/val --out runs/f2i
    torchrun --nproc_per_node 2 -m samosaic3d_core.cli.main train --stage f2i ...   (DDP)
    samosaic3d train --stage f2i --config config/train_f2i.yaml

    samosaic3d train --stage pair --init runs/f2i/model.safetensors --config config/train_pair.yaml
    samosaic3d train --stage temporal --init runs/pair/model.safetensors --config config/train_temporal.yaml

The pair stage fits the pair head of the frozen F2I model of ``--init`` on same-object fragment
pairs (``samosaic3d_core.train.pair``) and writes that F2I model with its head (and the I2S
merger of ``--init`` when it holds one: a full model with a retrained pair head).

The temporal stage trains the I2S merger with L_merge on teacher-forced replays of the training
scenes, the F2I model of ``--init`` frozen (``samosaic3d_core.train.temporal``); it writes
combined F2I + I2S weights; ``train.val_frames`` counts validation merge problems (frames) there.

Settings come from a YAML (or JSON) file (``--config``) with the sections of the stage's config
(``samosaic3d_core.train.stage_configs``: f2i: data, model, loss, train; pair: data, pair_head,
pair; temporal: data, i2s, temporal, train); unknown keys are rejected; command-line options win.
Relative data paths in the file are taken relative to the current directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np

from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.train.dataset import AugmentConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=["f2i", "pair", "temporal"], default="f2i",
                        help="what to train (f2i: single-frame assembly; pair: the pair head of the F2I model of "
                        "--init; temporal: I2S merging, needs --init)")
    parser.add_argument("--init", type=Path, help="F2I weights (.safetensors) to start from: frozen in the pair and "
                        "temporal stages, fine-tuned in the f2i stage (its model config must match)")
    parser.add_argument("--data", type=Path, help="folder of training scenes (or data.train in --config); "
                        "several joined by ':' are read together")
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
    parser.add_argument("--masks", help="mask source that cuts frames into fragments (default sim); "
                        "several joined by '+' (sim+oversegment) are mixed, one picked per frame")
    parser.add_argument("--frame-stride", type=int, help="use every k-th frame of each scene (default 1)")
    parser.add_argument("--point-budget", type=int, help="points per frame after lifting (LiftConfig.point_budget)")
    parser.add_argument("--no-augment", action="store_true", help="no random rotation/scale/shift/colour")


def _mask_factory(name: str):
    """seed -> mask source. 'sim' is rebuilt per frame so every epoch cuts objects differently;
    other sources are deterministic and built once. Several sources joined by '+' (``sim+oversegment``)
    are mixed: each frame's seed picks one of them at random."""
    from samosaic3d_core.masks import MASK_SOURCES, make_mask_source

    names = name.split("+")
    unknown = [n for n in names if n not in MASK_SOURCES]
    if unknown:
        raise SystemExit(f"samosaic3d train: unknown mask source {unknown[0]!r} in --masks {name!r}; "
                         f"expected one of {', '.join(MASK_SOURCES)}, or several joined by '+'")
    fixed = {n: make_mask_source(n) for n in names if n != "sim"}

    def source(n: str, seed: int):
        return make_mask_source("sim", seed=seed) if n == "sim" else fixed[n]

    if len(names) == 1:
        return lambda seed: source(names[0], seed)
    return lambda seed: source(names[int(np.random.default_rng([seed, 7]).integers(len(names)))], seed)


def _scenes(data: Path, stage: str) -> list[Path]:
    """The scenes of ``--data``/``data.train``: one folder, or several joined by the path separator
    (``data/synth/train:data/synth/train_hard``)."""
    from samosaic3d_core.data.scannet import list_scenes

    scenes: list[Path] = []
    for root in str(data).split(os.pathsep):
        try:
            found = list_scenes(root)
        except ValueError as exc:
            raise SystemExit(f"{stage}: {exc}") from None
        if not found:
            raise SystemExit(f"{stage}: no scenes found under {root}")
        scenes.extend(found)
    return scenes


def _data_arguments(args: argparse.Namespace, data) -> None:
    """Fill data options left unset on the command line from the config's ``DataConfig``."""
    args.data = args.data or (Path(data.train) if data.train else None)
    if args.data is None:
        raise SystemExit("samosaic3d train: give --data DIR or data.train in --config")
    if args.val_data is None and data.val:
        args.val_data = Path(data.val)
    args.masks = args.masks or data.masks
    args.frame_stride = args.frame_stride or data.frame_stride


def _lift_config(args: argparse.Namespace, data) -> LiftConfig:
    return data.lift if args.point_budget is None else dataclasses.replace(data.lift, point_budget=args.point_budget)


def _train_config(args: argparse.Namespace, config):
    overrides = {"out_dir": str(args.out), "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                 "seed": args.seed, "device": args.device, "num_workers": args.workers, "threads": args.threads,
                 "checkpoint_every": args.checkpoint_every}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    return dataclasses.replace(config, resume=False) if args.no_resume else config


def _read(stage: str, args: argparse.Namespace):
    from samosaic3d_core.train.stage_configs import read_stage_config

    try:
        return read_stage_config(stage, args.config)
    except ValueError as exc:
        raise SystemExit(f"samosaic3d train --stage {stage}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    if args.stage == "temporal":
        return run_temporal(args)
    if args.stage == "pair":
        return run_pair(args)
    from samosaic3d_core.train.dataset import SceneFrameDataset
    from samosaic3d_core.train.loop import train

    config, raw = _read("f2i", args)
    args.out = args.out or Path(config.train.out_dir)
    _data_arguments(args, config.data)
    if not config.data.augment:
        args.no_augment = True
    model_config = config.model
    init = None
    if args.init is not None:
        from samosaic3d_core.model.checkpoint import load_f2i

        try:
            init, init_config = load_f2i(args.init)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"samosaic3d train: {exc}") from exc
        if "model" in raw and init_config != model_config:
            raise SystemExit(f"samosaic3d train: the config's model section differs from the model of --init "
                             f"{args.init}; drop the section or make it match")
        model_config = init_config
    loss_config = config.loss
    train_config = _train_config(args, config.train)
    lift_config = _lift_config(args, config.data)
    augment = AugmentConfig(enabled=not args.no_augment)
    make_masks = _mask_factory(args.masks)

    def dataset(root: Path, augment_config):
        return SceneFrameDataset(_scenes(root, "samosaic3d train"), make_masks, lift_config, loss_config, augment_config,
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
    from samosaic3d_core.train.skeleton import setup_distributed

    try:
        f2i, f2i_config = load_f2i(init)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"{stage}: {exc}") from exc
    _, _, device = setup_distributed(device_name)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    return f2i, f2i_config, device


def _rollout_merger(init: Path, replay: str, device):
    """The I2S merger of a combined ``--init`` checkpoint, for replays through the merger's own
    association (``temporal.replay`` "own" / "both"); None for teacher-forced replays."""
    if replay == "teacher":
        return None
    from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, load_samosaic3d

    if not is_samosaic3d_checkpoint(init):
        raise SystemExit(f"samosaic3d train --stage temporal: temporal.replay {replay!r} rolls out the I2S merger "
                         f"of --init, but {init} holds F2I weights only (give F2I + I2S weights)")
    return load_samosaic3d(init, str(device))[2]


def run_temporal(args: argparse.Namespace) -> int:
    """``--stage temporal``: train the I2S merger on scene replays, the F2I model of ``--init`` frozen."""
    from samosaic3d_core.config import from_dict
    from samosaic3d_core.model.frame_model import F2IFrameModel
    from samosaic3d_core.model.i2s import I2SConfig
    from samosaic3d_core.pipeline import learned_frame_features
    from samosaic3d_core.train.temporal import MergeDataset, train_temporal

    if args.init is None:
        raise SystemExit("samosaic3d train --stage temporal: give --init F2I_WEIGHTS.safetensors (from --stage f2i)")
    config, raw = _read("temporal", args)
    args.out = args.out or Path(config.train.out_dir)
    _data_arguments(args, config.data)
    train_config = _train_config(args, config.train)
    f2i, f2i_config, device = _frozen_init(args.init, "samosaic3d train --stage temporal", train_config.device,
                                           train_config.threads)
    temporal_config = config.temporal
    # the merger's widths follow the checkpoint and the descriptor unless the file sets them
    i2s_config = from_dict(I2SConfig, raw.get("i2s"), str(args.config), base=I2SConfig(
        feat_dim=f2i_config.backbone.out_channels, color_dim=temporal_config.descriptor.dim))
    lift_config = _lift_config(args, config.data)
    # rollouts associate as run time does, with the frame instances' concavity where cannot_link reads it
    concavity = temporal_config.replay != "teacher" and temporal_config.learned_association.reads_concavity
    frame_model = F2IFrameModel(f2i, temporal_config.frame_model, device=str(device), concavity=concavity)
    frame_features = learned_frame_features(frame_model, i2s_config, temporal_config.descriptor)
    make_masks = _mask_factory(args.masks)
    rollout_merger = _rollout_merger(args.init, temporal_config.replay, device)

    def dataset(root: Path):
        return MergeDataset(_scenes(root, "samosaic3d train"), make_masks, frame_features, lift_config, temporal_config,
                            seed=train_config.seed, rollout_merger=rollout_merger)

    train_set = dataset(args.data)
    val_set = dataset(args.val_data) if args.val_data else None
    extra = {"init": str(args.init),
             "data": {"train": str(args.data), "val": str(args.val_data) if args.val_data else None,
                      "masks": args.masks, "lift": dataclasses.asdict(lift_config)}}
    final = train_temporal(train_config, temporal_config, frame_model.model, f2i_config, i2s_config,
                           train_set, val_set, extra_config=extra)
    print(f"SAMosaic3D weights (F2I + I2S): {final}")
    return 0


def run_pair(args: argparse.Namespace) -> int:
    """``--stage pair``: fit the pair head on fragment pairs, the F2I model of ``--init`` frozen."""
    from samosaic3d_core.train.pair import train_pair_head

    stage = "samosaic3d train --stage pair"
    if args.init is None:
        raise SystemExit(f"{stage}: give --init F2I_WEIGHTS.safetensors (from --stage f2i)")
    file_config, _ = _read("pair", args)
    overrides = {"out_dir": str(args.out) if args.out else None, "steps": args.steps, "lr": args.lr,
                 "seed": args.seed, "device": args.device, "threads": args.threads, "frame_stride": args.frame_stride}
    config = dataclasses.replace(file_config.pair, **{k: v for k, v in overrides.items() if v is not None})
    if args.no_resume:
        config.resume = False
    _data_arguments(args, file_config.data)
    f2i, f2i_config, device = _frozen_init(args.init, stage, config.device, config.threads)
    lift_config = _lift_config(args, file_config.data)
    train_scenes = _scenes(args.data, stage)
    val_scenes = _scenes(args.val_data, stage) if args.val_data else []
    extra = {"init": str(args.init), "data": {"train": str(args.data), "masks": args.masks,
                                              "val": str(args.val_data) if args.val_data else None}}
    final = train_pair_head(config, file_config.pair_head, f2i, f2i_config, train_scenes, val_scenes,
                            _mask_factory(args.masks), lift_config, device, extra_config=extra)
    if keep_merger(args.init, final):
        print(f"F2I weights with the new pair head and the I2S merger of {args.init}: {final}")
    else:
        print(f"F2I weights with pair head: {final}")
    return 0


def keep_merger(init: Path, trained: Path) -> bool:
    """When ``init`` holds an I2S merger (F2I + I2S weights), write it into ``trained`` (the pair
    stage's F2I weights) too, so that retraining a full model's pair head gives a full model. The
    merger reads the F2I queries, which the pair stage does not change. True if it did."""
    from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, load_f2i, load_samosaic3d, save_samosaic3d

    if not is_samosaic3d_checkpoint(init):
        return False
    _, _, merger, i2s_config = load_samosaic3d(init)
    f2i, f2i_config = load_f2i(trained)
    save_samosaic3d(trained, f2i, f2i_config, merger, i2s_config)
    return True
