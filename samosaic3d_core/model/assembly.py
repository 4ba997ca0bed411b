"""Scene-adaptive differentiable grouping: how many instances, and which fragments form each.

    g = [maxpool(F_frag); meanpool(F_frag)]                  (2C,)
    count_logits = MLP_count(g)                              (N_max,)  class k <-> k + 1 instances
    centers = MLP_center(g).view(N_max, C)                   only the first N̂ are active
    A_ik = softmax_k(-||f_i - c_k||^2 / tau)  over active k  (M, N_max), inactive columns exactly 0
    W = A A^T                                                (M, M)

Two optional additions to the paper's grouping (both off by default, on in config/train_f2i.yaml):
``spare_centers`` activates a few centres beyond the count, a home for fragments of no object
(floor, walls) that would otherwise have to join an object's centre; ``refine_iters`` moves the
active centres to the A-weighted mean of their fragments and recomputes A (soft k-means steps,
differentiable), so the centres follow the frame's fragments instead of staying where a
prediction from the pooled descriptor g put them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class AssemblyConfig:
    """Count head, center bank and assignment."""

    max_instances: int = 32
    """N_max: most instances one frame can hold; size of the count classification and the center bank."""
    hidden: int = 256
    """Hidden width of the count and center MLPs."""
    tau: float = 1.0
    """Temperature of the assignment softmax over squared distances (of unit vectors when ``normalize``).
    Starts soft on purpose: at initialisation all fragments look alike, and a sharp softmax sends them
    all to one center, which the assignment-weighted loss then never undoes (measured)."""
    learn_tau: bool = True
    """Learn tau (log-parameterised, starts at ``tau``)."""
    normalize: bool = True
    """L2-normalise fragment features and centers before distances, so tau has a fixed scale (d^2 in [0, 4])."""
    grouping: str = "soft"
    """'soft': differentiable softmax assignment; 'hard': argmax one-hot, no gradient (the ablation)."""
    spare_centers: int = 0
    """Centres activated beyond the instance count (the count head's or the teacher-forced one)."""
    refine_iters: int = 0
    """Soft k-means updates of the active centres from their assigned fragments before the final A."""

    def __post_init__(self) -> None:
        if self.grouping not in ("soft", "hard"):
            raise ValueError(f"AssemblyConfig.grouping must be 'soft' or 'hard', got {self.grouping!r}")
        if self.spare_centers < 0 or self.refine_iters < 0:
            raise ValueError(f"AssemblyConfig: spare_centers and refine_iters must be >= 0, "
                             f"got {self.spare_centers}, {self.refine_iters}")
        if self.max_instances < 1 or self.tau <= 0:
            raise ValueError(f"AssemblyConfig: need max_instances >= 1 and tau > 0, got {self.max_instances}, {self.tau}")


@dataclass
class Grouping:
    """The grouping of one frame's M fragments.

    count_logits: (N_max,) logits over 1..N_max instances
    centers:      (N_max, C) the center bank (only the first ``num_active`` are used; after refinement)
    assign:       (M, N_max) A; rows sum to 1 over the active columns, inactive columns are exactly 0
    affinity:     (M, M) W = A A^T, symmetric, entries in [0, 1]
    num_active:   N̂, number of active centers, spare ones included (0 only when M = 0)
    """

    count_logits: Tensor
    centers: Tensor
    assign: Tensor
    affinity: Tensor
    num_active: int

    @property
    def active_assign(self) -> Tensor:
        """(M, N̂) the active columns of A."""
        return self.assign[:, : self.num_active]


def global_descriptor(frag_feats: Tensor) -> Tensor:
    """g = [max; mean] over fragments: (M, C) -> (2C,); zeros when M = 0."""
    if len(frag_feats) == 0:
        return frag_feats.new_zeros(2 * frag_feats.shape[1])
    return torch.cat([frag_feats.max(dim=0).values, frag_feats.mean(dim=0)])


def soft_assignment(frag_feats: Tensor, centers: Tensor, num_active: int, tau: Tensor | float) -> Tensor:
    """A (M, K): softmax over the first ``num_active`` centers of -||f_i - c_k||^2 / tau; other columns 0.

    frag_feats: (M, C); centers: (K, C).
    """
    dist2 = (frag_feats[:, None, :] - centers[None, :, :]).pow(2).sum(dim=2)  # (M, K); exact, smooth at 0
    logits = (-dist2 / tau).masked_fill(torch.arange(len(centers), device=centers.device) >= num_active, -math.inf)
    return torch.softmax(logits, dim=1)


def hard_assignment(frag_feats: Tensor, centers: Tensor, num_active: int) -> Tensor:
    """A (M, K): one-hot of the nearest of the first ``num_active`` centers; no gradient."""
    if num_active == 0:
        return frag_feats.new_zeros(len(frag_feats), len(centers))
    with torch.no_grad():
        dist2 = (frag_feats[:, None, :] - centers[None, :num_active, :]).pow(2).sum(dim=2)  # (M, N̂)
        return F.one_hot(dist2.argmin(dim=1), len(centers)).to(frag_feats.dtype)


class Assembly(nn.Module):
    """Fragment features (M, C) -> Grouping (count, centers, A, W)."""

    def __init__(self, config: AssemblyConfig, channels: int):
        super().__init__()
        self.config = config
        self.channels = channels
        self.count_head = nn.Sequential(
            nn.Linear(2 * channels, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.max_instances)
        )
        self.center_head = nn.Sequential(
            nn.Linear(2 * channels, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.max_instances * channels)
        )
        self.log_tau = nn.Parameter(torch.tensor(math.log(config.tau)), requires_grad=config.learn_tau)

    @property
    def tau(self) -> Tensor:
        return self.log_tau.exp()

    def forward(self, frag_feats: Tensor, num_active: Optional[int] = None) -> Grouping:
        """frag_feats: (M, C). ``num_active`` forces the instance count (teacher forcing with the true
        count); None uses the count head's argmax. ``spare_centers`` are added, and N̂ is clamped to
        [1, min(M, N_max)] (0 when M = 0)."""
        cfg, m = self.config, len(frag_feats)
        g = global_descriptor(frag_feats)  # (2C,)
        count_logits = self.count_head(g)  # (N_max,)
        centers = self.center_head(g).view(cfg.max_instances, self.channels)  # (N_max, C)
        if num_active is None:
            num_active = int(count_logits.argmax()) + 1
        num_active = max(1, min(int(num_active) + cfg.spare_centers, m, cfg.max_instances)) if m > 0 else 0
        feats, cents = frag_feats, centers
        if cfg.normalize:
            feats, cents = F.normalize(frag_feats, dim=1), F.normalize(centers, dim=1)
        assign = self._assign(feats, cents, num_active)  # (M, N_max)
        for _ in range(cfg.refine_iters if m > 0 else 0):
            active = assign[:, :num_active]  # (M, N̂)
            moved = active.T @ feats / active.sum(dim=0)[:, None].clamp(min=1e-6)  # (N̂, C)
            if cfg.normalize:
                moved = F.normalize(moved, dim=1)
            cents = torch.cat([moved, cents[num_active:]])
            assign = self._assign(feats, cents, num_active)
        return Grouping(count_logits, cents, assign, assign @ assign.T, num_active)

    def _assign(self, feats: Tensor, centers: Tensor, num_active: int) -> Tensor:
        if self.config.grouping == "hard":
            return hard_assignment(feats, centers, num_active)
        return soft_assignment(feats, centers, num_active, self.tau)
