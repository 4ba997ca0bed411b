"""Temporal stage: train the I2S merger with L_merge on the memory the online pipeline builds.

Each training scene is replayed through the online pipeline's own parts (mask source -> lifting
-> frame model -> ``SceneMemory``), every ``frame_gap``-th frame, with a teacher-forced
association: a frame instance joins the map instance of its majority ground-truth id (the one a
perfect associator would have built), instances of no object (id 0: floor, walls) join the
no-object map instance owning most of their cells (at least ``join_background``) or start new
ones. Before each frame is integrated, the stage-1 problem of that frame is recorded exactly as
``LearnedAssociator`` will pose it at run time: the frame instances' features and boxes, the
short-term memory's, and the cell overlap of every pair, with

    L_merge = BCE(M_short(frame, short-term memory, overlap), G),   G_ij = 1 iff the same non-zero id

Pairs of two no-object instances are left out of the loss (which wall piece joins which does not
change an instance map); a no-object instance and an object must not merge.

``TemporalConfig.replay`` "own" / "both" replays the scenes through the merger's own association
instead / as well (``samosaic3d_core.train.rollout``): maps as run time builds them, fused map
instances included, with targets from the map's own ground-truth majority.

The F2I model is frozen (eval mode, no gradients): only the merger learns. The paper trains the
full framework end to end in this stage; freezing makes the stage affordable on a CPU, because
the replay runs once and its merge problems are cached (fragments are cut with a per-frame seed).
The run directory is the shared skeleton's (``samosaic3d_core.train.skeleton``); its weights
files hold both models (``save_samosaic3d``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from samosaic3d_core.baseline import DescriptorConfig
from samosaic3d_core.config import to_dict
from samosaic3d_core.geometry import majority_vote
from samosaic3d_core.i2s_association import LearnedAssociationConfig, best_above, pair_overlap
from samosaic3d_core.lift import LiftConfig, filtered_depth, lift_frame
from samosaic3d_core.losses import merge_loss, merge_targets
from samosaic3d_core.masks.base import MaskSource
from samosaic3d_core.memory import MemoryConfig, SceneMemory
from samosaic3d_core.model.checkpoint import I2S_PREFIX, save_samosaic3d
from samosaic3d_core.model.f2i import F2IConfig, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
from samosaic3d_core.pipeline import FrameModel
from samosaic3d_core.train.dataset import open_scene
from samosaic3d_core.train.skeleton import (
    RunFiles, Stage, TrainConfig, check_or_write_config, epoch_order, fit, setup_distributed,
)
from samosaic3d_core.types import Frame

TERMS = ("merge", "mean_pos", "mean_neg", "precision", "recall")


@dataclass
class TemporalConfig:
    """How scenes are replayed and supervised; the run-time parts replayed are configured by the
    run-time components' own configs."""

    frame_gap: int = 2
    """Replay every this many frames of a scene (1 = every frame, as at run time)."""
    max_frames: int = 0
    """Replay at most this many frames per scene (0 = all)."""
    replay: Literal["teacher", "own", "both"] = "teacher"
    """Whose association builds the replayed maps: "teacher" (the ground truth's: each map instance
    holds one object), "own" (the merger of ``--init``, as at run time, structure and consolidation
    included: ``samosaic3d_core.train.rollout``; targets from the map as built), or "both" (every
    frame replayed both ways)."""
    join_background: float = 0.5
    """Teacher forcing: a no-object instance joins the no-object map instance owning this fraction of its cells."""
    pos_weight: float = 2.0
    """Weight of the positive (same object) pairs in the BCE; they are rare."""
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    """The replayed memory (N_short: ``memory.short_term_size``), as at run time."""
    frame_model: F2IFrameConfig = field(default_factory=F2IFrameConfig)
    """Readout of the frozen F2I frame model; run time must use the same."""
    descriptor: DescriptorConfig = field(default_factory=DescriptorConfig)
    """Colour descriptor appended to the instance features when the merger has a colour cue
    (``I2SConfig.color_dim`` > 0; it defaults to ``descriptor.dim``)."""
    learned_association: LearnedAssociationConfig = field(default_factory=LearnedAssociationConfig)
    """``i2s_merge_threshold``: M above which a frame instance joins its best short-term instance
    (the precision / recall metrics apply the associator's rule); the rollouts' association."""

    def __post_init__(self):
        if self.replay not in ("teacher", "own", "both"):
            raise ValueError(f"replay must be 'teacher', 'own' or 'both', got {self.replay!r}")


