"""Sparse 3D U-Net over a frame's voxelized points (spconv), features mapped back to points.

The idiom follows Pointcept's SpUNet: submanifold residual blocks per level, one strided
``SparseConv3d`` down and one ``SparseInverseConv3d`` up per level sharing an ``indice_key``
(the inverse conv reuses the down conv's index pairs), encoder and decoder built in a loop
from channel tuples, ``x.replace_feature(...)`` to change features in place of the tensor.

spconv packages: ``spconv`` (CPU build, used here); on a GPU install the one matching the CUDA
runtime torch ships with: ``spconv-cu120``, ``spconv-cu121``, ``spconv-cu124``, ``spconv-cu126``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import spconv.pytorch as spconv
import spconv.pytorch.ops as _spconv_ops
import torch
from torch import Tensor, nn

from samosaic3d_core.model.threads import torch_threads


def _current_stream() -> int:
    """The CUDA stream handle spconv passes to its kernels; 0 (no stream) on a machine without a GPU."""
    return torch.cuda.current_stream().cuda_stream if torch.cuda.is_available() else 0


def _single_threaded_on_cpu(conv_op: Callable) -> Callable:
    """Run a spconv gather-GEMM-scatter op with one torch thread when its features are on the CPU."""

    @functools.wraps(conv_op)
    def run(features: Tensor, *args, **kwargs):
        if features.is_cuda:
            return conv_op(features, *args, **kwargs)
        with torch_threads(1):
            return conv_op(features, *args, **kwargs)

    return run


# Two fixes to spconv 2.3.8's CPU path, applied once, here, to the module-level names its
# autograd functions look up at call time:
# 1. its backward asks ``torch.cuda.current_stream()`` for a stream even for CPU tensors, which
#    raises "Found no NVIDIA driver" with a CUDA-built torch on a machine without a GPU;
# 2. with more than one torch thread its CPU convolutions (forward and backward) return wrong
#    values for about 0.1 % of the outputs (a race; off by ~0.4 for features of size ~0.2,
#    checked against a dense conv3d), so they run with one thread.
_spconv_ops.get_current_stream = _current_stream
if not getattr(_spconv_ops.indice_conv, "_samosaic3d_patched", False):
    for _name in ("indice_conv", "indice_conv_backward"):
        _patched = _single_threaded_on_cpu(getattr(_spconv_ops, _name))
        _patched._samosaic3d_patched = True
        setattr(_spconv_ops, _name, _patched)

NUM_INPUT_FEATURES = 7
"""Per-point input: colour (3, rgb/255 mapped to [-1, 1]), height z (1, world metres) and
position relative to the frame's mean point (3, metres). Convolutions are translation
invariant; height tells floor from table top, the centred position gives the point's
place within the view."""


@dataclass
class BackboneConfig:
    """Sparse U-Net size and input voxelization."""

    voxel_size: float = 0.03
    """Edge of the finest voxel grid (metres); points sharing a voxel share its feature."""
    channels: tuple[int, ...] = (16, 32, 48, 64)
    """Encoder width per level; level 0 is full resolution (keep it thin), each next level halves it."""
    decoder_channels: tuple[int, ...] = (32, 48, 64)
    """Decoder width per level 0..L-2 (level L-1 is the encoder's bottom)."""
    blocks: int = 1
    """Residual blocks per encoder and decoder level."""
    out_channels: int = 64
    """C: width of the per-point features the backbone returns."""
    height_scale: float = 1.0
    """Height and centred position are divided by this (metres) before entering the network."""

    def __post_init__(self) -> None:
        if len(self.decoder_channels) != len(self.channels) - 1:
            raise ValueError(
                f"BackboneConfig: decoder_channels needs one width per level below the bottom "
                f"({len(self.channels) - 1}), got {len(self.decoder_channels)}"
            )
        if self.voxel_size <= 0:
            raise ValueError(f"BackboneConfig: voxel_size must be > 0 metres, got {self.voxel_size}")


def point_input_features(xyz: Tensor, rgb: Tensor, batch: Tensor, batch_size: int, height_scale: float) -> Tensor:
    """(N, NUM_INPUT_FEATURES) float: colour in [-1, 1], height, position relative to the frame mean.

    xyz: (N, 3) world metres; rgb: (N, 3) in [0, 1]; batch: (N,) int64 frame index.
    """
    counts = torch.bincount(batch, minlength=batch_size).clamp(min=1).to(xyz.dtype)  # (B,)
    centre = torch.zeros(batch_size, 3, dtype=xyz.dtype, device=xyz.device).index_add_(0, batch, xyz)
    centre = centre / counts[:, None]  # (B, 3)
    return torch.cat([rgb * 2.0 - 1.0, xyz[:, 2:3] / height_scale, (xyz - centre[batch]) / height_scale], dim=1)


def voxelize(xyz: Tensor, batch: Tensor, voxel_size: float, multiple: int = 1) -> tuple[Tensor, Tensor, list[int]]:
    """Group points into voxels, per frame (torch, on the points' device).

    The torch twin of ``geometry.voxelize`` so the model voxelizes on its own device.

    Returns:
        coords:  (V, 4) int32 ``[batch, x, y, z]`` voxel indices (>= 0, from each frame's own
                 minimum corner), sorted
        inverse: (N,) int64 voxel index of every point
        spatial_shape: [X, Y, Z] grid size, each rounded up to a multiple of ``multiple`` (the
                 total stride of the U-Net, so a flat frame, one voxel thick, survives downsampling)
    """
    keys = torch.floor(xyz / voxel_size).long()  # (N, 3)
    # each frame's grid starts at its own minimum, so a frame voxelizes the same alone or in a batch
    start = torch.full((int(batch.max()) + 1, 3), torch.iinfo(torch.long).max, device=xyz.device)
    start = start.scatter_reduce(0, batch[:, None].expand_as(keys), keys, "amin")
    keys = keys - start[batch]
    shape = [-(-(int(s) + 1) // multiple) * multiple for s in keys.max(dim=0).values.tolist()]
    flat = ((batch * shape[0] + keys[:, 0]) * shape[1] + keys[:, 1]) * shape[2] + keys[:, 2]
    unique, inverse = torch.unique(flat, return_inverse=True)  # (V,), (N,)
    z = unique % shape[2]
    y = (unique // shape[2]) % shape[1]
    x = (unique // (shape[2] * shape[1])) % shape[0]
    b = unique // (shape[2] * shape[1] * shape[0])
    coords = torch.stack([b, x, y, z], dim=1).int()
    return coords, inverse, shape


def _norm_act(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01), nn.ReLU())


class ResBlock(spconv.SparseModule):
    """Two 3x3x3 submanifold convolutions with a residual; a 1x1x1 projection if the width changes."""

    def __init__(self, in_channels: int, out_channels: int, indice_key: str):
        super().__init__()
        self.conv1 = spconv.SubMConv3d(in_channels, out_channels, 3, padding=1, bias=False, indice_key=indice_key)
        self.norm1 = _norm_act(out_channels)
        self.conv2 = spconv.SubMConv3d(out_channels, out_channels, 3, padding=1, bias=False, indice_key=indice_key)
        self.norm2 = nn.BatchNorm1d(out_channels, eps=1e-3, momentum=0.01)
        self.proj = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Sequential(nn.Linear(in_channels, out_channels, bias=False), nn.BatchNorm1d(out_channels))
        )

    def forward(self, x: spconv.SparseConvTensor) -> spconv.SparseConvTensor:
        shortcut = self.proj(x.features)
        x = self.conv1(x)
        x = x.replace_feature(self.norm1(x.features))
        x = self.conv2(x)
        return x.replace_feature(torch.relu(self.norm2(x.features) + shortcut))


class SpUNet(nn.Module):
    """Sparse U-Net: points (N) -> voxels -> per-point features (N, C)."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        ch, dec = config.channels, config.decoder_channels
        self.stem = spconv.SparseSequential(
            spconv.SubMConv3d(NUM_INPUT_FEATURES, ch[0], 3, padding=1, bias=False, indice_key="subm0"),
            _norm_act(ch[0]),
        )
        self.enc0 = spconv.SparseSequential(*[ResBlock(ch[0], ch[0], "subm0") for _ in range(config.blocks)])
        self.down, self.enc = nn.ModuleList(), nn.ModuleList()
        for level in range(1, len(ch)):
            self.down.append(
                spconv.SparseSequential(
                    spconv.SparseConv3d(ch[level - 1], ch[level], 2, stride=2, bias=False, indice_key=f"down{level}"),
                    _norm_act(ch[level]),
                )
            )
            blocks = [ResBlock(ch[level], ch[level], f"subm{level}") for _ in range(config.blocks)]
            self.enc.append(spconv.SparseSequential(*blocks))
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(ch) - 1)):  # decoder runs bottom-up: level L-2 first
            below = ch[-1] if level == len(ch) - 2 else dec[level + 1]
            self.up.append(
                spconv.SparseSequential(
                    spconv.SparseInverseConv3d(below, dec[level], 2, bias=False, indice_key=f"down{level + 1}"),
                    _norm_act(dec[level]),
                )
            )
            blocks = [ResBlock(dec[level] + ch[level], dec[level], f"subm{level}")]
            blocks += [ResBlock(dec[level], dec[level], f"subm{level}") for _ in range(config.blocks - 1)]
            self.dec.append(spconv.SparseSequential(*blocks))
        # voxel feature + the point's own input (a point's colour can differ from its voxel's mean)
        self.point_head = nn.Sequential(
            nn.Linear(dec[0] + NUM_INPUT_FEATURES, config.out_channels),
            nn.LayerNorm(config.out_channels),
            nn.ReLU(),
            nn.Linear(config.out_channels, config.out_channels),
        )

    def forward(self, xyz: Tensor, rgb: Tensor, batch: Tensor, batch_size: int) -> Tensor:
        """Per-point features.

        xyz: (N, 3) float32 world metres; rgb: (N, 3) float32 in [0, 1];
        batch: (N,) int64 frame index in 0..batch_size-1.
        Returns (N, C) float32.
        """
        return self.forward_voxels(*self.voxel_input(xyz, rgb, batch, batch_size))

    def voxel_input(
        self, xyz: Tensor, rgb: Tensor, batch: Tensor, batch_size: int
    ) -> tuple[spconv.SparseConvTensor, Tensor, Tensor]:
        """Voxelize: (sparse tensor of mean point inputs per voxel, inverse (N,), point inputs (N, 7))."""
        point_in = point_input_features(xyz, rgb, batch, batch_size, self.config.height_scale)  # (N, 7)
        stride = 2 ** (len(self.config.channels) - 1)
        coords, inverse, shape = voxelize(xyz, batch, self.config.voxel_size, stride)  # (V, 4), (N,)
        voxel_in = torch.zeros(len(coords), point_in.shape[1], dtype=point_in.dtype, device=point_in.device)
        voxel_in = voxel_in.scatter_reduce(0, inverse[:, None].expand_as(point_in), point_in, "mean", include_self=False)
        return spconv.SparseConvTensor(voxel_in, coords, shape, batch_size), inverse, point_in

    def forward_voxels(self, x: spconv.SparseConvTensor, inverse: Tensor, point_in: Tensor) -> Tensor:
        """The U-Net on voxels, then back to points: (N, C)."""
        x = self.enc0(self.stem(x))
        skips = [x]
        for down, enc in zip(self.down, self.enc):
            x = enc(down(x))
            skips.append(x)
        skips.pop()  # the bottom is x itself
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = x.replace_feature(torch.cat([x.features, skips.pop().features], dim=1))
            x = dec(x)  # (V_level, decoder width)
        return self.point_head(torch.cat([x.features[inverse], point_in], dim=1))  # (N, C)
