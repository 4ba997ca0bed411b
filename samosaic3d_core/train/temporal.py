"""Temporal stage: train the I2S merger with L_merge on short sequences of a scene's frames.

A window is ``window`` frames of one scene, ``frame_gap`` frames apart. Every frame goes through
the online pipeline's own front end (mask source -> lifting -> F2I frame model), giving frame
instances with their F2I query features, boxes and majority ground-truth id. For each frame j >= 1
of a window, the instances of frames 0..j-1 play the short-term memory and

    L_merge = BCE(M_short(frame j, memory), G),   G_ik = 1 iff the same non-zero ground-truth id

Memory entries are teacher-forced: the earlier instances that share a ground-truth id are fused
into one entry (union of boxes, point-weighted mean feature, as ``SceneMemory`` fuses a merge),
so the memory looks like the one a perfect associator would have built; instances of no object
(id 0) stay separate entries. At most ``short_term_size`` entries, the most recently seen, are kept.

The F2I model is frozen (eval mode, no gradients): only the merger learns. The paper trains the
full framework end to end in this stage; freezing makes the stage affordable on a CPU, because
each frame's instances are computed once and cached (fragments are cut with a per-frame seed, so
a frame's instances are the same in every epoch). The run directory has the layout of the F2I
stage (``samosaic3d_core.train.loop``); its weights files hold both models (``save_samosaic3d``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from samosaic3d_core.geometry import majority_vote
from samosaic3d_core.lift import LiftConfig, lift_frame
from samosaic3d_core.pipeline import FrameModel
from samosaic3d_core.losses import merge_loss, merge_targets
from samosaic3d_core.model.checkpoint import I2S_PREFIX, save_samosaic3d
from samosaic3d_core.model.f2i import F2IConfig, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameModel
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
from samosaic3d_core.train.dataset import MaskSource, open_scene
from samosaic3d_core.train.loop import (
    RunFiles, TrainConfig, check_or_write_config, epoch_order, lr_factor, optimizer_step, resume_state,
    setup_distributed,
)
from samosaic3d_core.types import Frame, MaskResult

TERMS = ("merge", "mean_pos", "mean_neg", "precision", "recall")


@dataclass
class TemporalConfig:
    """How sequences are cut from scenes and supervised."""

    window: int = 6
    """Frames per training sequence (the first is memory only)."""
    frame_gap: int = 3
    """Frames between consecutive frames of a sequence (sequence starts are multiples of it too)."""
    short_term_size: int = 50
    """At most this many memory entries (the most recently seen), as N_short at inference."""
    pos_weight: float = 2.0
    """Weight of the positive (same object) pairs in the BCE; they are at most one per row."""
    merge_threshold: float = 0.5
    """Hungarian pairs above this count as merges in the precision / recall metrics."""


@dataclass
class FrameRecord:
    """A frame's instances as the merger sees them (CPU tensors).

    feats: (K, C) F2I query features; boxes: (K, 6) min xyz, max xyz (metres);
    gt_ids: (K,) int64 majority ground-truth id (0 = no object); num_points: (K,) float32
    """

    feats: Tensor
    boxes: Tensor
    gt_ids: Tensor
    num_points: Tensor


def frame_record(frame: Frame, masks: MaskResult, frame_model: FrameModel, lift_config: LiftConfig) -> FrameRecord:
    """Run the pipeline's front end on ``frame`` and label each instance with its majority ground-truth id."""
    if frame.instance_gt is None:
        raise ValueError(f"frame {frame.index}: no instance_gt; temporal training needs per-pixel instance ids")
    points, fragments = lift_frame(frame, masks, lift_config)
    instances, point_local = frame_model(frame, points, fragments)
    point_local = np.asarray(point_local, np.int64)
    gt = frame.instance_gt.reshape(-1)[points.pixel].astype(np.int64)
    member = point_local > 0
    gt_ids = majority_vote(point_local[member] - 1, np.maximum(gt[member], 0), len(instances))
    boxes = np.concatenate([instances.box_min, instances.box_max], axis=1)
    return FrameRecord(torch.as_tensor(instances.feats, dtype=torch.float32), torch.as_tensor(boxes, dtype=torch.float32),
                       torch.as_tensor(gt_ids, dtype=torch.int64), torch.as_tensor(instances.num_points, dtype=torch.float32))


