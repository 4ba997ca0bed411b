"""Instance-to-Scene (I2S) merger: frame instances x short-term memory instances -> merge matrix.

    frame feats (K, C), boxes (K, 6)     memory feats (S, C), boxes (S, 6)
        q = norm(Wq f̂ + E(size))            k = norm(Wk ĝ + E(size))          (f̂, ĝ: L2-normalised)
    logits (K, S) = scale * q kᵀ  +  a IoU - b gap - c dist  +  bias           (a, b, c >= 0)
    M_short = sigmoid(logits)

The first term is the semantic compatibility of the two instances (cross-attention logits over
the F2I query features; a cosine with a learned scale, which keeps the logit range of features
that are running means in the memory under control); the second is the spatial weighting from 3D
box proximity: IoU of the boxes, the gap between them and the distance of their centres (metres).
Because a, b, c are kept non-negative, boxes farther apart never merge more readily. Each logit
is a sigmoid of its own (not a softmax over memory): a frame instance may match nothing.

Initialisation is deterministic (no random numbers): Wq = Wk = identity and E = 0, so an
untrained merger scores pairs by the cosine of their query features and a hand-set spatial prior
(``init_*`` fields). Box sizes enter the embedding, box positions only the pairwise terms, so the
merger does not depend on where in the world a scene lies.

The module holds no memory state; ``LearnedAssociator`` (``samosaic3d_core.i2s_association``)
feeds it the memory's short-term instances.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class I2SConfig:
    """The merger; ``feat_dim`` must equal the F2I query width (``backbone.out_channels``)."""

    feat_dim: int = 64
    """Width C of the instance features (F2I final instance queries)."""
    box_hidden: int = 32
    """Hidden width of the box-size embedding MLP."""
    init_scale: float = 10.0
    """Initial multiplier of the query/key cosine in the logits."""
    init_iou_weight: float = 4.0
    """Initial a: logit gained per unit of 3D box IoU."""
    init_gap_weight: float = 10.0
    """Initial b: logit lost per metre of gap between the boxes."""
    init_dist_weight: float = 2.0
    """Initial c: logit lost per metre between the box centres."""
    init_bias: float = -7.0
    """Initial logit bias (identical features of touching boxes give +3 at IoU 0)."""

    def __post_init__(self):
        if self.feat_dim < 1 or self.box_hidden < 1:
            raise ValueError(f"feat_dim and box_hidden must be >= 1, got {self.feat_dim}, {self.box_hidden}")
        for name in ("init_scale", "init_iou_weight", "init_gap_weight", "init_dist_weight"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 (it is stored through a softplus), got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "I2SConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"I2SConfig: unknown config keys {unknown}; expected some of {sorted(names)}")
        return cls(**values)


def box_pair_features(frame_boxes: Tensor, memory_boxes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """3D IoU, gap (metres, 0 when touching) and centre distance (metres) of each box pair.

    Args:
        frame_boxes: (K, 6) min xyz, max xyz; memory_boxes: (S, 6).
    Returns:
        three (K, S) tensors.
    """
    lo_a, hi_a = frame_boxes[:, None, :3], frame_boxes[:, None, 3:]  # (K, 1, 3)
    lo_b, hi_b = memory_boxes[None, :, :3], memory_boxes[None, :, 3:]  # (1, S, 3)
    inter = (torch.minimum(hi_a, hi_b) - torch.maximum(lo_a, lo_b)).clamp(min=0).prod(dim=-1)  # (K, S)
    vol_a = (hi_a - lo_a).clamp(min=0).prod(dim=-1)
    vol_b = (hi_b - lo_b).clamp(min=0).prod(dim=-1)
    union = vol_a + vol_b - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))
    gap_xyz = torch.maximum(lo_b - hi_a, lo_a - hi_b).clamp(min=0)  # (K, S, 3)
    gap = gap_xyz.square().sum(dim=-1).clamp(min=1e-12).sqrt() * (gap_xyz.amax(dim=-1) > 0)
    centre_a, centre_b = (lo_a + hi_a) / 2, (lo_b + hi_b) / 2
    dist = (centre_a - centre_b).square().sum(dim=-1).clamp(min=1e-12).sqrt()
    return iou, gap, dist


def _inverse_softplus(value: float) -> float:
    return value + math.log(-math.expm1(-value))


class I2SMerger(nn.Module):
    """Spatially-weighted cross-attention between frame and short-term memory instances."""

    def __init__(self, config: I2SConfig):
        super().__init__()
        self.config = config
        c = config.feat_dim
        self.query = nn.Linear(c, c, bias=False)
        self.key = nn.Linear(c, c, bias=False)
        self.box_embed = nn.Sequential(nn.Linear(3, config.box_hidden), nn.ReLU(), nn.Linear(config.box_hidden, c))
        self.raw_scale = nn.Parameter(torch.tensor(_inverse_softplus(config.init_scale)))
        self.raw_spatial = nn.Parameter(torch.tensor([_inverse_softplus(v) for v in (
            config.init_iou_weight, config.init_gap_weight, config.init_dist_weight)]))
        self.bias = nn.Parameter(torch.tensor(float(config.init_bias)))
        self.reset_parameters()

    @classmethod
    def from_config(cls, config: I2SConfig) -> "I2SMerger":
        return cls(config)

    def reset_parameters(self) -> None:
        """The deterministic initial state (see the module docstring)."""
        with torch.no_grad():
            self.query.weight.copy_(torch.eye(self.config.feat_dim))
            self.key.weight.copy_(torch.eye(self.config.feat_dim))
            hidden = self.box_embed[0]
            hidden.weight.copy_(torch.linspace(-1.0, 1.0, hidden.weight.numel()).reshape(hidden.weight.shape))
            hidden.bias.zero_()
            self.box_embed[2].weight.zero_()
            self.box_embed[2].bias.zero_()

    def spatial_weights(self) -> Tensor:
        """(3,) the non-negative a, b, c of IoU, gap and centre distance."""
        return F.softplus(self.raw_spatial)

    def _embed(self, feats: Tensor, boxes: Tensor, proj: nn.Linear) -> Tensor:
        size = (boxes[:, 3:] - boxes[:, :3]).clamp(min=1e-3).log()  # (n, 3)
        return F.normalize(proj(F.normalize(feats, dim=-1)) + self.box_embed(size), dim=-1)  # (n, C)

    def forward(self, frame_feats: Tensor, frame_boxes: Tensor, memory_feats: Tensor, memory_boxes: Tensor) -> Tensor:
        """Merge logits; ``sigmoid`` of them is M_short.

        Args:
            frame_feats: (K, C) float; frame_boxes: (K, 6) min xyz, max xyz (metres).
            memory_feats: (S, C) float; memory_boxes: (S, 6).
        Returns:
            (K, S) logits (empty when K or S is 0).
        """
        if len(frame_feats) == 0 or len(memory_feats) == 0:
            return frame_feats.new_zeros((len(frame_feats), len(memory_feats)))
        q = self._embed(frame_feats, frame_boxes, self.query)  # (K, C)
        k = self._embed(memory_feats, memory_boxes, self.key)  # (S, C)
        semantic = F.softplus(self.raw_scale) * (q @ k.T)  # (K, S)
        iou, gap, dist = box_pair_features(frame_boxes, memory_boxes)  # (K, S) each
        a, b, c = self.spatial_weights()
        return semantic + a * iou - b * gap - c * dist + self.bias

    def merge_matrix(self, frame_feats: Tensor, frame_boxes: Tensor, memory_feats: Tensor, memory_boxes: Tensor) -> Tensor:
        """(K, S) M_short in [0, 1]."""
        return self(frame_feats, frame_boxes, memory_feats, memory_boxes).sigmoid()
