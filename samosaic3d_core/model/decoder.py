"""Fragment decoder: point-to-fragment cross-attention, soft-gated fragment self-attention, FFN.

Soft-gated self-attention (per head h, head width d):

    softmax( (Q W_q)(Q W_k)^T / sqrt(d) + beta_h * log(W + eps) ) (Q W_v),   eps = 1e-8

With beta = 0 the bias is exactly 0 and this is plain attention. Instance queries after every
layer: Q_inst = A^T Q_frag (optionally divided by each center's assignment mass, see DecoderConfig).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

AFFINITY_EPS = 1e-8


@dataclass
class DecoderConfig:
    """Depth and width of the fragment decoder."""

    num_layers: int = 3
    """L: decoder layers; every layer's instance queries are decoded and supervised."""
    num_heads: int = 4
    """Attention heads (the channel count C must be divisible by it)."""
    ffn_mult: int = 2
    """FFN hidden width = ffn_mult * C."""
    max_context_points: int = 2048
    """Fragment queries cross-attend to at most this many frame points (an even stride over the points)."""
    beta: float = 1.0
    """Initial strength of the log-affinity bias in self-attention (per head); 0 = plain attention."""
    learn_beta: bool = True
    """Learn one beta per head and layer."""
    mass_normalize: bool = False
    """Divide A^T Q_frag by each center's column mass (a weighted mean of its fragments). Off by default:
    the heads layer-normalise queries anyway, and without it a center that owns no fragment gets a
    vanishing query the loss can see; with it, such a center still gets a full-scale query and
    training collapsed all fragments onto one center in our tests."""
    dropout: float = 0.0
    """Dropout on attention outputs and the FFN."""


class Attention(nn.Module):
    """Multi-head attention with an optional additive bias (H, L, S) on the logits."""

    def __init__(self, channels: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"attention: channels {channels} not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q, self.k, self.v = (nn.Linear(channels, channels) for _ in range(3))
        self.out = nn.Linear(channels, channels)
        self.dropout = dropout

    def forward(self, query: Tensor, key: Tensor, value: Tensor, bias: Optional[Tensor] = None) -> Tensor:
        """query: (L, C); key, value: (S, C); bias: (H, L, S) or None. Returns (L, C)."""
        h = self.num_heads
        q = self.q(query).unflatten(1, (h, -1)).transpose(0, 1)  # (H, L, d)
        k = self.k(key).unflatten(1, (h, -1)).transpose(0, 1)  # (H, S, d)
        v = self.v(value).unflatten(1, (h, -1)).transpose(0, 1)  # (H, S, d)
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)  # (H, L, d)
        return self.out(out.transpose(0, 1).flatten(1))  # (L, C)


def affinity_bias(affinity: Tensor, beta: Tensor) -> Tensor:
    """beta_h * log(W + eps): affinity (M, M), beta (H,) -> (H, M, M)."""
    return beta[:, None, None] * torch.log(affinity + AFFINITY_EPS)[None]


class DecoderLayer(nn.Module):
    """Pre-norm layer: cross-attention to points, soft-gated self-attention, FFN."""

    def __init__(self, config: DecoderConfig, channels: int):
        super().__init__()
        self.norm_cross, self.norm_self, self.norm_ffn = (nn.LayerNorm(channels) for _ in range(3))
        self.cross_attn = Attention(channels, config.num_heads, config.dropout)
        self.self_attn = Attention(channels, config.num_heads, config.dropout)
        self.ffn = nn.Sequential(
            nn.Linear(channels, config.ffn_mult * channels),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.ffn_mult * channels, channels),
        )
        self.beta = nn.Parameter(torch.full((config.num_heads,), float(config.beta)), requires_grad=config.learn_beta)

    def forward(self, queries: Tensor, query_pos: Tensor, context: Tensor, context_pos: Tensor, affinity: Tensor) -> Tensor:
        """queries, query_pos: (M, C); context, context_pos: (S, C); affinity: (M, M). Returns (M, C)."""
        h = self.norm_cross(queries)
        queries = queries + self.cross_attn(h + query_pos, context + context_pos, context)
        h = self.norm_self(queries)
        queries = queries + self.self_attn(h + query_pos, h + query_pos, h, affinity_bias(affinity, self.beta))
        return queries + self.ffn(self.norm_ffn(queries))  # (M, C)


def context_indices(num_points: int, max_points: int, device: torch.device) -> Tensor:
    """(S,) int64, S = min(N, max_points): an even, deterministic stride over the points."""
    if num_points <= max_points:
        return torch.arange(num_points, device=device)
    return torch.linspace(0, num_points - 1, max_points, device=device).round().long()


def instance_queries(assign: Tensor, frag_queries: Tensor, mass_normalize: bool) -> Tensor:
    """Q_inst = A^T Q_frag: assign (M, N̂), frag_queries (M, C) -> (N̂, C)."""
    queries = assign.T @ frag_queries  # (N̂, C)
    if mass_normalize:
        queries = queries / (assign.sum(dim=0)[:, None] + 1e-6)
    return queries


class Decoder(nn.Module):
    """Fragment queries refined by L layers; instance queries after each layer."""

    def __init__(self, config: DecoderConfig, channels: int):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([DecoderLayer(config, channels) for _ in range(config.num_layers)])
        self.context_norm = nn.LayerNorm(channels)
        self.position = nn.Sequential(nn.Linear(3, channels), nn.ReLU(), nn.Linear(channels, channels))

    def forward(
        self,
        frag_feats: Tensor,
        frag_xyz: Tensor,
        point_feats: Tensor,
        point_xyz: Tensor,
        assign: Tensor,
        affinity: Tensor,
    ) -> list[Tensor]:
        """Instance queries per layer.

        frag_feats: (M, C) Q^0_frag; frag_xyz: (M, 3) fragment centroids relative to the frame mean;
        point_feats: (N, C); point_xyz: (N, 3) relative to the frame mean;
        assign: (M, N̂) active columns of A; affinity: (M, M) W.
        Returns L tensors (N̂, C).
        """
        keep = context_indices(len(point_feats), self.config.max_context_points, point_feats.device)  # (S,)
        context = self.context_norm(point_feats[keep])  # (S, C)
        context_pos, query_pos = self.position(point_xyz[keep]), self.position(frag_xyz)  # (S, C), (M, C)
        queries, per_layer = frag_feats, []
        for layer in self.layers:
            queries = layer(queries, query_pos, context, context_pos, affinity)  # (M, C)
            per_layer.append(instance_queries(assign, queries, self.config.mass_normalize))  # (N̂, C)
        return per_layer
