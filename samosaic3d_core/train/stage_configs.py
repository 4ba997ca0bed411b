"""The files ``samosaic3d train --config`` reads: one dataclass per stage, composed of the
components' own configs (read with ``samosaic3d_core.config.from_dict``: unknown keys are rejected
with the nearest valid one).

    f2i       data, model (F2IConfig), loss (LossConfig), train (TrainConfig)
    pair      data, pair_head (PairHeadConfig), pair (PairTrainConfig)
    temporal  data, i2s (I2SConfig), temporal (TemporalConfig), train (TrainConfig)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from samosaic3d_core.config import from_dict
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.losses import LossConfig
from samosaic3d_core.model.f2i import F2IConfig
from samosaic3d_core.model.i2s import I2SConfig
from samosaic3d_core.model.pair_head import PairHeadConfig
from samosaic3d_core.train.pair import PairTrainConfig
from samosaic3d_core.train.skeleton import TrainConfig
from samosaic3d_core.train.temporal import TemporalConfig


@dataclass
class DataConfig:
    """The scenes a stage reads and how their frames become points and fragments."""

    train: Optional[str] = None
    """Folder of training scenes, or several joined by ':' (--data wins)."""
    val: Optional[str] = None
    """Folder of validation scenes (--val-data wins)."""
    masks: str = "sim"
    """Mask source that cuts frames into fragments; several joined by '+' (``sim+oversegment``) are mixed,
    each frame cut by one of them picked at random."""
    frame_stride: int = 1
    """Use every k-th frame of each scene (f2i stage; the pair stage has ``pair.frame_stride``)."""
    augment: bool = True
    """Random rotation / scale / shift / colour of the training frames (f2i stage)."""
    lift: LiftConfig = field(default_factory=LiftConfig)
    """Lifting of the frames to points, as at run time (``lift.point_budget`` points per frame)."""


@dataclass
class F2IStageConfig:
    """``--stage f2i`` (config/train_f2i.yaml): the frame model learns the single-frame losses."""

    data: DataConfig = field(default_factory=DataConfig)
    model: F2IConfig = field(default_factory=F2IConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class PairStageConfig:
    """``--stage pair`` (config/train_pair.yaml): the pair head of a frozen F2I model."""

    data: DataConfig = field(default_factory=DataConfig)
    pair_head: PairHeadConfig = field(default_factory=PairHeadConfig)
    pair: PairTrainConfig = field(default_factory=PairTrainConfig)


@dataclass
class TemporalStageConfig:
    """``--stage temporal`` (config/train_temporal.yaml): the I2S merger on scene replays (teacher-forced, own, or both)."""

    data: DataConfig = field(default_factory=DataConfig)
    i2s: I2SConfig = field(default_factory=I2SConfig)
    """``feat_dim`` follows the F2I checkpoint and ``color_dim`` the colour descriptor unless set here."""
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/temporal"))


STAGE_CONFIGS = {"f2i": F2IStageConfig, "pair": PairStageConfig, "temporal": TemporalStageConfig}


def read_stage_config(stage: str, path: Optional[Path]) -> tuple[object, dict]:
    """(the stage's config, the file's raw sections) from a YAML/JSON file (None: the defaults);
    ValueError naming the file and key when the file is unusable."""
    import yaml

    raw: dict = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read config {path}: {exc}") from exc
    cls = STAGE_CONFIGS[stage]
    return from_dict(cls, raw, source=str(path), base=cls()), raw