@dataclass
class MergeProblem:
    """One frame's stage-1 merge problem (K frame instances, S short-term instances; CPU tensors).

    frame_feats: (K, W); frame_boxes: (K, 6) min xyz, max xyz (metres)
    memory_feats: (S, W); memory_boxes: (S, 6); overlap: (K, S, 2) containment, owned fraction
    target: (K, S) float G; counted: (K, S) bool, the pairs the loss counts
    """

    frame_feats: Tensor
    frame_boxes: Tensor
    memory_feats: Tensor
    memory_boxes: Tensor
    overlap: Tensor
    target: Tensor
    counted: Tensor


def instance_gt_ids(frame: Frame, points, point_local: np.ndarray, num_instances: int) -> np.ndarray:
    """(K,) int64 majority ground-truth id of each frame instance (0 = no object)."""
    if frame.instance_gt is None:
        raise ValueError(f"frame {frame.index}: no instance_gt; temporal training needs per-pixel instance ids")
    gt = np.maximum(frame.instance_gt.reshape(-1)[points.pixel].astype(np.int64), 0)
    member = point_local > 0
    return majority_vote(point_local[member] - 1, gt[member], num_instances)


def observe_frame(memory: SceneMemory, frame_model: FrameModel, lift_config: LiftConfig, frame: Frame, masks,
                  drop_structure: bool = False):
    """Lift ``frame``, run the frame model (without room structure if ``drop_structure``, as run time
    does) and look its instances up in ``memory``: (points, (K,) ground-truth id of each frame
    instance, the ``FrameObservation``, the short-term map instances)."""
    points, fragments = lift_frame(frame, masks, lift_config)
    instances, point_local = frame_model(frame, points, fragments)
    if drop_structure:
        instances, point_local = memory.without_structure(points, instances, point_local)
    point_local = np.asarray(point_local, np.int64)
    gt_ids = instance_gt_ids(frame, points, point_local, len(instances))
    obs = memory.observe(points, instances, point_local, frame.index, frame.timestamp)
    return points, gt_ids, obs, memory.instances(np.asarray(memory.short_term_ids(), np.int64), scored=False)


def merge_problem(obs, short, frame_gt: np.ndarray, memory_gt: np.ndarray) -> MergeProblem:
    """A frame's stage-1 problem: its instances (``obs.instances``) against the short-term map
    instances ``short``, with targets from their (K,) and (S,) ground-truth ids (0 = no object)."""
    frame_gt, memory_gt = torch.as_tensor(frame_gt, dtype=torch.int64), torch.as_tensor(memory_gt, dtype=torch.int64)
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
    instances = obs.instances
    return MergeProblem(
        as_tensor(instances.feats), as_tensor(instances.boxes), as_tensor(short.feats),
        as_tensor(short.boxes), as_tensor(pair_overlap(obs, short.ids)),
        merge_targets(frame_gt, memory_gt), (frame_gt[:, None] > 0) | (memory_gt[None, :] > 0),
    )


