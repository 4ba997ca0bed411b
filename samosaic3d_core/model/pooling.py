"""Fragment features: max-pool of point features inside each fragment, plus a small geometric code."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

NUM_GEOMETRY_FEATURES = 11
"""Per fragment: centroid relative to the frame mean (3), box size (3), centroid height (1),
log(1 + point count) / 10 (1), mean colour in [0, 1] (3). Lengths in metres."""


@dataclass
class PoolingConfig:
    """How point features become fragment features."""

    use_geometry: bool = True
    """Add an MLP code of the fragment's centroid / box size / height / point count to its pooled feature."""


def scatter_max(values: Tensor, index: Tensor, num_groups: int) -> Tensor:
    """(num_groups, C) max of ``values`` (N, C) per group ``index`` (N,) in 0..num_groups-1; empty groups -> 0."""
    out = torch.zeros(num_groups, values.shape[1], dtype=values.dtype, device=values.device)
    return out.scatter_reduce(0, index[:, None].expand_as(values), values, "amax", include_self=False)


def scatter_mean(values: Tensor, index: Tensor, num_groups: int) -> Tensor:
    """(num_groups, C) mean of ``values`` (N, C) per group; empty groups -> 0."""
    out = torch.zeros(num_groups, values.shape[1], dtype=values.dtype, device=values.device)
    return out.scatter_reduce(0, index[:, None].expand_as(values), values, "mean", include_self=False)


def fragment_geometry(xyz: Tensor, fragment: Tensor, num_fragments: int, rgb: Tensor) -> Tensor:
    """(M, NUM_GEOMETRY_FEATURES) geometric and colour code of each fragment (see NUM_GEOMETRY_FEATURES).

    xyz: (N, 3) world metres of one frame; fragment: (N,) int64 in 0..M-1 or -1; rgb: (N, 3) in [0, 1].
    """
    member = fragment >= 0
    frag, pts = fragment[member], xyz[member]  # (N', ), (N', 3)
    centroid = scatter_mean(pts, frag, num_fragments)  # (M, 3)
    box_max = scatter_max(pts, frag, num_fragments)
    box_min = -scatter_max(-pts, frag, num_fragments)
    count = torch.bincount(frag, minlength=num_fragments).to(xyz.dtype)  # (M,)
    centre = xyz.mean(dim=0) if len(xyz) else xyz.new_zeros(3)
    color = scatter_mean(rgb[member], frag, num_fragments)  # (M, 3)
    return torch.cat(
        [centroid - centre, box_max - box_min, centroid[:, 2:3], torch.log1p(count)[:, None] / 10.0, color], dim=1
    )


class FragmentPooling(nn.Module):
    """Point features (N, C) of one frame -> fragment features (M, C)."""

    def __init__(self, config: PoolingConfig, channels: int):
        super().__init__()
        self.config = config
        self.geometry = (
            nn.Sequential(nn.Linear(NUM_GEOMETRY_FEATURES, channels), nn.ReLU(), nn.Linear(channels, channels))
            if config.use_geometry
            else None
        )
        self.norm = nn.LayerNorm(channels)

    def forward(self, point_feats: Tensor, fragment: Tensor, num_fragments: int, geometry: Tensor) -> Tensor:
        """point_feats: (N, C); fragment: (N,) int64 in 0..M-1 or -1;
        geometry: (M, NUM_GEOMETRY_FEATURES) from ``fragment_geometry``. Returns (M, C).

        Every fragment must own at least one point (lifting guarantees it); M = 0 gives (0, C).
        """
        member = fragment >= 0
        frag_feats = scatter_max(point_feats[member], fragment[member], num_fragments)  # (M, C)
        if self.geometry is not None:
            frag_feats = frag_feats + self.geometry(geometry)
        return self.norm(frag_feats)
