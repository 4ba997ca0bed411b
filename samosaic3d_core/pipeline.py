"""``OnlineSegmenter``: posed RGB-D frames in, an instance-labelled map out (the object the node calls).

One ``step`` runs the stages in order, timing each:

    masks        mask_source(frame)                          -> MaskResult (2D fragments)
    lift         lift_frame(frame, masks)                    -> FramePoints, Fragments
    frame_model  frame_model(frame, points, fragments)       -> frame Instances, local id per point
    associate    memory.observe(...) + associator(obs, memory) -> map id per frame instance (0 = new)
    memory       memory.integrate(obs, matches)              -> map ids per point, created/updated ids

The parts are passed in (constructor injection); ``from_config`` builds them by name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.io.npz import load_npz
from samosaic3d_core.lift import LiftConfig, lift_frame
from samosaic3d_core.memory import FrameObservation, MemoryConfig, SceneMemory
from samosaic3d_core.types import Fragments, Frame, FramePoints, Instances, MaskResult, SceneMap, StepResult

STATE_FORMAT = "samosaic3d-segmenter-state"
STATE_VERSION = 1
MERGING = ("auto", "heuristic", "learned", "untrained")


class FrameModel(Protocol):
    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """K frame instances (local ids 1..K) and (N,) int local id per point (0 = none)."""


class Associator(Protocol):
    def __call__(self, obs: FrameObservation, memory: SceneMemory) -> np.ndarray:
        """(K,) int map id per frame instance, 0 = new instance."""


@dataclass
class SegmenterConfig:
    """Everything that changes what ``OnlineSegmenter`` does. Flat, so ROS parameters map 1:1.

    Fields with the same name as a field of ``LiftConfig``, ``MemoryConfig``, ``DescriptorConfig``,
    ``AssociationConfig`` or ``LearnedAssociationConfig`` are handed to that part (``sub_config``).
    """

    pipeline: str = "auto"
    """"baseline" (fragments as instances + heuristic merging), "learned" (``checkpoint``, or the
    shipped weights) or "auto" ("learned" when a checkpoint is given or the package ships weights,
    else "baseline")."""
    masks: str = "oversegment"
    """Mask source name for ``samosaic3d_core.masks.make_mask_source`` (sim, oversegment, fastsam, oracle)."""
    mask_options: dict = field(default_factory=dict)
    """Keyword options of the mask source (e.g. ``{"weights": "FastSAM-s.pt"}``)."""
    checkpoint: str | None = None
    """Learned model checkpoint (.safetensors): F2I only, or F2I + I2S; required by the learned pipeline."""
    merging: str = "auto"
    """How the learned pipeline merges frame instances into the map: "heuristic" (colour features +
    ``HeuristicAssociator``), "learned" (F2I query features + trained I2S merger; needs an F2I + I2S
    checkpoint), "untrained" (the same with the merger's deterministic initial weights, i.e. no
    L_merge) or "auto" ("learned" for an F2I + I2S checkpoint, else "heuristic"). The baseline
    pipeline merges heuristically."""
    readout: str = "affinity"
    """Learned frame model's output: "affinity" (fragments grouped by the affinity W = A Aᵀ,
    average linkage cut at ``group_threshold``), "fragments" (whole fragments join the instance
    mask covering them; uncovered fragments stay their own instances) or "points" (per-point
    instance masks)."""
    group_threshold: float | None = None
    """With readout "affinity": two groups of fragments join while their mean affinity exceeds this
    (None: the checkpoint's own, see ``F2IFrameConfig.group_threshold``)."""
    device: str = "auto"
    """Torch device of learned parts: "auto" (cuda if available), "cpu", "cuda", "cuda:1", ..."""

    # lifting
    voxel_size: float = 0.02
    """Frame points are downsampled to one per voxel of this size (metres)."""
    point_budget: int = 10000
    """At most this many points per frame after downsampling (0 = no limit)."""
    min_depth: float = 0.1
    """Depth below this (metres) is invalid."""
    max_depth: float = 6.0
    """Depth beyond this (metres) is invalid."""
    min_fragment_points: int = 20
    """Fragments with fewer 3D points are dropped."""
    seed: int = 0
    """Seed of the point-budget sampling (combined with the frame index)."""

    # memory
    map_voxel_size: float = 0.02
    """Map instances keep their points on a voxel grid of this size (metres)."""
    association_voxel_size: float = 0.06
    """Cell size (metres) of the coarse ownership grid behind the overlap cues of association."""
    short_term_size: int = 50
    """Capacity of the short-term memory FIFO (N_short)."""
    vote_cap: int = 5
    """Contrary frames it takes to relabel a map voxel that frames agreed on."""
    feature_update: str = "mean"
    """Instance feature update on merge: "mean" (point-weighted running mean) or "replace"."""
    keep_unassigned: bool = True
    """Keep points that belong to no instance in the map (instance id 0)."""

    # baseline frame model and association
    color_bins: int = 8
    """Bins per RGB channel of the baseline's fragment colour histogram."""
    iou_weight: float = 0.3
    """Weight of 3D box IoU in the baseline merge score."""
    overlap_weight: float = 0.5
    """Weight of the cell containment (shared cells / cells of the smaller) in the baseline merge score."""
    feature_weight: float = 0.2
    """Weight of colour similarity in the baseline merge score."""
    merge_threshold: float = 0.3
    """Minimum baseline merge score of a Hungarian match."""
    max_box_gap: float = 0.1
    """Frame and map instances whose boxes are farther apart (metres) are never merged."""
    overlap_join_threshold: float = 0.5
    """An unmatched frame instance joins the map instance owning this fraction of its cells (>1: never)."""

    # learned association (I2S)
    i2s_merge_threshold: float = 0.5
    """Stage 1: a frame/short-term pair is merged when its M_short exceeds this."""
    long_term_iou: float = 0.25
    """Stage 2: a frame/long-term pair is merged when its 3D box IoU exceeds this."""
    long_term_containment: bool = False
    """Stage 2 scores by max(box IoU, cell containment) instead of box IoU alone."""

    def sub_config(self, cls):
        """An instance of the dataclass ``cls`` built from the same-named fields of this config."""
        names = {f.name for f in dataclasses.fields(self)}
        return cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls) if f.name in names})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "SegmenterConfig":
        """From ``to_dict`` output; ValueError naming ``source`` for unknown fields."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{source}: unknown segmenter config field(s) {sorted(unknown)}")
        return cls(**values)


class OnlineSegmenter:
    """Streaming 3D instance segmentation: ``step`` one frame at a time, read ``instances``/``map``.

    Args:
        mask_source: ``frame -> MaskResult`` (see ``samosaic3d_core.masks``).
        frame_model: ``(frame, points, fragments) -> (Instances, point_local)`` (``FrameModel``).
        associator: ``(obs, memory) -> matches`` (``Associator``).
        config: lifting and memory settings are taken from it.
    """

    def __init__(
        self,
        mask_source: Callable[[Frame], MaskResult],
        frame_model: FrameModel,
        associator: Associator,
        config: SegmenterConfig | None = None,
    ):
        self.config = config or SegmenterConfig()
        self.mask_source = mask_source
        self.frame_model = frame_model
        self.associator = associator
        self.lift_config = self.config.sub_config(LiftConfig)
        self.memory = SceneMemory(self.config.sub_config(MemoryConfig))
        self._num_frames = 0

    @classmethod
    def from_config(cls, config: SegmenterConfig) -> "OnlineSegmenter":
        """Build the mask source, frame model and associator named by ``config``."""
        config = resolve_pipeline(config)
        if config.merging not in MERGING:
            raise ValueError(f"unknown merging {config.merging!r}; expected one of {', '.join(MERGING)}")
        from samosaic3d_core.baseline import (
            AssociationConfig, ColorFeatures, FragmentsAsInstances, DescriptorConfig, HeuristicAssociator,
        )
        from samosaic3d_core.masks import make_mask_source

        frame_config = config.sub_config(DescriptorConfig)
        mask_source = make_mask_source(config.masks, **config.mask_options)
        heuristic = HeuristicAssociator(config.sub_config(AssociationConfig))
        if config.pipeline == "baseline":
            if config.merging not in ("auto", "heuristic"):
                raise ValueError(f"merging={config.merging!r} needs pipeline='learned' (the baseline merges heuristically)")
            return cls(mask_source, FragmentsAsInstances(frame_config), heuristic, config)
        if not config.checkpoint:
            raise ValueError(
                "learned pipeline needs a checkpoint: set SegmenterConfig.checkpoint "
                "(--checkpoint PATH), or use pipeline='baseline'"
            )
        from samosaic3d_core.i2s_association import LearnedAssociationConfig, LearnedAssociator
        from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, load_f2i, load_samosaic3d
        from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
        from samosaic3d_core.model.i2s import I2SConfig, I2SMerger

        device = resolve_device(config.device)
        combined = is_samosaic3d_checkpoint(config.checkpoint)
        merging = ("learned" if combined else "heuristic") if config.merging == "auto" else config.merging
        if merging == "learned" and not combined:
            raise ValueError(
                f"{config.checkpoint}: holds F2I weights only; merging='learned' needs F2I + I2S weights "
                "(samosaic3d train --stage temporal), or use merging='heuristic' or 'untrained'"
            )
        if combined:
            model, _, merger, i2s_config = load_samosaic3d(config.checkpoint, device)
        else:
            model, f2i_config = load_f2i(config.checkpoint, device)
            merger = None
            i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels, color_dim=3 * config.color_bins + 3)
        if merging == "untrained":  # the merger's deterministic initial weights (of the stored config, if any)
            merger = I2SMerger(i2s_config)
        frame_model = F2IFrameModel(model, F2IFrameConfig(readout=config.readout, group_threshold=config.group_threshold),
                                    device=device)
        if merging == "heuristic":  # F2I only: the baseline's association over colour features
            return cls(mask_source, ColorFeatures(frame_model, frame_config), heuristic, config)
        frame_model = learned_frame_features(frame_model, i2s_config, frame_config)
        association = dataclasses.replace(config.sub_config(LearnedAssociationConfig), device=device)
        return cls(mask_source, frame_model, LearnedAssociator(merger, association), config)

    @property
    def num_frames(self) -> int:
        """Frames stepped since construction / reset (or restored by ``load``)."""
        return self._num_frames

    def step(self, frame: Frame) -> StepResult:
        """Segment one frame and fuse it into the map; ``timings`` has seconds per stage and "total"."""
        frame.validate(f"frame {frame.index}")
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = now - clock
            clock = now

        masks = self.mask_source(frame)
        lap("masks")
        points, fragments = lift_frame(frame, masks, self.lift_config)
        lap("lift")
        frame_instances, point_local = self.frame_model(frame, points, fragments)
        lap("frame_model")
        obs = self.memory.observe(points, frame_instances, point_local, frame.index, frame.timestamp)
        matches = np.asarray(self.associator(obs, self.memory), np.int64)
        lap("associate")
        point_instance, created, updated = self.memory.integrate(obs, matches)
        lap("memory")
        timings["total"] = sum(timings.values())

        self._num_frames += 1
        frame_instances.ids = np.where(matches > 0, matches, 0)
        if created:
            frame_instances.ids[matches == 0] = created
        return StepResult(
            points=points, masks=masks, fragments=fragments, frame_instances=frame_instances,
            point_instance=point_instance, created=created, updated=updated, timings=timings,
        )

    def instances(self) -> Instances:
        """Alive map instances, ascending id, with centroid, first/last seen (s) and tier filled."""
        return self.memory.instances()

    def map(self) -> SceneMap:
        """All map points (one per map voxel): xyz, rgb, instance_ids (0 = none), scores."""
        return self.memory.scene_map()

    def reset(self) -> None:
        """Forget the map; the next instance gets id 1."""
        self.memory.reset()
        self._num_frames = 0

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the whole streaming state to one .npz (no pickle), atomically."""
        meta = {"format": STATE_FORMAT, "version": STATE_VERSION, "config": self.config.to_dict()}
        arrays = self.memory.state()
        arrays["num_frames"] = np.asarray(self._num_frames, np.int64)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def load(self, path: str | os.PathLike) -> None:
        """Replace the state with the one saved at ``path``.

        Raises ValueError naming the file if it is missing, corrupt, not a segmenter state, of
        another format version, or saved with a different map voxel size or pipeline; the live
        state is untouched then. Thresholds are not restored: this segmenter's config applies.
        """
        path = Path(path)
        arrays = load_npz(path, "segmenter state")
        meta = _read_meta(arrays, path)
        saved = meta.get("config", {})
        for name in ("map_voxel_size", "pipeline"):
            if saved.get(name) != getattr(self.config, name):
                raise ValueError(
                    f"{path}: saved with {name}={saved.get(name)!r}, this segmenter uses "
                    f"{getattr(self.config, name)!r}; load it into a segmenter with the same {name}"
                )
        try:
            memory = SceneMemory.from_state(arrays, self.memory.config, str(path))
            num_frames = int(arrays["num_frames"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"{path}: malformed segmenter state ({exc!r})") from exc
        self.memory, self._num_frames = memory, num_frames


def learned_frame_features(frame_model, i2s_config, frame_config):
    """``frame_model`` with the instance features the merger of ``i2s_config`` reads: the F2I query,
    followed by the colour descriptor when the merger has a colour cue."""
    from samosaic3d_core.baseline import ColorFeatures

    if not i2s_config.color_dim:
        return frame_model
    wrapped = ColorFeatures(frame_model, frame_config, append=True)
    if wrapped.color_dim != i2s_config.color_dim:
        raise ValueError(f"the merger reads {i2s_config.color_dim}-wide colour descriptors, color_bins="
                         f"{frame_config.color_bins} gives {wrapped.color_dim}; use the color_bins it was trained with")
    return wrapped


def resolve_pipeline(config: SegmenterConfig) -> SegmenterConfig:
    """``config`` with "auto" decided and the shipped weights filled in where no checkpoint is given."""
    if config.pipeline not in ("auto", "baseline", "learned"):
        raise ValueError(f"unknown pipeline {config.pipeline!r}; expected 'auto', 'baseline' or 'learned'")
    if config.pipeline == "baseline" or config.checkpoint:
        return config if config.pipeline != "auto" else dataclasses.replace(config, pipeline="learned")
    from samosaic3d_core.model.checkpoint import shipped_checkpoint

    shipped = shipped_checkpoint()
    if shipped is None:
        return dataclasses.replace(config, pipeline="baseline") if config.pipeline == "auto" else config
    return dataclasses.replace(config, pipeline="learned", checkpoint=str(shipped))


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _read_meta(arrays: dict[str, np.ndarray], path: Path) -> dict:
    """The JSON metadata of a state file, checked for format and version."""
    raw = arrays.get("meta")
    try:
        if raw is None or raw.dtype != np.uint8:
            raise ValueError("no 'meta' array")
        meta = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("'meta' is not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a samosaic3d segmenter state file ({exc})") from exc
    if meta.get("format") != STATE_FORMAT:
        raise ValueError(f"{path}: not a samosaic3d segmenter state file (format {meta.get('format')!r})")
    if meta.get("version") != STATE_VERSION:
        raise ValueError(
            f"{path}: segmenter state version {meta.get('version')!r} is not supported "
            f"(this build reads version {STATE_VERSION}); re-create the map with this version"
        )
    return meta
