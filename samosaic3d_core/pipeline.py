"""``OnlineSegmenter``: posed RGB-D frames in, an instance-labelled map out (the object the node calls).

One ``step`` runs the stages in order, timing each:

    refine       refiner(frame, map surface)                 -> PoseCorrection (frame fused with its pose)
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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Protocol

import numpy as np

from samosaic3d_core import config as config_io
from samosaic3d_core.allocator import keep_freed_memory
from samosaic3d_core.baseline import AssociationConfig, DescriptorConfig
from samosaic3d_core.i2s_association import LearnedAssociationConfig
from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.io.npz import load_npz
from samosaic3d_core.lift import LiftConfig, filtered_depth, lift_config_for_masks, lift_frame
from samosaic3d_core.masks.config import MaskConfig
from samosaic3d_core.memory import FrameObservation, MemoryConfig, SceneMemory, memory_config_for_masks
from samosaic3d_core.model.frame_model import F2IFrameConfig
from samosaic3d_core.map_anchor import TrackerAnchor, apply_to_points, moved_instances
from samosaic3d_core.pose_refine import PoseCorrection, PoseRefiner, RefineConfig
from samosaic3d_core.types import Fragments, Frame, FramePoints, Instances, MaskResult, SceneMap, StepResult

STATE_FORMAT = "samosaic3d-segmenter-state"
STATE_VERSION = 5
"""Version 2 adds the view-consensus evidence of map consolidation, version 3 the boundary planes of
the room structure, version 4 the frames that saw and kept each instance (its confidence), version 5
the parts of instances that frames keep apart (``samosaic3d_core.memory_parts``); older files load
without them."""
READABLE_STATE_VERSIONS = (1, 2, 3, 4, 5)
MERGING = ("auto", "heuristic", "learned", "untrained")


class FrameModel(Protocol):
    def __call__(self, frame: Frame, points: FramePoints, fragments: Fragments) -> tuple[Instances, np.ndarray]:
        """K frame instances (local ids 1..K) and (N,) int local id per point (0 = none)."""


class Associator(Protocol):
    def __call__(self, obs: FrameObservation, memory: SceneMemory) -> np.ndarray:
        """(K,) int map id per frame instance, 0 = new instance."""


@dataclass
class SegmenterConfig:
    """Everything that changes what ``OnlineSegmenter`` does: which parts run, and each part's own config.

    Read from YAML/JSON with ``from_dict`` (nested) or ``from_flat`` (dotted names such as
    ``lift.voxel_size``, as the node's parameters); unknown keys are rejected.
    """

    pipeline: Literal["auto", "baseline", "learned"] = "auto"
    """"baseline" (fragments as instances + heuristic merging), "learned" (``checkpoint``, or the
    shipped weights) or "auto" ("learned" when a checkpoint is given or the package ships weights,
    else "baseline")."""
    checkpoint: str = ""
    """Learned model checkpoint (.safetensors): F2I only, or F2I + I2S (empty: the shipped weights for
    the mask source: ``samosaic3d_synth_sam`` for sim, fastsam and oracle, ``samosaic3d_synth`` for
    oversegment)."""
    merging: Literal["auto", "heuristic", "learned", "untrained"] = "auto"
    """How the learned pipeline merges frame instances into the map: "heuristic" (colour features +
    ``HeuristicAssociator``), "learned" (F2I query features + trained I2S merger; needs an F2I + I2S
    checkpoint), "untrained" (the same with the merger's deterministic initial weights, i.e. no
    L_merge) or "auto" ("learned" for an F2I + I2S checkpoint, else "heuristic"). The baseline
    pipeline merges heuristically."""
    device: str = "auto"
    """Torch device of learned parts: "auto" (cuda if available), "cpu", "cuda", "cuda:1", ..."""
    masks: MaskConfig = field(default_factory=MaskConfig)
    lift: LiftConfig = field(default_factory=LiftConfig)
    frame_model: F2IFrameConfig = field(default_factory=F2IFrameConfig)
    descriptor: DescriptorConfig = field(default_factory=DescriptorConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    learned_association: LearnedAssociationConfig = field(default_factory=LearnedAssociationConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    cpu_threads: int = 1
    """Torch threads of the learned pipeline when it runs on the CPU, set for the whole process when
    the segmenter is built (0: leave torch's setting). One keeps the step steady when other work
    shares a small CPU (the node's publisher, DDS): with another process busy on a 2-core CPU the
    320x240 step took 130 ms with 1 thread against 201 ms with 2, where the merger's small products
    waited for a second thread; idle, the two are alike (docs/runtime.md).
    ``frame_model.cpu_threads`` applies when this is 0."""
    keep_freed_memory: bool = True
    """Keep freed memory in the process instead of returning it to the system after every frame
    (glibc ``mallopt``; process-wide, applied by the first segmenter that has it on): each frame's
    arrays reuse warm pages instead of faulting in fresh ones: lifting a 640x480 frame took half the
    time on a virtual machine, the whole step 16 % less (docs/runtime.md). Memory then stays at its high-water mark."""

    def __post_init__(self):
        config_io.check_sections(self)
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0, got {self.cpu_threads}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise ValueError(f"device='{self.device}'; expected auto, cpu, cuda, cuda:N or mps")

    def to_dict(self) -> dict:
        return config_io.to_dict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config", base: "SegmenterConfig | None" = None) -> "SegmenterConfig":
        """From nested ``to_dict`` output (keys left out keep ``base``'s values or the defaults);
        ValueError naming ``source`` and the key for an unknown key or a wrong value."""
        return config_io.from_dict(cls, values, source, base)

    @classmethod
    def from_flat(cls, values: dict, source: str = "config", base: "SegmenterConfig | None" = None) -> "SegmenterConfig":
        """From dotted names: ``{"masks.source": "sim", "lift.voxel_size": 0.03}``."""
        return config_io.from_flat(cls, values, source, base)


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
        if self.config.keep_freed_memory:
            keep_freed_memory()
        self.mask_source = mask_source
        self.frame_model = frame_model
        self.associator = associator
        self.lift_config = lift_config_for_masks(self.config.lift, self.config.masks.source)
        self.memory = SceneMemory(memory_config_for_masks(self.config.memory, self.config.masks.source))
        self.refiner = PoseRefiner(self.config.refine)
        self.anchor = None if self.config.refine.anchor == "first" else TrackerAnchor()
        self._num_frames = 0

    @classmethod
    def from_config(cls, config: SegmenterConfig) -> "OnlineSegmenter":
        """Build the mask source, frame model and associator named by ``config``."""
        config = resolve_pipeline(config)
        from samosaic3d_core.baseline import FragmentsAsInstances, HeuristicAssociator
        from samosaic3d_core.masks import build_mask_source

        mask_source = build_mask_source(config.masks)
        if config.pipeline == "baseline":
            if config.merging not in ("auto", "heuristic"):
                raise ValueError(f"merging={config.merging!r} needs pipeline='learned' (the baseline merges heuristically)")
            frame_model = FragmentsAsInstances(config.descriptor)
            return cls(mask_source, frame_model, HeuristicAssociator(config.association), config)
        return cls(mask_source, *_learned_parts(config), config)

    @property
    def num_frames(self) -> int:
        """Frames stepped since construction / reset (or restored by ``load``)."""
        return self._num_frames

    def step(self, frame: Frame) -> StepResult:
        """Segment one frame and fuse it into the map; ``timings`` has seconds per stage and "total"."""
        frame.validate(f"frame {frame.index}")
        clock = time.perf_counter()
        frame = filtered_depth(frame, self.lift_config)  # timed with the lift
        now = time.perf_counter()
        timings: dict[str, float] = {"filter": now - clock}
        clock = now

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = now - clock
            clock = now

        correction = self.refiner(frame, self.memory.surface_points())
        if not np.array_equal(correction.pose, frame.pose):
            frame = dataclasses.replace(frame, pose=correction.pose)
        lap("refine")
        masks = self.mask_source(frame)
        lap("masks")
        points, fragments = lift_frame(frame, masks, self.lift_config)
        lap("lift")
        timings["lift"] += timings.pop("filter")
        frame_instances, point_local = self.frame_model(frame, points, fragments)
        lap("frame_model")
        frame_instances, point_local = self.memory.without_structure(points, frame_instances, point_local)
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
        if self.anchor is not None:
            self.anchor.add(correction.tracker_pose, correction.pose)
            points, frame_instances, correction = self._anchored(points, frame_instances, correction)
        return StepResult(
            points=points, masks=masks, fragments=fragments, frame_instances=frame_instances,
            point_instance=point_instance, created=created, updated=updated, timings=timings,
            pose_correction=correction,
        )

    def instances(self) -> Instances:
        """Alive map instances, ascending id, with centroid, first/last seen (s) and tier filled."""
        return moved_instances(self.memory.instances(), self.published_frame())

    def map(self) -> SceneMap:
        """All map points (one per map voxel): xyz, rgb, instance_ids (0 = none), scores."""
        scene_map = self.memory.scene_map()
        transform = self.published_frame()
        if transform is not None:
            scene_map = dataclasses.replace(scene_map, xyz=apply_to_points(transform, scene_map.xyz))
        return scene_map

    def published_frame(self) -> np.ndarray | None:
        """(4, 4) transform from the map's own frame to the one its outputs are given in
        (``refine.anchor``); None when they are the same."""
        cfg = self.config.refine
        if self.anchor is None or self.anchor.frames == 0:
            return None
        if cfg.anchor == "auto" and not self.anchor.jitter_deg() > cfg.anchor_jitter_deg:
            return None
        return self.anchor.transform()

    def _anchored(self, points: FramePoints, frame_instances: Instances, correction: PoseCorrection):
        """A step's points, instances and pose in the published frame (``refine.anchor``)."""
        transform = self.published_frame()
        if transform is None:
            return points, frame_instances, correction
        points = dataclasses.replace(points, xyz=apply_to_points(transform, points.xyz))
        correction = dataclasses.replace(correction, pose=transform @ correction.pose)
        return points, moved_instances(frame_instances, transform), correction

    def reset(self) -> None:
        """Forget the map; the next instance gets id 1."""
        self.memory.reset()
        self.refiner.reset()
        if self.anchor is not None:
            self.anchor.reset()
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
        ours = config_io.flatten(self.config.to_dict())
        theirs = config_io.flatten(_current_layout(saved))
        for name in ("memory.map_voxel_size", "pipeline"):
            if theirs.get(name) != ours[name]:
                raise ValueError(
                    f"{path}: saved with {name}={theirs.get(name)!r}, this segmenter uses "
                    f"{ours[name]!r}; load it into a segmenter with the same {name}"
                )
        try:
            memory = SceneMemory.from_state(arrays, self.memory.config, str(path))
            num_frames = int(arrays["num_frames"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"{path}: malformed segmenter state ({exc!r})") from exc
        self.memory, self._num_frames = memory, num_frames
        if self.anchor is not None:  # not part of the state: the fit starts again with the next frames
            self.anchor.reset()


def _learned_parts(config: SegmenterConfig) -> tuple[FrameModel, Associator]:
    """Frame model and associator of the learned pipeline: F2I from ``config.checkpoint``, merged
    heuristically, by the trained I2S merger, or by the merger's initial weights (``config.merging``)."""
    from samosaic3d_core.baseline import ColorFeatures, HeuristicAssociator
    from samosaic3d_core.i2s_association import LearnedAssociator, association_config_for_masks
    from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, load_f2i, load_samosaic3d
    from samosaic3d_core.model.frame_model import F2IFrameModel, frame_config_for_masks
    from samosaic3d_core.model.i2s import I2SConfig, I2SMerger

    device = resolve_device(config.device)
    if device == "cpu" and config.cpu_threads > 0:
        import torch

        torch.set_num_threads(config.cpu_threads)
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
        i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels, color_dim=config.descriptor.dim)
    if merging == "untrained":  # the merger's deterministic initial weights (of the stored config, if any)
        merger = I2SMerger(i2s_config)
    association = association_config_for_masks(config.learned_association, config.masks.source)
    concavity = merging != "heuristic" and association.reads_concavity
    frame_model = F2IFrameModel(model, frame_config_for_masks(config.frame_model, config.masks.source), device=device,
                                concavity=concavity)
    if merging == "heuristic":  # F2I only: the baseline's association over colour features
        return ColorFeatures(frame_model, config.descriptor), HeuristicAssociator(config.association)
    frame_model = learned_frame_features(frame_model, i2s_config, config.descriptor)
    return frame_model, LearnedAssociator(merger, association, device=device)


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
    """``config`` with "auto" decided and the shipped weights for its mask source filled in where no
    checkpoint is given."""
    for name, allowed in (("pipeline", ("auto", "baseline", "learned")), ("merging", MERGING)):
        if getattr(config, name) not in allowed:
            raise ValueError(f"unknown {name} {getattr(config, name)!r}; expected one of {', '.join(allowed)}")
    if config.pipeline == "baseline" or config.checkpoint:
        return config if config.pipeline != "auto" else dataclasses.replace(config, pipeline="learned")
    from samosaic3d_core.model.checkpoint import shipped_checkpoint

    shipped = shipped_checkpoint(config.masks.source)
    if shipped is not None:
        return dataclasses.replace(config, pipeline="learned", checkpoint=str(shipped))
    if config.pipeline == "learned":
        raise ValueError("learned pipeline needs a checkpoint: set SegmenterConfig.checkpoint "
                         "(--checkpoint PATH), or use pipeline='baseline'")
    return dataclasses.replace(config, pipeline="baseline")


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _current_layout(saved: dict) -> dict:
    """A saved config in the nested layout: files of state version 1 hold the flat one of that time."""
    if "memory" in saved:
        return saved
    return {"pipeline": saved.get("pipeline"), "memory": {"map_voxel_size": saved.get("map_voxel_size")}}


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
    if meta.get("version") not in READABLE_STATE_VERSIONS:
        raise ValueError(
            f"{path}: segmenter state version {meta.get('version')!r} is not supported "
            f"(this build reads versions {', '.join(map(str, READABLE_STATE_VERSIONS))}); re-create the map with this version"
        )
    return meta