def memory_entries(records: Sequence[FrameRecord], capacity: int) -> FrameRecord:
    """Teacher-forced short-term memory from earlier frames (oldest first); see the module docstring.

    Entries are ordered by the frame they were last seen in (oldest first); the newest ``capacity`` are kept.
    """
    feats, boxes, ids, weights, last = [], [], [], [], []  # one item per entry
    slot_of: dict[int, int] = {}  # ground-truth id -> entry
    for t, rec in enumerate(records):
        for i, gid in enumerate(rec.gt_ids.tolist()):
            w = max(float(rec.num_points[i]), 1.0)
            slot = slot_of.get(gid) if gid > 0 else None
            if slot is None:
                if gid > 0:
                    slot_of[gid] = len(ids)
                feats.append(rec.feats[i] * w)
                boxes.append(rec.boxes[i].clone())
                ids.append(gid)
                weights.append(w)
                last.append(t)
            else:
                feats[slot] = feats[slot] + rec.feats[i] * w
                boxes[slot] = torch.cat([torch.minimum(boxes[slot][:3], rec.boxes[i][:3]),
                                         torch.maximum(boxes[slot][3:], rec.boxes[i][3:])])
                weights[slot] += w
                last[slot] = t
    if not ids:
        dim = records[0].feats.shape[1] if records else 0
        return FrameRecord(torch.zeros(0, dim), torch.zeros(0, 6), torch.zeros(0, dtype=torch.int64), torch.zeros(0))
    order = np.argsort(np.asarray(last), kind="stable")[-capacity:]
    w = torch.tensor(weights)[order]
    return FrameRecord(torch.stack(feats)[order] / w[:, None], torch.stack(boxes)[order],
                       torch.tensor(ids, dtype=torch.int64)[order], w)


class SequenceDataset:
    """Windows of ``window`` frames ``frame_gap`` apart from each scene; item i is a list of
    ``FrameRecord``. Frame records are computed once with the frozen frame model and cached."""

    def __init__(
        self,
        scenes: Sequence[str | Path | Sequence[Frame]],
        make_masks: Callable[[int], MaskSource],
        frame_model: F2IFrameModel,
        lift_config: LiftConfig,
        config: TemporalConfig,
        seed: int = 0,
    ):
        """scenes: scene folders, or frame sequences (anything with len() and [i]);
        make_masks(seed) -> a mask source; frame_model: the frozen frame model."""
        if not scenes:
            raise ValueError("SequenceDataset: no scenes given")
        if config.window < 2 or config.frame_gap < 1:
            raise ValueError(f"window must be >= 2 and frame_gap >= 1, got {config.window}, {config.frame_gap}")
        self.readers = [open_scene(s) if isinstance(s, (str, Path)) else s for s in scenes]
        span = (config.window - 1) * config.frame_gap
        self.index = [(s, start) for s, r in enumerate(self.readers) for start in range(0, len(r) - span, config.frame_gap)]
        if not self.index:
            raise ValueError(f"SequenceDataset: scenes are shorter than one window ({span + 1} frames)")
        self.make_masks, self.frame_model, self.lift_config = make_masks, frame_model, lift_config
        self.config, self.seed = config, seed
        self._cache: dict[tuple[int, int], FrameRecord] = {}

    def __len__(self) -> int:
        return len(self.index)

    def frames(self) -> list[tuple[int, int]]:
        """Every (scene, frame) some window uses."""
        gap, w = self.config.frame_gap, self.config.window
        return sorted({(s, start + j * gap) for s, start in self.index for j in range(w)})

    def record(self, scene: int, frame_index: int) -> FrameRecord:
        key = (scene, frame_index)
        if key not in self._cache:
            frame = self.readers[scene][frame_index]
            frame_seed = int(np.random.SeedSequence([self.seed, scene, frame_index]).generate_state(1)[0])
            masks = self.make_masks(frame_seed)(frame)
            self._cache[key] = frame_record(frame, masks, self.frame_model, self.lift_config)
        return self._cache[key]

    def prepare(self, progress: bool = False) -> None:
        """Compute every frame record now (else they are computed on first use)."""
        keys = self.frames()
        if progress:
            from tqdm import tqdm

            keys = tqdm(keys, desc="F2I frames", dynamic_ncols=True)
        for scene, frame_index in keys:
            self.record(scene, frame_index)

    def __getitem__(self, i: int) -> list[FrameRecord]:
        scene, start = self.index[i]
        return [self.record(scene, start + j * self.config.frame_gap) for j in range(self.config.window)]


def sequence_terms(merger: I2SMerger, records: Sequence[FrameRecord], config: TemporalConfig, device) -> tuple[Tensor, Tensor]:
    """L_merge of one window (mean over its frames 1..T-1 that have instances and memory) and the
    detached logging terms (TERMS order)."""
    losses, probs, targets, matched = [], [], [], []
    for j in range(1, len(records)):
        frame, memory = records[j], memory_entries(records[:j], config.short_term_size)
        if len(frame.gt_ids) == 0 or len(memory.gt_ids) == 0:
            continue
        logits = merger(frame.feats.to(device), frame.boxes.to(device), memory.feats.to(device), memory.boxes.to(device))
        target = merge_targets(frame.gt_ids, memory.gt_ids).to(device)
        losses.append(merge_loss(logits, target, config.pos_weight))
        prob = logits.detach().sigmoid().cpu()
        rows, cols = linear_sum_assignment(prob.numpy(), maximize=True)
        chosen = torch.zeros_like(prob, dtype=torch.bool)
        chosen[rows, cols] = True
        probs.append(prob.reshape(-1)), targets.append(target.cpu().reshape(-1))
        matched.append((chosen & (prob > config.merge_threshold)).reshape(-1))
    if not losses:
        zero = sum(p.sum() for p in merger.parameters()) * 0.0
        return zero, torch.full((len(TERMS),), float("nan"))
    prob, target, merged = torch.cat(probs), torch.cat(targets) > 0, torch.cat(matched)
    nan = torch.tensor(float("nan"))
    true_pos = (merged & target).sum()
    terms = torch.stack([
        torch.stack(losses).mean().detach().cpu(),
        prob[target].mean() if target.any() else nan,
        prob[~target].mean() if (~target).any() else nan,
        true_pos / merged.sum() if merged.any() else nan,
        true_pos / target.sum() if target.any() else nan,
    ])
    return torch.stack(losses).mean(), terms