class TeacherForcedReplay:
    """Replays one scene through lifting, the frame model and a ``SceneMemory`` associated by ground truth
    (the memory does not consolidate: the teacher alone decides which map instance is which object)."""

    def __init__(self, frame_model: FrameModel, lift_config: LiftConfig, memory_config: MemoryConfig,
                 join_background: float = 0.5):
        self.frame_model, self.lift_config, self.join_background = frame_model, lift_config, join_background
        # the teacher makes every association: a memory that revises itself (consolidation merges,
        # splits and prunes map instances) would hold ids the teacher never matched to an object
        self.memory = SceneMemory(dataclasses.replace(
            memory_config, consolidation=dataclasses.replace(memory_config.consolidation, every=0)))
        self.gt_of_map: dict[int, int] = {}  # map id -> ground-truth id (0 = no object)
        self.map_of_gt: dict[int, int] = {}  # ground-truth id -> its map instance

    def step(self, frame: Frame, masks) -> Optional[MergeProblem]:
        """Integrate ``frame`` (teacher-forced); returns its merge problem (None without pairs)."""
        _, gt_ids, obs, short = observe_frame(self.memory, self.frame_model, self.lift_config, frame, masks)
        problem = None
        if len(gt_ids) and len(short):
            problem = merge_problem(obs, short, gt_ids, np.array([self.gt_of_map[int(i)] for i in short.ids], np.int64))
        matches = self._teacher_matches(obs, gt_ids)
        _, created, _ = self.memory.integrate(obs, matches)
        for i, map_id in zip(np.flatnonzero(matches == 0).tolist(), created):
            gid = int(gt_ids[i])
            self.gt_of_map[map_id] = gid
            if gid > 0 and gid not in self.map_of_gt:
                self.map_of_gt[gid] = map_id
        return problem

    def _teacher_matches(self, obs, gt_ids: np.ndarray) -> np.ndarray:
        alive = set(self.memory.alive_ids().tolist())
        for gid, map_id in list(self.map_of_gt.items()):
            if map_id not in alive:
                del self.map_of_gt[gid]
        matches = np.array([self.map_of_gt.get(int(g), 0) if g > 0 else 0 for g in gt_ids], np.int64)
        background = np.array(sorted(i for i in alive if self.gt_of_map[i] == 0), np.int64)
        if len(background):
            owned = obs.owned_fraction()[:, background]  # (K, B)
            best = owned.argmax(axis=1)
            join = (gt_ids == 0) & (owned[np.arange(len(gt_ids)), best] >= self.join_background)
            matches[join] = background[best[join]]
        return matches


class MergeDataset:
    """The merge problems of teacher-forced replays of ``scenes`` (computed once, see ``prepare``)."""

    def __init__(
        self,
        scenes: Sequence[str | Path | Sequence[Frame]],
        make_masks: Callable[[int], MaskSource],
        frame_model: FrameModel,
        lift_config: LiftConfig,
        config: TemporalConfig,
        seed: int = 0,
        rollout_merger: Optional[I2SMerger] = None,
    ):
        """scenes: scene folders, or frame sequences (anything with len() and [i]);
        make_masks(seed) -> a mask source; frame_model: the frozen frame model (with the instance
        features the merger reads); rollout_merger: the merger whose association builds the maps
        of ``config.replay`` "own" / "both" (required there)."""
        if not scenes:
            raise ValueError("MergeDataset: no scenes given")
        if config.frame_gap < 1:
            raise ValueError(f"frame_gap must be >= 1, got {config.frame_gap}")
        if config.replay != "teacher" and rollout_merger is None:
            raise ValueError(f"replay {config.replay!r} needs a merger to roll out (a combined F2I + I2S --init)")
        self.readers = [open_scene(s) if isinstance(s, (str, Path)) else s for s in scenes]
        self.make_masks, self.frame_model, self.lift_config = make_masks, frame_model, lift_config
        self.config, self.seed, self.rollout_merger = config, seed, rollout_merger
        self._problems: Optional[list[MergeProblem]] = None

    def frames(self, scene: int) -> list[int]:
        """Frame indices replayed from ``scene``."""
        picked = list(range(0, len(self.readers[scene]), self.config.frame_gap))
        return picked[: self.config.max_frames] if self.config.max_frames > 0 else picked

    def prepare(self, progress: bool = False) -> None:
        """Replay every scene now (else on first use)."""
        if self._problems is not None:
            return
        jobs = [(s, f) for s in range(len(self.readers)) for f in self.frames(s)]
        if progress:
            from tqdm import tqdm

            jobs = tqdm(jobs, desc="replay frames", dynamic_ncols=True)
        problems, replays, current = [], [], -1
        for scene, frame_index in jobs:
            if scene != current:
                replays, current = self._replays(), scene
            frame = filtered_depth(self.readers[scene][frame_index], self.lift_config)  # as run time reads it
            frame_seed = int(np.random.SeedSequence([self.seed, scene, frame_index]).generate_state(1)[0])
            masks = self.make_masks(frame_seed)(frame)
            for replay in replays:
                problem = replay.step(frame, masks)
                if problem is not None and bool(problem.counted.any()):
                    problems.append(problem)
        if not problems:
            raise ValueError("MergeDataset: the replays gave no merge problem (too few frames or instances)")
        self._problems = problems

    def _replays(self) -> list:
        """Fresh replays of one scene, as ``config.replay`` asks."""
        replays = []
        if self.config.replay in ("teacher", "both"):
            replays.append(TeacherForcedReplay(self.frame_model, self.lift_config, self.config.memory,
                                               self.config.join_background))
        if self.config.replay in ("own", "both"):
            from samosaic3d_core.i2s_association import LearnedAssociator
            from samosaic3d_core.train.rollout import RolloutReplay

            associator = LearnedAssociator(self.rollout_merger, self.config.learned_association)
            replays.append(RolloutReplay(self.frame_model, self.lift_config, self.config.memory, associator))
        return replays

    def __len__(self) -> int:
        self.prepare()
        return len(self._problems)

    def __getitem__(self, i: int) -> MergeProblem:
        self.prepare()
        return self._problems[i]


