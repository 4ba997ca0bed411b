"""Cues of every pair of fragments of one frame, the input of the pair head.

The affinity W = A Aᵀ of the assembly says which fragments the model puts in one instance, but it
sees each fragment through one pooled feature: two touching objects (a box on a shelf, a monitor on
a desk) look alike to it. The pair head re-reads W together with what is visible between the two
fragments themselves: how close their points come (in 3D and in the image), how much of the smaller
one touches the larger, whether their colours and surface orientations agree, where they touch.

All cues are symmetric in the two fragments, and computed from at most ``sample_points`` points per
fragment (evenly spread over its points), so the cost is bounded by the fragment count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from samosaic3d_core.geometry import box_axis_gaps, group_boxes
from samosaic3d_core.model.pooling import scatter_mean

PAIR_CUES = (
    "affinity",          # W_ij of the assembly
    "distance",          # closest 3D distance between the two fragments' points (m, clipped)
    "pixel_distance",    # closest image distance between them (pixels / 10, clipped)
    "box_gap",           # gap between their axis-aligned boxes (m, clipped)
    "color_distance",    # Euclidean distance of the mean colours (RGB in [0, 1])
    "chroma_distance",   # L1 distance of the mean chromaticities (r, g, b) / (r + g + b)
    "brightness_gap",    # |mean brightness difference|
    "normal_alignment",  # |n_i . n_j| of the fragments' principal normals
    "log_size_small",    # log point count of the smaller fragment
    "log_size_large",    # log point count of the larger fragment
    "contact",           # fraction of the smaller fragment's samples within contact_radius of the other
    "height_gap",        # |centroid height difference| (m)
    "ground_distance",   # horizontal centroid distance (m)
    "contact_color",     # L1 colour difference of the two fragments where they touch (else of the means)
)
NUM_PAIR_CUES = len(PAIR_CUES)
"""Cues of every model; ``PairCueConfig.convexity`` adds ``CONVEXITY_CUES`` after them."""
CONVEXITY_CUES = (
    "convexity",          # LCCP's (n_i - n_j) . (x_i - x_j) / |x_i - x_j|, centroids, normals facing the camera
    "contact_convexity",  # the same with the centroids of the samples where the two touch (else whole)
)


@dataclass
class PairCueConfig:
    """How the pair cues are measured."""

    sample_points: int = 48
    """Points per fragment the distance cues are measured on (evenly spread over the fragment)."""
    contact_radius: float = 0.04
    """Metres within which a point of one fragment touches the other."""
    max_distance: float = 0.5
    """Metres at which the distance cues are clipped."""
    max_pixels: float = 50.0
    """Pixels at which the image distance is clipped."""
    convexity: bool = False
    """Add ``CONVEXITY_CUES``: whether two fragments meet at a convex angle (the faces of one object)
    or a concave one (an object and what it stands on or in; Stein et al., CVPR 2014). Needs the
    camera position (``F2IInput.viewpoint``) to turn the normals; 0 without it."""

    @property
    def names(self) -> tuple[str, ...]:
        """The cues, in the order of the last axis of ``pair_cues``."""
        return PAIR_CUES + (CONVEXITY_CUES if self.convexity else ())

    @property
    def count(self) -> int:
        return len(self.names)


def pixel_uv(pixel: np.ndarray, image_width: int) -> np.ndarray:
    """(N, 2) float32 (u, v) image coordinates of flat pixel indices ``v * W + u``."""
    pixel = np.asarray(pixel, np.int64)
    return np.stack([pixel % image_width, pixel // image_width], axis=1).astype(np.float32)


def _spread_sample(fragment: Tensor, num_fragments: int, per_fragment: int) -> Tensor:
    """Indices of at most ``per_fragment`` points of each fragment, evenly spread over its points."""
    member = torch.nonzero(fragment >= 0).squeeze(1)
    order = member[torch.argsort(fragment[member], stable=True)]
    frag = fragment[order]
    count = torch.bincount(frag, minlength=num_fragments)
    start = torch.cumsum(count, 0) - count
    rank = torch.arange(len(order), device=fragment.device) - start[frag]
    stride = torch.clamp((count + per_fragment - 1) // per_fragment, min=1)
    return order[rank % stride[frag] == 0]


def _padded(values: Tensor, frag: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """(M, S, D) ``values`` (P, D) of samples grouped by fragment (``frag`` sorted), zero where a
    fragment has fewer than S = max(count) samples, and the (M, S) mask of real samples."""
    m, s = len(count), int(count.max()) if len(count) else 0
    rank = torch.arange(len(frag), device=frag.device) - (torch.cumsum(count, 0) - count)[frag]
    out = values.new_zeros((m, s, values.shape[1]))
    out[frag, rank] = values
    real = torch.zeros(m, s, dtype=torch.bool, device=frag.device)
    real[frag, rank] = True
    return out, real


def _sample_box_gaps(points: Tensor, real: Tensor) -> Tensor:
    """(M, M) largest per-axis gap between the boxes of each two fragments' samples (inf for a
    fragment without samples): a lower bound of the distance between any of their samples."""
    inf = torch.tensor(float("inf"), dtype=points.dtype, device=points.device)
    low = torch.where(real[..., None], points, inf).amin(1)  # (M, D)
    high = torch.where(real[..., None], points, -inf).amax(1)
    return torch.maximum(low[None, :] - high[:, None], low[:, None] - high[None, :]).clamp(min=0).amax(-1)


def _normals(xyz: Tensor, frag: Tensor, num_fragments: int, count: Tensor) -> Tensor:
    """(M, 3) unit principal normal (least-variance direction) of each fragment's samples."""
    mean = torch.zeros(num_fragments, 3, dtype=xyz.dtype, device=xyz.device).index_add_(0, frag, xyz)
    mean = mean / count.clamp(min=1)[:, None]
    centred = xyz - mean[frag]
    outer = centred[:, :, None] * centred[:, None, :]  # (P, 3, 3)
    cov = torch.zeros(num_fragments, 3, 3, dtype=xyz.dtype, device=xyz.device).index_add_(0, frag, outer)
    cov = cov + 1e-9 * torch.eye(3, dtype=xyz.dtype, device=xyz.device)
    return torch.linalg.eigh(cov)[1][:, :, 0]


