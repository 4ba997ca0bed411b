"""Pair head: the assembly's affinity W, re-read with the cues between two fragments.

    pair cues (M, M, cues.count) --standardise--> MLP --> logit that fragments i and j belong
    to one object; the refined affinity is its sigmoid (symmetric, 1 on the diagonal)

It replaces W in the affinity readout (average linkage), where W alone fuses touching objects.
Trained with BCE on same-object fragment pairs, on top of a frozen F2I model
(``samosaic3d train --stage pair``); its cue statistics are buffers, so they travel with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from samosaic3d_core.model.heads import mlp
from samosaic3d_core.model.pair_cues import PairCueConfig


@dataclass
class PairHeadConfig:
    """The pair head of an F2I model (off unless the model was trained with one)."""

    enabled: bool = False
    """Whether the model has a pair head (and its affinity readout uses it instead of W)."""
    hidden: int = 32
    """Width of the MLP."""
    layers: int = 3
    """Linear layers of the MLP."""
    group_threshold: float = 0.5
    """Refined affinity above which groups of fragments join; the readout's default with this head."""
    cues: PairCueConfig = field(default_factory=PairCueConfig)

    def __post_init__(self):
        if not 0.0 <= self.group_threshold <= 1.0:
            raise ValueError(f"PairHeadConfig.group_threshold must be in [0, 1], got {self.group_threshold}")


class PairHead(nn.Module):
    """Pair cues -> same-object logits."""

    def __init__(self, config: PairHeadConfig):
        super().__init__()
        self.config = config
        self.register_buffer("cue_mean", torch.zeros(config.cues.count))
        self.register_buffer("cue_std", torch.ones(config.cues.count))
        self.mlp = mlp(config.cues.count, config.hidden, 1, config.layers)

    def set_cue_statistics(self, cues: Tensor) -> None:
        """Standardise by the mean / std of training cues (P, cues.count)."""
        self.cue_mean.copy_(cues.mean(dim=0))
        self.cue_std.copy_(cues.std(dim=0).clamp(min=1e-6))

    def forward(self, cues: Tensor) -> Tensor:
        """(...) logits from cues (..., cues.count)."""
        return self.mlp((cues - self.cue_mean) / self.cue_std).squeeze(-1)

    def affinity(self, cues: Tensor) -> Tensor:
        """(M, M) refined affinity from the cues (M, M, cues.count) of a frame."""
        prob = self(cues).sigmoid()
        prob = (prob + prob.T) / 2
        return prob.fill_diagonal_(1.0)
