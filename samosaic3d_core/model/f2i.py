"""Fragment-to-Instance (F2I) model: one frame's points and fragments -> instance predictions.

    points --SpUNet--> point feats (N, C) --max-pool per fragment--> F_frag (M, C)
    F_frag --Assembly--> count logits, centers, A (M, N̂), W (M, M)
    F_frag, points, A, W --Decoder--> instance queries per layer (N̂, C)
    instance queries, point feats --InstanceHeads--> masks (N̂, N), boxes (N̂, 6), objectness (N̂,)
    W, pair cues --PairHead (optional)--> refined affinity (M, M) for the readout (see pair_head.py)

The model is assembled from its parts by keyword (``F2IModel(backbone=..., ...)``) or from one
``F2IConfig`` with ``F2IModel.from_config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from samosaic3d_core.model.assembly import Assembly, AssemblyConfig
from samosaic3d_core.model.backbone import BackboneConfig, SpUNet
from samosaic3d_core.model.decoder import Decoder, DecoderConfig
from samosaic3d_core.model.heads import HeadsConfig, InstanceHeads, LayerPrediction, frame_box
from samosaic3d_core.model.pair_cues import pair_cues, pixel_uv
from samosaic3d_core.model.pair_head import PairHead, PairHeadConfig
from samosaic3d_core.model.pooling import FragmentPooling, PoolingConfig, fragment_geometry
from samosaic3d_core.types import FramePoints

W_GROUP_THRESHOLD = 0.7
"""Cut of the affinity readout on W itself (a model without pair head), chosen on validation scenes."""

@dataclass
class F2IConfig:
    """The whole F2I model; the feature width C is ``backbone.out_channels``."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    pooling: PoolingConfig = field(default_factory=PoolingConfig)
    assembly: AssemblyConfig = field(default_factory=AssemblyConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    pair: PairHeadConfig = field(default_factory=PairHeadConfig)
    """Off in files written before the pair head existed (their configs have no "pair" key)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "F2IConfig":
        """Inverse of ``to_dict`` (e.g. after JSON); unknown keys raise ValueError naming them."""
        return _dataclass_from_dict(cls, values, "F2IConfig")


def _dataclass_from_dict(cls: type, values: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown config keys {unknown}; expected some of {sorted(names)}")
    defaults, kwargs = cls(), {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _dataclass_from_dict(type(default), value, f"{where}.{name}")
        else:
            kwargs[name] = tuple(value) if isinstance(default, tuple) else value
    return cls(**kwargs)


@dataclass
class F2IInput:
    """One frame as the model reads it.

    xyz:           (N, 3) float32 world metres
    rgb:           (N, 3) float32 in [0, 1]
    fragment:      (N,) int64 fragment index in 0..M-1, -1 = none
    num_fragments: M
    uv:            (N, 2) float32 image coordinates (pixels), which the pair head's cues need;
                   None: the prediction has no refined affinity
    viewpoint:     (3,) float32 camera position (world metres), which the pair head's convexity
                   cues need (``PairCueConfig.convexity``); None: those cues are 0
    """

    xyz: Tensor
    rgb: Tensor
    fragment: Tensor
    num_fragments: int
    uv: Optional[Tensor] = None
    viewpoint: Optional[Tensor] = None

    @classmethod
    def from_points(cls, points: FramePoints, num_fragments: int, device: torch.device | str = "cpu",
                    image_width: Optional[int] = None, pose: Optional[np.ndarray] = None) -> "F2IInput":
        """The model's input from a frame's points (rgb uint8); ``image_width`` (pixels) of the image
        that ``points.pixel`` indexes gives the image coordinates (``uv``), None leaves them out;
        ``pose`` (camera-to-world 4x4) gives the ``viewpoint``."""
        if len(points.fragment) and int(points.fragment.max(initial=-1)) >= num_fragments:
            raise ValueError(
                f"F2IInput: points reference fragment {int(points.fragment.max())} but only {num_fragments} fragments exist"
            )
        return cls(
            xyz=torch.as_tensor(np.asarray(points.xyz, np.float32), device=device),
            rgb=torch.as_tensor(np.asarray(points.rgb, np.float32) / 255.0, device=device),
            fragment=torch.as_tensor(np.asarray(points.fragment, np.int64), device=device),
            num_fragments=int(num_fragments),
            uv=None if image_width is None else torch.as_tensor(pixel_uv(points.pixel, image_width), device=device),
            viewpoint=None if pose is None else torch.as_tensor(np.asarray(pose, np.float32)[:3, 3], device=device),
        )

    def to(self, device: torch.device | str) -> "F2IInput":
        return F2IInput(self.xyz.to(device), self.rgb.to(device), self.fragment.to(device), self.num_fragments,
                        None if self.uv is None else self.uv.to(device),
                        None if self.viewpoint is None else self.viewpoint.to(device))


@dataclass
class F2IPrediction:
    """What the model predicts for one frame (M fragments, N points, N̂ active instances).

    layers:       L LayerPrediction, one per decoder layer (the last is the final prediction)
    count_logits: (N_max,) logits over 1..N_max instances
    assign:       (M, N_max) A (inactive columns exactly 0)
    affinity:     (M, M) W = A A^T
    num_active:   N̂
    queries:      (N̂, C) final instance queries, layer-normalised as the heads see them
                  (the instances' features for merging)
    frame_origin, frame_extent: (3,) the frame box that ``boxes`` are normalised to
    pair_affinity: (M, M) the pair head's refinement of W; None for a model without pair head or an
                  input without image coordinates
    """

    layers: list[LayerPrediction]
    count_logits: Tensor
    assign: Tensor
    affinity: Tensor
    num_active: int
    queries: Tensor
    frame_origin: Tensor
    frame_extent: Tensor
    pair_affinity: Optional[Tensor] = None

    @property
    def grouping_affinity(self) -> Tensor:
        """(M, M) the affinity the readout groups fragments by: the pair head's, else W."""
        return self.affinity if self.pair_affinity is None else self.pair_affinity

    @property
    def final(self) -> LayerPrediction:
        return self.layers[-1]

    @property
    def active_assign(self) -> Tensor:
        """(M, N̂)."""
        return self.assign[:, : self.num_active]


class F2IModel(nn.Module):
    """Fragments of a frame -> instances of the frame."""

    def __init__(
        self,
        *,
        backbone: SpUNet,
        pooling: FragmentPooling,
        assembly: Assembly,
        decoder: Decoder,
        heads: InstanceHeads,
        pair: Optional[PairHead] = None,
    ):
        super().__init__()
        self.backbone, self.pooling, self.assembly, self.decoder, self.heads = backbone, pooling, assembly, decoder, heads
        self.pair = pair

    @classmethod
    def from_config(cls, config: F2IConfig) -> "F2IModel":
        c = config.backbone.out_channels
        return cls(
            backbone=SpUNet(config.backbone),
            pooling=FragmentPooling(config.pooling, c),
            assembly=Assembly(config.assembly, c),
            decoder=Decoder(config.decoder, c),
            heads=InstanceHeads(config.heads, c),
            pair=PairHead(config.pair) if config.pair.enabled else None,
        )

    @property
    def group_threshold(self) -> float:
        """This model's own cut of the affinity readout: its pair head's, else ``W_GROUP_THRESHOLD``."""
        return W_GROUP_THRESHOLD if self.pair is None else self.pair.config.group_threshold

    def forward(self, frames: Sequence[F2IInput], num_active: Optional[Sequence[int]] = None) -> list[F2IPrediction]:
        """Predictions for a batch of frames (the backbone runs once on all of them).

        num_active: per frame, the instance count to activate (teacher forcing, e.g. the true count
        in training); None lets the count head decide.
        """
        if num_active is not None and len(num_active) != len(frames):
            raise ValueError(f"F2IModel: num_active has {len(num_active)} entries for {len(frames)} frames")
        sizes = [len(f.xyz) for f in frames]
        batch = torch.repeat_interleave(
            torch.arange(len(frames), device=frames[0].xyz.device), torch.tensor(sizes, device=frames[0].xyz.device)
        )
        xyz = torch.cat([f.xyz for f in frames])  # (sum N, 3)
        point_feats = self.backbone(xyz, torch.cat([f.rgb for f in frames]), batch, len(frames))  # (sum N, C)
        preds = []
        for i, (frame, feats) in enumerate(zip(frames, point_feats.split(sizes))):
            preds.append(self.decode_frame(frame, feats, None if num_active is None else num_active[i]))
        return preds

    def decode_frame(self, frame: F2IInput, point_feats: Tensor, num_active: Optional[int] = None) -> F2IPrediction:
        """Everything after the backbone, for one frame; point_feats: (N, C)."""
        m = frame.num_fragments
        rel_xyz = frame.xyz - frame.xyz.mean(dim=0) if len(frame.xyz) else frame.xyz  # (N, 3)
        geometry = fragment_geometry(frame.xyz, frame.fragment, m, frame.rgb)  # (M, 11); [:, :3] centroid - frame mean
        frag_feats = self.pooling(point_feats, frame.fragment, m, geometry)  # (M, C)
        grouping = self.assembly(frag_feats, num_active)
        mask_feats = self.heads.point_mask_features(point_feats)  # (N, C)
        if m == 0:  # nothing to assemble: every layer predicts zero instances
            queries = [frag_feats[:0]] * len(self.decoder.layers)
        else:
            queries = self.decoder(
                frag_feats, geometry[:, :3], point_feats, rel_xyz, grouping.active_assign, grouping.affinity
            )  # L x (N̂, C)
        pair_affinity = None
        if self.pair is not None and frame.uv is not None and m > 0:
            cues = pair_cues(frame.xyz, frame.rgb, frame.uv, frame.fragment, m, grouping.affinity,
                             self.pair.config.cues, frame.viewpoint)  # (M, M, cues.count)
            pair_affinity = self.pair.affinity(cues)  # (M, M)
        origin, extent = frame_box(frame.xyz)
        return F2IPrediction(
            layers=[self.heads(q, mask_feats) for q in queries],
            count_logits=grouping.count_logits,
            assign=grouping.assign,
            affinity=grouping.affinity,
            num_active=grouping.num_active,
            queries=self.heads.norm(queries[-1]),
            frame_origin=origin,
            frame_extent=extent,
            pair_affinity=pair_affinity,
        )