def _closest(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Squared distances from each point of a (K, S, D) to the nearest of b (K, S, D), and back:
    (K, S) and (K, S), through one batched product like ``torch.cdist``'s matrix path (centred on
    each pair's first point, so that the norms stay small and the products exact enough)."""
    centre = a[:, :1]
    a, b = a - centre, b - centre
    d2 = torch.baddbmm((a * a).sum(-1)[:, :, None] + (b * b).sum(-1)[:, None, :], a, b.transpose(1, 2), alpha=-2)
    return d2.amin(2).clamp(min=0), d2.amin(1).clamp(min=0)


def _sample_contacts(
    s_xyz: Tensor, s_uv: Tensor, s_rgb: Tensor, frag: Tensor, s_count: Tensor, config: PairCueConfig,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
    """What the samples of every two fragments show of each other, from their sample distances.

    Returns (M, M) closest 3D distance and closest image distance (inf where it exceeds the clip
    of the cue: only pairs whose sample boxes lie closer than the clip are measured), (M, M)
    number of i's samples within ``contact_radius`` of j's, (M, M, 3) their summed colour and
    (M, M, 3) their summed position (None unless ``config.convexity``, the only cues that read it).
    The diagonal is a fragment with itself (distance 0, every sample touching). Colour and position
    are summed apart: a sum over both in one tensor rounds the colour differently in the last bit,
    and the pair head's fit turns that into another head.
    """
    m, device = len(s_count), s_xyz.device
    block, real = _padded(torch.cat([s_xyz, s_uv, s_rgb], 1), frag, s_count)  # (M, S, 8)
    xyz, uv, rgb = block[..., :3], block[..., 3:5], block[..., 5:]
    # padding 10 km (or pixels) beyond every sample, on opposite sides for the two fragments of a
    # pair, so that it is never the closest point of anything and needs no mask
    pad = ~real[..., None]
    far_xyz = 1e4 + float(s_xyz.abs().max()) if len(s_xyz) else 1e4
    far_uv = 1e4 + float(s_uv.abs().max()) if len(s_uv) else 1e4
    xyz_hi, xyz_lo = xyz.masked_fill(pad, far_xyz), xyz.masked_fill(pad, -far_xyz)
    uv_hi, uv_lo = uv.masked_fill(pad, far_uv), uv.masked_fill(pad, -far_uv)
    near_box = (_sample_box_gaps(xyz_hi, real) < config.max_distance) | (_sample_box_gaps(uv_hi, real) < config.max_pixels)
    i, j = torch.nonzero(torch.triu(near_box, diagonal=1), as_tuple=True)  # (K,) pairs i < j

    inf = float("inf")
    own = torch.where(s_count > 0, 0.0, inf).to(s_xyz.dtype)
    distance = torch.full((m, m), inf, dtype=s_xyz.dtype, device=device)
    distance.diagonal().copy_(own)
    pixel_distance = distance.clone()
    touching = torch.diag(s_count.to(s_xyz.dtype))
    own_pairs = torch.arange(m, device=device)
    touch_rgb = torch.zeros(m, m, 3, dtype=rgb.dtype, device=device)  # rgb, xyz: zero on padding
    touch_rgb[own_pairs, own_pairs] = rgb.sum(1)
    touch_xyz = None
    if config.convexity:
        touch_xyz = torch.zeros(m, m, 3, dtype=xyz.dtype, device=device)
        touch_xyz[own_pairs, own_pairs] = xyz.sum(1)
    if len(i) == 0:
        return distance, pixel_distance, touching, touch_rgb, touch_xyz
    to_j, to_i = _closest(xyz_hi[i], xyz_lo[j])  # (K, S): i's samples to j, j's samples to i
    distance[i, j] = distance[j, i] = to_j.amin(1).sqrt()
    pixel_distance[i, j] = pixel_distance[j, i] = _closest(uv_hi[i], uv_lo[j])[0].amin(1).sqrt()
    radius2 = config.contact_radius ** 2
    near_i, near_j = to_j < radius2, to_i < radius2  # padding lies 10 km away: never near
    touching[i, j], touching[j, i] = near_i.sum(1).to(s_xyz.dtype), near_j.sum(1).to(s_xyz.dtype)
    touch_rgb[i, j] = (near_i[..., None] * rgb[i]).sum(1)
    touch_rgb[j, i] = (near_j[..., None] * rgb[j]).sum(1)
    if touch_xyz is not None:
        touch_xyz[i, j] = (near_i[..., None] * xyz[i]).sum(1)
        touch_xyz[j, i] = (near_j[..., None] * xyz[j]).sum(1)
    return distance, pixel_distance, touching, touch_rgb, touch_xyz


def pair_cues(
    xyz: Tensor, rgb: Tensor, uv: Tensor, fragment: Tensor, num_fragments: int, affinity: Tensor,
    config: PairCueConfig | None = None, viewpoint: Tensor | None = None,
) -> Tensor:
    """(M, M, config.count) float32 cues of every fragment pair (see ``config.names``), symmetric.

    xyz: (N, 3) metres; rgb: (N, 3) in [0, 1]; uv: (N, 2) pixels; fragment: (N,) int64 in 0..M-1 or
    -1; affinity: (M, M) W of the assembly; viewpoint: (3,) the camera position in the frame of
    ``xyz`` (the convexity cues are 0 without it). The diagonal is meaningless (a fragment with itself).
    """
    config = config or PairCueConfig()
    m, device = num_fragments, xyz.device
    xyz, rgb, uv, affinity = xyz.float(), rgb.float(), uv.float().to(device), affinity.float().to(device)
    if m == 0:
        return torch.zeros(0, 0, config.count, device=device)
    member = fragment >= 0
    frag_all = fragment[member]
    count = torch.bincount(frag_all, minlength=m).float()  # (M,)
    mean_rgb = scatter_mean(rgb[member], frag_all, m)
    centroid = scatter_mean(xyz[member], frag_all, m)
    pts = xyz[member]
    boxes = group_boxes(pts, frag_all, m)  # (M, 6)

    sample = _spread_sample(fragment, m, config.sample_points)  # grouped by fragment
    frag, s_xyz, s_rgb, s_uv = fragment[sample], xyz[sample], rgb[sample], uv[sample]
    s_count = torch.bincount(frag, minlength=m)
    distance, pixel_distance, touching, touch_rgb, touch_xyz = _sample_contacts(
        s_xyz, s_uv, s_rgb, frag, s_count, config)
    s_count = s_count.float()
    contact_of = touching / s_count.clamp(min=1)[:, None]  # fraction of i's samples touching j
    contact = torch.where(count[:, None] < count[None, :], contact_of,
                          torch.where(count[:, None] > count[None, :], contact_of.T, torch.maximum(contact_of, contact_of.T)))
    per_touch = touching.clamp(min=1)[:, :, None]
    local_rgb = touch_rgb / per_touch  # (M, M, 3) mean colour where i touches j
    both_touch = (touching > 0) & (touching.T > 0)
    mean_gap = (mean_rgb[:, None] - mean_rgb[None]).abs().sum(-1)
    contact_color = torch.where(both_touch, (local_rgb - local_rgb.transpose(0, 1)).abs().sum(-1), mean_gap)

    chroma = mean_rgb / (mean_rgb.sum(1, keepdim=True) + 1e-6)
    brightness = mean_rgb.mean(1)
    normal = _normals(s_xyz, frag, m, s_count)
    gap = box_axis_gaps(boxes, boxes).amax(-1)  # (M, M) largest per-axis gap
    log_size = torch.log(count.clamp(min=1))
    cues = [
        affinity,
        distance.clamp(max=config.max_distance),
        pixel_distance.clamp(max=config.max_pixels) / 10.0,
        gap.clamp(max=config.max_distance),
        torch.linalg.norm(mean_rgb[:, None] - mean_rgb[None], dim=-1),
        (chroma[:, None] - chroma[None]).abs().sum(-1),
        (brightness[:, None] - brightness[None]).abs(),
        (normal @ normal.T).abs(),
        torch.minimum(log_size[:, None], log_size[None]),
        torch.maximum(log_size[:, None], log_size[None]),
        contact,
        (centroid[:, None, 2] - centroid[None, :, 2]).abs(),
        torch.linalg.norm(centroid[:, None, :2] - centroid[None, :, :2], dim=-1),
        contact_color,
    ]
    if config.convexity:
        cues += _convexity_cues(normal, centroid, touch_xyz / per_touch, both_touch, viewpoint)
    return torch.stack(cues, dim=-1)


def _convexity_cues(normal: Tensor, centroid: Tensor, touch_xyz: Tensor, both_touch: Tensor,
                    viewpoint: Tensor | None) -> list[Tensor]:
    """(M, M) LCCP convexity (n_i - n_j) . (x_i - x_j) / |x_i - x_j| of every two fragments, with
    the principal normals turned to the camera: x the centroids, and x the mean position of the
    samples where the two touch (the centroids where they do not). Positive: convex (two faces of
    one object), negative: concave (an object and its support)."""
    m = len(normal)
    if viewpoint is None:
        zero = normal.new_zeros(m, m)
        return [zero, zero.clone()]
    toward = torch.as_tensor(viewpoint, dtype=normal.dtype, device=normal.device).reshape(1, 3) - centroid
    normal = torch.where(((normal * toward).sum(1) < 0)[:, None], -normal, normal)
    turn = normal[:, None] - normal[None]  # (M, M, 3)

    def convexity(offset: Tensor) -> Tensor:
        return (turn * offset).sum(-1) / torch.linalg.norm(offset, dim=-1).clamp(min=1e-3)

    whole = convexity(centroid[:, None] - centroid[None])
    local = convexity(touch_xyz - touch_xyz.transpose(0, 1))  # where i touches j minus where j touches i
    return [whole, torch.where(both_touch, local, whole)]
