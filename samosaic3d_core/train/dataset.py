"""F2I training samples: frame -> masks -> lifted points and fragments -> (model input, target).

A sample is built on the fly from a posed RGB-D frame with per-pixel instance ids, a mask source
(``sim`` cuts ground-truth parts into fragments; FastSAM or an over-segmenter work as well) and
the same lifting the online pipeline uses, so training sees what inference sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from samosaic3d_core.lift import LiftConfig, filtered_depth, lift_frame
from samosaic3d_core.losses import F2ITarget, LossConfig, make_target
from samosaic3d_core.masks.base import MaskSource
from samosaic3d_core.model.f2i import F2IInput
from samosaic3d_core.types import Frame, FramePoints, MaskResult


@dataclass
class AugmentConfig:
    """Random changes to a sample's points (applied before targets are computed)."""

    enabled: bool = True
    """Apply the augmentation (training only)."""
    rotate_z: bool = True
    """Rotate about the vertical (z) axis by a uniform random angle."""
    scale: tuple[float, float] = (0.9, 1.1)
    """Uniform random isotropic scale range."""
    shift_xy: float = 1.0
    """Uniform random horizontal shift, metres (+-)."""
    brightness: float = 0.15
    """Uniform random colour gain 1 +- this."""


@dataclass
class Sample:
    """One training frame: model input (M fragments, N points) and ground truth."""

    input: F2IInput
    target: F2ITarget


def augment_points(points: FramePoints, rng: np.random.Generator, config: AugmentConfig) -> FramePoints:
    """A rotated / scaled / shifted / re-lit copy of ``points`` (z stays up, floor stays at its height)."""
    xyz = points.xyz.astype(np.float64)
    if config.rotate_z:
        angle = rng.uniform(0.0, 2 * math.pi)
        c, s = math.cos(angle), math.sin(angle)
        centre = xyz.mean(axis=0) if len(xyz) else np.zeros(3)
        xy = xyz[:, :2] - centre[:2]
        xyz[:, :2] = centre[:2] + xy @ np.array([[c, s], [-s, c]])
    xyz *= rng.uniform(*config.scale)
    xyz[:, :2] += rng.uniform(-config.shift_xy, config.shift_xy, 2)
    gain = rng.uniform(1 - config.brightness, 1 + config.brightness)
    rgb = np.clip(points.rgb.astype(np.float64) * gain, 0, 255).astype(np.uint8)
    return FramePoints(xyz.astype(np.float32), rgb, points.pixel, points.fragment)


def make_sample(
    frame: Frame,
    masks: MaskResult,
    lift_config: LiftConfig,
    loss_config: LossConfig,
    rng: Optional[np.random.Generator] = None,
    augment: Optional[AugmentConfig] = None,
) -> Sample:
    """Lift ``masks`` of ``frame`` and pair the model input with its ground truth.

    ``frame.instance_gt`` is required; ``rng`` + ``augment`` randomise the points.
    """
    if frame.instance_gt is None:
        raise ValueError(f"frame {frame.index}: no instance_gt; F2I training needs per-pixel instance ids")
    points, fragments = lift_frame(frame, masks, lift_config)
    if rng is not None and augment is not None and augment.enabled:
        points = augment_points(points, rng, augment)
    point_ids = frame.instance_gt.reshape(-1)[points.pixel]
    target = make_target(point_ids, points.fragment, len(fragments), points.xyz, loss_config)
    return Sample(F2IInput.from_points(points, len(fragments)), target)


def open_scene(scene_dir: str | Path):
    """The project's scene reader for ``scene_dir`` (ScanNet ``frames_25k`` layout, synthetic scenes too)."""
    from samosaic3d_core.data.scannet import SceneReader

    reader = SceneReader(scene_dir)
    if not (hasattr(reader, "__len__") and hasattr(reader, "__getitem__")):
        raise TypeError(f"SceneReader({scene_dir}) must support len() and [i] to index frames for training")
    return reader


class SceneFrameDataset(torch.utils.data.Dataset):
    """Map-style dataset over (scene, frame) pairs; item ``i`` of epoch ``e`` is deterministic in
    (seed, e, i): the mask source and the augmentation are seeded per item."""

    def __init__(
        self,
        scene_dirs: Sequence[str | Path],
        make_masks: Callable[[int], MaskSource],
        lift_config: LiftConfig,
        loss_config: LossConfig,
        augment: Optional[AugmentConfig] = None,
        frame_stride: int = 1,
        seed: int = 0,
    ):
        """make_masks(seed) -> a mask source (a callable frame -> MaskResult)."""
        if not scene_dirs:
            raise ValueError("SceneFrameDataset: no scenes given")
        self.scene_dirs = [Path(d) for d in scene_dirs]
        self.readers = [open_scene(d) for d in self.scene_dirs]
        self.index = [(s, f) for s, r in enumerate(self.readers) for f in range(0, len(r), max(frame_stride, 1))]
        self.make_masks, self.lift_config, self.loss_config = make_masks, lift_config, loss_config
        self.augment, self.seed, self.epoch = augment, seed, 0

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> Sample:
        scene, frame_index = self.index[i]
        frame = filtered_depth(self.readers[scene][frame_index], self.lift_config)  # as run time reads it
        item_seed = int(np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0])
        masks = self.make_masks(item_seed)(frame)
        rng = np.random.default_rng(item_seed)
        return make_sample(frame, masks, self.lift_config, self.loss_config, rng, self.augment)
