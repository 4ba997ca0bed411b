"""Instance-to-Scene (I2S) merger: frame instances x short-term memory instances -> merge matrix.

    frame feats (K, C + H), boxes (K, 6)       memory feats (S, C + H), boxes (S, 6)
    overlap (K, S, 2): cell containment and owned fraction of the pair (``FrameObservation``)

    q = norm(Wq f̂ + E(size))          k = norm(Wk ĝ + E(size))          (f̂, ĝ: L2-normalised queries)
    semantic (K, S)  = s q kᵀ  +  h cos(colour_f, colour_g)
    spatial  (K, S)  = a IoU + o containment + w owned - b gap - c dist
    logits           = semantic + spatial + MLP(cues) + bias                     (s, h, a, o, w, b, c >= 0)
    M_short          = sigmoid(logits)

A feature row is the F2I instance query (first C = ``feat_dim`` entries) followed by a colour
descriptor of the instance's points (H = ``color_dim`` entries, 0 = none; see
``samosaic3d_core.baseline.color_descriptor``). The first term is the cross-attention logit of
the two queries (a cosine with a learned scale, which keeps the range of memory features, running
means, under control); the colour cosine is the appearance cue. The spatial weighting combines the
3D box proximity (IoU, gap between the boxes, distance of their centres, metres) with how much the
two instances overlap on the memory's coarse cell grid: a partial new view lying on an instance
seen before has a low box IoU but a high containment. Every linear weight is kept non-negative, so
boxes farther apart never merge more readily. The pair MLP learns interactions of the
compatibility cues (containment, owned fraction, size ratio, both cosines); distances are left
out of it, which keeps the monotonicity above. Each logit is a sigmoid of its own (not a softmax
over memory): a frame instance may match nothing, and several frame instances (pieces of one
object) may match the same memory instance.

Initialisation is deterministic (no random numbers): Wq = Wk = identity, E = 0, the MLP's output
layer 0, and the linear weights a hand-set prior (``init_*`` fields) close to the heuristic
baseline's merge rule, so the untrained merger is a usable rule and training starts from it. Box
sizes enter the embedding, box positions only the pairwise terms, so the merger does not depend on
where in the world a scene lies.

The module holds no memory state; ``LearnedAssociator`` (``samosaic3d_core.i2s_association``)
feeds it the memory's short-term instances.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from samosaic3d_core.geometry import box_centre_distance, box_gap, box_iou

LINEAR_TERMS = ("scale", "color", "iou", "containment", "owned", "gap", "dist")
"""The non-negative linear weights of the logits, in ``I2SMerger.linear_weights`` order."""


@dataclass
class I2SConfig:
    """The merger; ``feat_dim`` must equal the F2I query width (``backbone.out_channels``)."""

    feat_dim: int = 64
    """Width C of the instance queries (F2I final instance queries)."""
    color_dim: int = 0
    """Width H of the colour descriptor after the query in each feature row (0 = no colour cue)."""
    box_hidden: int = 32
    """Hidden width of the box-size embedding MLP."""
    pair_hidden: int = 32
    """Hidden width of the pair MLP over the compatibility cues."""
    init_scale: float = 2.0
    """Initial s: logit per unit of query cosine."""
    init_color_weight: float = 2.0
    """Initial h: logit per unit of colour cosine."""
    init_iou_weight: float = 3.0
    """Initial a: logit per unit of 3D box IoU."""
    init_containment_weight: float = 5.0
    """Initial o: logit per unit of cell containment (shared cells / cells of the smaller)."""
    init_owned_weight: float = 1.0
    """Initial w: logit per unit of owned fraction (frame instance cells the memory instance owns)."""
    init_gap_weight: float = 20.0
    """Initial b: logit lost per metre of gap between the boxes."""
    init_dist_weight: float = 0.5
    """Initial c: logit lost per metre between the box centres."""
    init_bias: float = -5.0
    """Initial logit bias."""

    def __post_init__(self):
        if self.feat_dim < 1 or self.box_hidden < 1 or self.pair_hidden < 1 or self.color_dim < 0:
            raise ValueError(f"I2SConfig: feat_dim, box_hidden and pair_hidden must be >= 1 and color_dim >= 0, "
                             f"got {self.feat_dim}, {self.box_hidden}, {self.pair_hidden}, {self.color_dim}")
        for name in self.init_names():
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 (it is stored through a softplus), got {getattr(self, name)}")

    @staticmethod
    def init_names() -> tuple[str, ...]:
        """The ``init_*`` fields of the linear weights, in ``LINEAR_TERMS`` order."""
        return ("init_scale", "init_color_weight", "init_iou_weight", "init_containment_weight",
                "init_owned_weight", "init_gap_weight", "init_dist_weight")

    @property
    def width(self) -> int:
        """Width of a feature row: query + colour descriptor."""
        return self.feat_dim + self.color_dim

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
    return (box_iou(frame_boxes, memory_boxes), box_gap(frame_boxes, memory_boxes),
            box_centre_distance(frame_boxes, memory_boxes))


def _inverse_softplus(value: float) -> float:
    return value + math.log(-math.expm1(-value))


def _log_size(boxes: Tensor) -> Tensor:
    """(n, 3) log box extents (metres, floored at 1 mm)."""
    return (boxes[:, 3:] - boxes[:, :3]).clamp(min=1e-3).log()


class I2SMerger(nn.Module):
    """Spatially-weighted cross-attention between frame and short-term memory instances."""

    def __init__(self, config: I2SConfig):
        super().__init__()
        self.config = config
        c = config.feat_dim
        self.query = nn.Linear(c, c, bias=False)
        self.key = nn.Linear(c, c, bias=False)
        self.box_embed = nn.Sequential(nn.Linear(3, config.box_hidden), nn.ReLU(), nn.Linear(config.box_hidden, c))
        self.pair_mlp = nn.Sequential(nn.Linear(5, config.pair_hidden), nn.ReLU(), nn.Linear(config.pair_hidden, 1))
        self.raw_linear = nn.Parameter(torch.tensor([_inverse_softplus(getattr(config, n)) for n in config.init_names()]))
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
            for hidden, out in ((self.box_embed[0], self.box_embed[2]), (self.pair_mlp[0], self.pair_mlp[2])):
                hidden.weight.copy_(torch.linspace(-1.0, 1.0, hidden.weight.numel()).reshape(hidden.weight.shape))
                hidden.bias.zero_()
                out.weight.zero_()
                out.bias.zero_()

    def linear_weights(self) -> dict[str, Tensor]:
        """The non-negative weights s, h, a, o, w, b, c by ``LINEAR_TERMS`` name."""
        return dict(zip(LINEAR_TERMS, F.softplus(self.raw_linear)))

    def spatial_weights(self) -> Tensor:
        """(3,) the non-negative weights of IoU, gap and centre distance."""
        w = self.linear_weights()
        return torch.stack([w["iou"], w["gap"], w["dist"]])

    def _embed(self, queries: Tensor, boxes: Tensor, proj: nn.Linear) -> Tensor:
        return F.normalize(proj(F.normalize(queries, dim=-1)) + self.box_embed(_log_size(boxes)), dim=-1)  # (n, C)

    def forward(
        self, frame_feats: Tensor, frame_boxes: Tensor, memory_feats: Tensor, memory_boxes: Tensor,
        overlap: Optional[Tensor] = None,
    ) -> Tensor:
        """Merge logits; ``sigmoid`` of them is M_short.

        Args:
            frame_feats: (K, C + H) float; frame_boxes: (K, 6) min xyz, max xyz (metres).
            memory_feats: (S, C + H) float; memory_boxes: (S, 6).
            overlap: (K, S, 2) cell containment and owned fraction in [0, 1]; None = no overlap known (zeros).
        Returns:
            (K, S) logits (empty when K or S is 0).
        """
        k, s, c = len(frame_feats), len(memory_feats), self.config.feat_dim
        if frame_feats.shape[-1] != self.config.width or memory_feats.shape[-1] != self.config.width:
            raise ValueError(f"I2SMerger: feature rows must be {self.config.width} wide (query {c} + colour "
                             f"{self.config.color_dim}), got {frame_feats.shape[-1]} and {memory_feats.shape[-1]}")
        if k == 0 or s == 0:
            return frame_feats.new_zeros((k, s))
        if overlap is None:
            overlap = frame_feats.new_zeros((k, s, 2))
        q = self._embed(frame_feats[:, :c], frame_boxes, self.query)  # (K, C)
        key = self._embed(memory_feats[:, :c], memory_boxes, self.key)  # (S, C)
        query_cos = q @ key.T  # (K, S)
        if self.config.color_dim:
            color_cos = F.normalize(frame_feats[:, c:], dim=-1) @ F.normalize(memory_feats[:, c:], dim=-1).T
        else:
            color_cos = torch.zeros_like(query_cos)
        iou, gap, dist = box_pair_features(frame_boxes, memory_boxes)  # (K, S) each
        containment, owned = overlap[..., 0], overlap[..., 1]
        size_ratio = (_log_size(frame_boxes)[:, None] - _log_size(memory_boxes)[None]).sum(dim=-1).abs()  # (K, S)
        cues = torch.stack([containment, owned, size_ratio, query_cos, color_cos], dim=-1)  # (K, S, 5)
        w = self.linear_weights()
        linear = (w["scale"] * query_cos + w["color"] * color_cos + w["iou"] * iou + w["containment"] * containment
                  + w["owned"] * owned - w["gap"] * gap - w["dist"] * dist)
        return linear + self.pair_mlp(cues).squeeze(-1) + self.bias

    def merge_matrix(
        self, frame_feats: Tensor, frame_boxes: Tensor, memory_feats: Tensor, memory_boxes: Tensor,
        overlap: Optional[Tensor] = None,
    ) -> Tensor:
        """(K, S) M_short in [0, 1]."""
        return self(frame_feats, frame_boxes, memory_feats, memory_boxes, overlap).sigmoid()
