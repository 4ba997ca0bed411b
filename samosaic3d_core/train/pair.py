"""Pair stage: train the pair head of a frozen F2I model on same-object fragment pairs.

Every ``frame_stride``-th frame of each training scene is cut into fragments (a per-frame mask
seed), lifted and run through the frozen F2I model; every pair of its fragments gives one sample,
the pair's cues (``pair_cues``, which include the model's affinity W_ij) with the target

    y_ij = 1 iff fragments i and j have the same, non-zero majority ground-truth instance id

(fragments of no object, floor and walls, never belong with anything). The head learns BCE(y) on
all pairs at once (they fit in memory), standardised by the training cues' statistics. The pairs
of a run are cached in its directory (``pairs_train.npz``, ``pairs_val.npz``): a rerun with the
same settings reuses them, and the fit itself takes seconds.

Validation reports the pairs' average precision under the refined affinity and under W alone, and
the pair precision / recall of the readout's grouping (average linkage at the head's threshold).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from samosaic3d_core.geometry import majority_vote
from samosaic3d_core.lift import LiftConfig, filtered_depth, lift_frame
from samosaic3d_core.masks.base import MaskSource
from samosaic3d_core.model.checkpoint import save_f2i
from samosaic3d_core.model.f2i import F2IConfig, F2IInput, F2IModel
from samosaic3d_core.model.frame_model import group_by_affinity
from samosaic3d_core.model.pair_cues import PairCueConfig, pair_cues
from samosaic3d_core.model.pair_head import PairHead, PairHeadConfig
from samosaic3d_core.train.dataset import open_scene
from samosaic3d_core.train.skeleton import optimizer_step
from samosaic3d_core.types import Frame


@dataclass
class PairTrainConfig:
    """How the pair head is trained."""

    out_dir: str = "runs/pair"
    frame_stride: int = 5
    """Use every this many frames of each training scene."""
    val_frame_stride: int = 4
    """The same for the validation scenes."""
    steps: int = 1500
    """Full-batch Adam steps."""
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    """torch CPU threads (0 = torch's default)."""
    log_every: int = 100
    resume: bool = True
    """Reuse the pairs cached in ``out_dir`` when they were collected with the same settings."""


@dataclass
class PairSet:
    """Fragment pairs (P of them) of many frames."""

    cues: np.ndarray   # (P, cue_config.count) float32
    same: np.ndarray   # (P,) bool target
    frame: np.ndarray  # (P,) int64 frame number within the set
    i: np.ndarray      # (P,) int64 first fragment of the pair in its frame
    j: np.ndarray      # (P,) int64 second fragment

    def save(self, path: Path, key: str) -> None:
        np.savez(path, key=np.array(key), **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    @classmethod
    def load(cls, path: Path, key: str) -> Optional["PairSet"]:
        """The set cached at ``path`` if it was collected under ``key``, else None."""
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def fragment_gt_ids(frame: Frame, points, num_fragments: int) -> np.ndarray:
    """(M,) majority ground-truth instance id of each fragment (0 = no object)."""
    if frame.instance_gt is None:
        raise ValueError(f"frame {frame.index}: no instance ground truth; the pair stage needs labelled scenes")
    return fragment_majority(frame.instance_gt, points, num_fragments)


def fragment_majority(image: np.ndarray, points, num_fragments: int) -> np.ndarray:
    """(M,) the id most of each fragment's points carry in a per-pixel id ``image`` (instance or
    part ground truth; negative ids count as 0 = none)."""
    ids = np.maximum(np.asarray(image).reshape(-1)[points.pixel].astype(np.int64), 0)
    member = points.fragment >= 0
    return majority_vote(points.fragment[member], ids[member], num_fragments)


@torch.no_grad()
def frame_pairs(model: F2IModel, frame: Frame, masks, lift_config: LiftConfig, cue_config: PairCueConfig,
                device) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cues (P, C), targets (P,), fragment indices i, j (P,) of the pairs i < j of one frame."""
    points, fragments = lift_frame(frame, masks, lift_config)
    m = len(fragments)
    if m < 2:
        empty = np.zeros(0, np.int64)
        return np.zeros((0, cue_config.count), np.float32), np.zeros(0, bool), empty, empty
    frame_input = F2IInput.from_points(points, m, device, image_width=frame.depth.shape[1], pose=frame.pose)
    pred = model([frame_input])[0]
    cues = pair_cues(frame_input.xyz, frame_input.rgb, frame_input.uv, frame_input.fragment, m, pred.affinity,
                     cue_config, frame_input.viewpoint).cpu().numpy()
    gt = fragment_gt_ids(frame, points, m)
    i, j = np.triu_indices(m, k=1)
    return cues[i, j], (gt[i] == gt[j]) & (gt[i] > 0), i.astype(np.int64), j.astype(np.int64)


def collect_pairs(
    scenes: Sequence[str | Path], make_masks: Callable[[int], MaskSource], model: F2IModel, lift_config: LiftConfig,
    cue_config: PairCueConfig, frame_stride: int, seed: int, device, progress: bool = False,
) -> PairSet:
    """The fragment pairs of every ``frame_stride``-th frame of ``scenes``."""
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    readers = [open_scene(s) for s in scenes]
    jobs = [(s, f) for s, reader in enumerate(readers) for f in range(0, len(reader), frame_stride)]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="pair frames", dynamic_ncols=True)
    parts: list[tuple] = []
    for number, (scene, index) in enumerate(jobs):
        frame = filtered_depth(readers[scene][index], lift_config)  # as run time reads it
        frame_seed = int(np.random.SeedSequence([seed, scene, index]).generate_state(1)[0])
        cues, same, i, j = frame_pairs(model, frame, make_masks(frame_seed)(frame), lift_config, cue_config, device)
        parts.append((cues, same, np.full(len(same), number, np.int64), i, j))
    if not any(len(p[1]) for p in parts):
        raise ValueError("pair stage: no frame had two fragments; nothing to learn from")
    return PairSet(*(np.concatenate(column) for column in zip(*parts)))


def average_precision(score: np.ndarray, target: np.ndarray) -> float:
    """Average precision of ranking ``target`` (bool) by ``score``; NaN without positives."""
    if not target.any():
        return float("nan")
    hits = target[np.argsort(-score, kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def grouping_precision_recall(pairs: PairSet, prob: np.ndarray, threshold: float) -> tuple[float, float]:
    """Pair precision / recall of the readout's grouping (average linkage on ``prob`` per frame)."""
    grouped = np.zeros(len(prob), bool)
    for number in np.unique(pairs.frame):
        sel = np.flatnonzero(pairs.frame == number)
        m = int(max(pairs.i[sel].max(), pairs.j[sel].max())) + 1
        affinity = np.eye(m)
        affinity[pairs.i[sel], pairs.j[sel]] = affinity[pairs.j[sel], pairs.i[sel]] = prob[sel]
        group = group_by_affinity(affinity, threshold)
        grouped[sel] = group[pairs.i[sel]] == group[pairs.j[sel]]
    tp = float((grouped & pairs.same).sum())
    return tp / max(float(grouped.sum()), 1.0), tp / max(float(pairs.same.sum()), 1.0)


def pair_metrics(head: PairHead, pairs: PairSet, device) -> dict[str, float]:
    """Pair AP of the head and of W alone, and the grouping's pair precision / recall."""
    with torch.no_grad():
        prob = head(torch.as_tensor(pairs.cues, device=device)).sigmoid().cpu().numpy()
    precision, recall = grouping_precision_recall(pairs, prob, head.config.group_threshold)
    return {"pair_ap": average_precision(prob, pairs.same), "pair_ap_w": average_precision(pairs.cues[:, 0], pairs.same),
            "group_precision": precision, "group_recall": recall, "pairs": float(len(prob))}


def fit_pair_head(head: PairHead, pairs: PairSet, config: PairTrainConfig, device,
                  log: Callable[[int, float], None] = lambda step, loss: None) -> float:
    """Full-batch BCE fit of ``head`` on ``pairs``; returns the final loss."""
    torch.manual_seed(config.seed)
    for layer in head.mlp:
        if isinstance(layer, torch.nn.Linear):
            layer.reset_parameters()
    cues = torch.as_tensor(pairs.cues, device=device)
    target = torch.as_tensor(pairs.same, dtype=torch.float32, device=device)
    head.set_cue_statistics(cues)
    optimizer = torch.optim.Adam(head.mlp.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss = torch.zeros(())
    for step in range(1, config.steps + 1):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(cues), target)
        optimizer_step(loss, head.mlp.parameters(), optimizer)
        if step % config.log_every == 0 or step == config.steps:
            log(step, float(loss.detach()))
    return float(loss.detach())


def train_pair_head(
    config: PairTrainConfig, head_config: PairHeadConfig, model: F2IModel, model_config: F2IConfig,
    train_scenes: Sequence[str | Path], val_scenes: Sequence[str | Path], make_masks: Callable[[int], MaskSource],
    lift_config: LiftConfig, device, extra_config: dict | None = None, progress: bool = True,
) -> Path:
    """Collect (or reuse) the pairs, fit the head, validate, write ``<out_dir>/model.safetensors``
    (the F2I model with its pair head); returns that path."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.to(device).eval()
    head_config = dataclasses.replace(head_config, enabled=True)
    run_config = {"pair_train": dataclasses.asdict(config), "pair_head": dataclasses.asdict(head_config),
                  "lift": dataclasses.asdict(lift_config), **(extra_config or {})}
    (out / "config.json").write_text(json.dumps(run_config, indent=2, default=str) + "\n")

    def pairs(name: str, scenes, stride: int) -> PairSet:
        key = json.dumps([sorted(map(str, scenes)), stride, config.seed, dataclasses.asdict(head_config.cues),
                          dataclasses.asdict(lift_config), (extra_config or {}).get("init"),
                          (extra_config or {}).get("data", {}).get("masks")], sort_keys=True)
        path = out / f"pairs_{name}.npz"
        cached = PairSet.load(path, key) if config.resume else None
        if cached is not None:
            print(f"pair stage: reusing {len(cached.same)} {name} pairs from {path}")
            return cached
        collected = collect_pairs(scenes, make_masks, model, lift_config, head_config.cues, stride, config.seed,
                                  device, progress)
        collected.save(path, key)
        return collected

    started = time.perf_counter()
    train_set = pairs("train", train_scenes, config.frame_stride)
    val_set = pairs("val", val_scenes, config.val_frame_stride) if val_scenes else None
    collected = time.perf_counter() - started
    head = PairHead(head_config).to(device)
    losses = []
    fit_pair_head(head, train_set, config, device, log=lambda step, loss: losses.append((step, loss)))
    with open(out / "metrics.csv", "w") as f:
        f.write("step,loss\n" + "".join(f"{s},{loss:.6f}\n" for s, loss in losses))
    metrics = {"train_" + k: v for k, v in pair_metrics(head, train_set, device).items()}
    if val_set is not None:
        metrics.update({"val_" + k: v for k, v in pair_metrics(head, val_set, device).items()})
    metrics.update({"collect_seconds": collected, "total_seconds": time.perf_counter() - started})
    (out / "val_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print("pair stage: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    model.pair = head
    final_config = dataclasses.replace(model_config, pair=head_config)
    return save_f2i(out / "model.safetensors", model, final_config,
                    extra={"pair_train": json.dumps(run_config, default=str)})