def problem_terms(merger: I2SMerger, problem: MergeProblem, config: TemporalConfig, device) -> tuple[Tensor, Tensor]:
    """L_merge of one frame's problem and the detached logging terms (TERMS order, NaN where undefined)."""
    logits = merger(problem.frame_feats.to(device), problem.frame_boxes.to(device), problem.memory_feats.to(device),
                    problem.memory_boxes.to(device), problem.overlap.to(device))
    target, counted = problem.target.to(device), problem.counted.to(device)
    loss = merge_loss(logits[counted], target[counted], config.pos_weight)
    prob = logits.detach().sigmoid().cpu()
    positive, negative = problem.target > 0, (problem.target == 0) & problem.counted
    rows, cols = best_above(prob.numpy(), config.learned_association.i2s_merge_threshold)  # the associator's stage-1 rule
    merged = torch.zeros_like(positive)
    merged[torch.as_tensor(rows), torch.as_tensor(cols)] = True
    merged &= problem.counted
    nan = torch.tensor(float("nan"))
    true_pos = (merged & positive).sum()
    has_pos = positive.any(dim=1)
    terms = torch.stack([
        loss.detach().cpu(),
        prob[positive].mean() if positive.any() else nan,
        prob[negative].mean() if negative.any() else nan,
        true_pos / merged.sum() if merged.any() else nan,
        true_pos / has_pos.sum() if has_pos.any() else nan,
    ])
    return loss, terms


def _nanmean(rows: list[Tensor]) -> list[float]:
    return [float(v) for v in torch.nanmean(torch.stack(rows), dim=0)]


def evaluate_problems(merger: I2SMerger, dataset: MergeDataset, max_problems: int, device) -> dict[str, float]:
    """Mean TERMS over at most ``max_problems`` problems (evenly spread over the dataset)."""
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(max_problems, len(dataset))).astype(int))
    merger.eval()
    with torch.no_grad():
        rows = [problem_terms(merger, dataset[int(i)], dataset.config, device)[1] for i in picks]
    merger.train()
    return dict(zip(TERMS, _nanmean(rows)))