def _nanmean(rows: list[Tensor]) -> list[float]:
    stacked = torch.stack(rows)
    return [float(v) for v in torch.nanmean(stacked, dim=0)]


def evaluate_sequences(merger: I2SMerger, dataset: SequenceDataset, max_windows: int, device) -> dict[str, float]:
    """Mean TERMS over the first ``max_windows`` windows (evenly spread over the dataset)."""
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(max_windows, len(dataset))).astype(int))
    merger.eval()
    with torch.no_grad():
        rows = [sequence_terms(merger, dataset[int(i)], dataset.config, device)[1] for i in picks]
    merger.train()
    return dict(zip(TERMS, _nanmean(rows)))


def _resume(out_dir: Path, merger: I2SMerger, optimizer, scheduler, device: torch.device) -> int:
    tensors, step = resume_state(out_dir, optimizer, scheduler, device)
    merger.load_state_dict({k[len(I2S_PREFIX):]: v for k, v in tensors.items() if k.startswith(I2S_PREFIX)})
    return step


def train_temporal(
    config: TrainConfig,
    temporal_config: TemporalConfig,
    f2i: F2IModel,
    f2i_config: F2IConfig,
    i2s_config: I2SConfig,
    dataset: SequenceDataset,
    val_dataset: Optional[SequenceDataset] = None,
    extra_config: Optional[dict[str, Any]] = None,
    progress: bool = True,
) -> Path:
    """Train an I2S merger on ``dataset`` windows (the frozen ``f2i`` made their records); returns
    the path of the final combined weights (F2I + I2S). Single process (``config.batch_size``
    windows per step); ``num_workers`` is not used, the frame records live in this process."""
    _, _, device = setup_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if i2s_config.feat_dim != f2i_config.backbone.out_channels:
        raise ValueError(f"I2SConfig.feat_dim is {i2s_config.feat_dim}, the F2I queries are "
                         f"{f2i_config.backbone.out_channels}-d; set i2s.feat_dim to match (or leave it out)")
    out_dir = Path(config.out_dir)
    run_config = {"train": dataclasses.asdict(config), "temporal": dataclasses.asdict(temporal_config),
                  "model": {"f2i": f2i_config.to_dict(), "i2s": i2s_config.to_dict()}, **(extra_config or {})}
    check_or_write_config(out_dir, run_config, config.resume, True)
    files = RunFiles(out_dir, True)

    torch.manual_seed(config.seed)
    merger = I2SMerger(i2s_config).to(device).train()
    f2i = f2i.eval()
    for p in f2i.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(merger.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    step = _resume(out_dir, merger, optimizer, scheduler, device) if config.resume and (out_dir / "latest.json").exists() else 0
    steps_per_epoch = len(dataset) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"dataset has {len(dataset)} windows: too few for batch {config.batch_size}")
    if step < config.steps:
        for data in (dataset, val_dataset) if val_dataset is not None else (dataset,):
            data.prepare(progress)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="train i2s", dynamic_ncols=True)
    rows, t_last = [], time.perf_counter()
    while step < config.steps:
        epoch, offset = divmod(step, steps_per_epoch)
        order = epoch_order(len(dataset), epoch, config.seed, 0, 1)[offset * config.batch_size:]
        for first in range(0, len(order) - config.batch_size + 1, config.batch_size):
            batch = [dataset[int(i)] for i in order[first:first + config.batch_size]]
            results = [sequence_terms(merger, records, temporal_config, device) for records in batch]
            loss = torch.stack([r[0] for r in results]).mean()
            optimizer_step(loss, merger.parameters(), optimizer, scheduler, config.grad_clip)
            step += 1
            rows.extend(r[1] for r in results)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % config.log_every == 0 or step == config.steps:
                elapsed, t_last = time.perf_counter() - t_last, time.perf_counter()
                row = {"step": step, "epoch": epoch, "lr": scheduler.get_last_lr()[0],
                       "windows_per_s": len(rows) / elapsed, **dict(zip(TERMS, _nanmean(rows)))}
                files.append_csv("metrics.csv", row)
                rows = []
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "step": step, "torch_rng": torch.get_rng_state()}
                write = lambda path: save_samosaic3d(path, f2i, f2i_config, merger, i2s_config,  # noqa: E731
                                                     extra={"step": str(step)})
                files.save_checkpoint(step, write, state, config.keep_checkpoints)
                if val_dataset is not None:
                    val = evaluate_sequences(merger, val_dataset, config.val_frames, device)
                    files.append_csv("val_metrics.csv", {"step": step, **val})
            if step >= config.steps:
                break
    if bar is not None:
        bar.close()
    return files.publish_final()
