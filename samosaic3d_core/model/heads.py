"""Instance heads shared by all decoder layers: mask over the frame's points, 3D box, objectness.

Boxes are regressed in the frame's own box: centre as a fraction of the frame's point AABB,
size as a fraction of its extent (both squashed to [0, 1]). The visible part of an object lies
inside the frame's points, so this range is exact and the L1 loss is scale free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

MIN_FRAME_EXTENT = 0.05
"""Metres; the frame box is at least this wide per axis so flat views stay well conditioned."""


@dataclass
class HeadsConfig:
    """Layer-wise prediction heads."""

    mlp_layers: int = 3
    """Depth of the mask-embedding and box MLPs."""


@dataclass
class LayerPrediction:
    """What one decoder layer predicts for N̂ instance queries over N frame points.

    mask_logits: (N̂, N) per-point mask logits
    boxes:       (N̂, 6) centre (3) and size (3), normalised to the frame box, in [0, 1]
    objectness:  (N̂,) logits
    """

    mask_logits: Tensor
    boxes: Tensor
    objectness: Tensor


def frame_box(xyz: Tensor) -> tuple[Tensor, Tensor]:
    """The frame's reference box: (origin (3,), extent (3,)) of the points' AABB, extent >= MIN_FRAME_EXTENT."""
    if len(xyz) == 0:
        return xyz.new_zeros(3), xyz.new_full((3,), MIN_FRAME_EXTENT)
    lo, hi = xyz.min(dim=0).values, xyz.max(dim=0).values
    extent = (hi - lo).clamp(min=MIN_FRAME_EXTENT)
    return (lo + hi) / 2 - extent / 2, extent


def normalize_boxes(box_min: Tensor, box_max: Tensor, origin: Tensor, extent: Tensor) -> Tensor:
    """World AABBs (K, 3) + (K, 3) -> (K, 6) [centre, size] in frame-box units."""
    return torch.cat([((box_min + box_max) / 2 - origin) / extent, (box_max - box_min) / extent], dim=1)


def denormalize_boxes(boxes: Tensor, origin: Tensor, extent: Tensor) -> tuple[Tensor, Tensor]:
    """(K, 6) frame-box units -> world (box_min (K, 3), box_max (K, 3))."""
    centre = origin + boxes[:, :3] * extent
    half = boxes[:, 3:] * extent / 2
    return centre - half, centre + half


def mlp(in_channels: int, hidden: int, out_channels: int, num_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(num_layers):
        last = i == num_layers - 1
        layers.append(nn.Linear(in_channels if i == 0 else hidden, out_channels if last else hidden))
        if not last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class InstanceHeads(nn.Module):
    """Instance queries (N̂, C) + point mask features (N, C) -> LayerPrediction."""

    def __init__(self, config: HeadsConfig, channels: int):
        super().__init__()
        self.config = config
        self.norm = nn.LayerNorm(channels)
        self.mask_features = nn.Linear(channels, channels)
        self.mask_embed = mlp(channels, channels, channels, config.mlp_layers)
        self.box = mlp(channels, channels, 6, config.mlp_layers)
        self.objectness = nn.Linear(channels, 1)

    def point_mask_features(self, point_feats: Tensor) -> Tensor:
        """(N, C) -> (N, C) features the mask embeddings are dotted with (computed once per frame)."""
        return self.mask_features(point_feats)

    def forward(self, queries: Tensor, mask_feats: Tensor) -> LayerPrediction:
        """queries: (N̂, C); mask_feats: (N, C) from ``point_mask_features``."""
        queries = self.norm(queries)
        mask_logits = self.mask_embed(queries) @ mask_feats.T  # (N̂, N)
        boxes = torch.sigmoid(self.box(queries))  # (N̂, 6)
        return LayerPrediction(mask_logits, boxes, self.objectness(queries)[:, 0])