class TemporalStage(Stage):
    """The I2S merger learns L_merge on cached merge problems (single process)."""

    name, terms, rate_column = "train i2s", TERMS, "problems_per_s"

    def __init__(self, config: TrainConfig, temporal_config: TemporalConfig, merger: I2SMerger, write_weights,
                 dataset: MergeDataset, val_dataset: Optional[MergeDataset], device, progress: bool):
        self.config, self.temporal_config, self.merger, self.device = config, temporal_config, merger, device
        self.dataset, self.val_dataset, self.progress, self._write = dataset, val_dataset, progress, write_weights

    def parameters(self):
        return self.merger.parameters()

    def load_weights(self, tensors: dict[str, Tensor]) -> None:
        self.merger.load_state_dict({k[len(I2S_PREFIX):]: v for k, v in tensors.items() if k.startswith(I2S_PREFIX)})

    def start(self, step: int) -> int:
        if step < self.config.steps:
            for data in (self.dataset, self.val_dataset) if self.val_dataset is not None else (self.dataset,):
                data.prepare(self.progress)
        steps_per_epoch = len(self.dataset) // self.config.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"dataset has {len(self.dataset)} merge problems: too few for batch {self.config.batch_size}")
        return steps_per_epoch

    def batches(self, epoch: int, offset: int):
        size = self.config.batch_size
        order = epoch_order(len(self.dataset), epoch, self.config.seed, 0, 1)[offset * size:]
        for first in range(0, len(order) - size + 1, size):
            yield [self.dataset[int(i)] for i in order[first:first + size]]

    def loss(self, batch: list[MergeProblem]) -> tuple[Tensor, list[Tensor]]:
        results = [problem_terms(self.merger, problem, self.temporal_config, self.device) for problem in batch]
        return torch.stack([r[0] for r in results]).mean(), [r[1] for r in results]

    def summarise(self, rows: list[Tensor]) -> tuple[float, list[float]]:
        return len(rows), _nanmean(rows)

    def write_weights(self, path: Path, step: int) -> None:
        self._write(path, step)

    def validate(self) -> Optional[dict[str, float]]:
        if self.val_dataset is None:
            return None
        return evaluate_problems(self.merger, self.val_dataset, self.config.val_frames, self.device)


def train_temporal(
    config: TrainConfig,
    temporal_config: TemporalConfig,
    f2i: F2IModel,
    f2i_config: F2IConfig,
    i2s_config: I2SConfig,
    dataset: MergeDataset,
    val_dataset: Optional[MergeDataset] = None,
    extra_config: Optional[dict[str, Any]] = None,
    progress: bool = True,
) -> Path:
    """Train an I2S merger on ``dataset``'s merge problems (the frozen ``f2i`` made them); returns
    the path of the final combined weights (F2I + I2S). Single process (``config.batch_size``
    problems per step); ``num_workers`` is not used, the problems live in this process."""
    _, _, device = setup_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if i2s_config.feat_dim != f2i_config.backbone.out_channels:
        raise ValueError(f"I2SConfig.feat_dim is {i2s_config.feat_dim}, the F2I queries are "
                         f"{f2i_config.backbone.out_channels}-d; set i2s.feat_dim to match (or leave it out)")
    out_dir = Path(config.out_dir)
    run_config = {"train": dataclasses.asdict(config), "temporal": to_dict(temporal_config),
                  "model": {"f2i": f2i_config.to_dict(), "i2s": i2s_config.to_dict()}, **(extra_config or {})}
    check_or_write_config(out_dir, run_config, config.resume, True)
    files = RunFiles(out_dir, True)

    torch.manual_seed(config.seed)
    merger = I2SMerger(i2s_config).to(device).train()
    f2i = f2i.eval()
    for p in f2i.parameters():
        p.requires_grad_(False)
    write = lambda path, step: save_samosaic3d(path, f2i, f2i_config, merger, i2s_config,  # noqa: E731
                                               extra={"step": str(step)})
    fit(config, TemporalStage(config, temporal_config, merger, write, dataset, val_dataset, device, progress),
        files, device, progress)
    return files.publish_final()
