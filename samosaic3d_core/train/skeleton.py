"""The training skeleton the stages share: resume, optimizer step, checkpoints, validation, logging.

A stage (``Stage``) brings its modules, its batches and its loss; ``fit`` runs the steps:

    resume from latest.json -> per epoch: a seeded order of the items -> per batch: loss,
    backward, clip, AdamW + warm-up/cosine schedule -> every ``log_every`` steps a metrics.csv
    row -> every ``checkpoint_every`` steps the weights, the resume state, latest.json (the newest
    ``keep_checkpoints`` kept) and a val_metrics.csv row -> model.safetensors

Run directory layout:
    config.json                  every config of the run
    metrics.csv                  training terms every ``log_every`` steps
    val_metrics.csv              validation numbers at every checkpoint (when the stage validates)
    checkpoints/step_XXXXXXX.safetensors   weights, config in the metadata (model.checkpoint)
    checkpoints/step_XXXXXXX.state.safetensors  optimizer / scheduler / step / RNG (no pickle)
    latest.json                  the newest checkpoint; ``resume`` starts from it
    model.safetensors            the final weights
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import Tensor

from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.train.state_io import load_state, save_state

STATE_SUFFIX = ".state.safetensors"
"""Resume state next to each checkpoint's weights."""

@dataclass
class TrainConfig:
    """Optimisation and bookkeeping of one run."""

    out_dir: str = "runs/f2i"
    """Run directory (created); holds config, metrics and checkpoints."""
    steps: int = 20000
    """Optimizer steps in total (each sees ``batch_size`` frames per process)."""
    batch_size: int = 1
    """Frames per step per process (the backbone runs on them together)."""
    lr: float = 1e-3
    """Peak AdamW learning rate."""
    min_lr_ratio: float = 0.05
    """Cosine decay ends at lr * this."""
    warmup_steps: int = 200
    """Linear warm-up from 0 to ``lr``."""
    weight_decay: float = 0.05
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this (0 = off)."""
    teacher_forcing: bool = True
    """Activate the true instance count of each frame in training (the count head is trained by its
    own cross-entropy); False uses the count head's own argmax."""
    seed: int = 0
    """Seeds the model initialisation, the frame order and the data randomness."""
    log_every: int = 20
    """Write a metrics.csv row every this many steps."""
    checkpoint_every: int = 500
    """Save a checkpoint (and validate) every this many steps."""
    keep_checkpoints: int = 3
    """Keep only the newest this many checkpoints (0 = keep all)."""
    val_frames: int = 100
    """Validate on at most this many frames of the validation set."""
    resume: bool = True
    """Continue from ``out_dir/latest.json`` if it exists."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda'."""
    num_workers: int = 0
    """DataLoader worker processes preparing frames (0 = in the training process)."""
    threads: int = 0
    """torch CPU threads per process (0 = torch's default)."""


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def setup_distributed(device: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); initialises the process group under torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("TrainConfig.device is 'cuda' but torch sees no GPU; use --device cpu")
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return rank, world, dev


def epoch_order(num_items: int, epoch: int, seed: int, rank: int, world: int) -> np.ndarray:
    """This process's share of a seeded permutation of the items for ``epoch`` (equal length on all ranks)."""
    order = np.random.default_rng([seed, epoch]).permutation(num_items)
    per_rank = num_items // world
    return order[rank * per_rank : (rank + 1) * per_rank]


class RunFiles:
    """Writing side of a run directory (rank 0 only)."""

    def __init__(self, out_dir: Path, enabled: bool):
        self.dir, self.enabled = out_dir, enabled
        self.tensorboard = None
        if enabled:
            (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tensorboard = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:  # TensorBoard is optional
                pass

    def append_csv(self, name: str, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self.dir / name
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "step":
                    self.tensorboard.add_scalar(f"{Path(name).stem}/{key}", value, row["step"])

    def save_checkpoint(self, step: int, write_weights: Callable[[Path], Any], state: dict, keep: int) -> None:
        """``write_weights(path)`` writes the weights file (and its .json); then the resume state,
        latest.json, and the rotation of older checkpoints."""
        if not self.enabled:
            return
        stem = self.dir / "checkpoints" / f"step_{step:07d}"
        write_weights(stem.with_suffix(".safetensors"))
        save_state(stem.with_name(stem.name + STATE_SUFFIX), state)
        latest = {"step": step, "weights": f"{stem.name}.safetensors", "state": f"{stem.name}{STATE_SUFFIX}"}
        with atomic_path(self.dir / "latest.json") as tmp:
            tmp.write_text(json.dumps(latest) + "\n")
        steps = sorted(p for p in self.dir.glob("checkpoints/step_*.safetensors") if not p.name.endswith(STATE_SUFFIX))
        for old in steps[:-keep] if keep > 0 else []:
            for suffix in (".safetensors", ".json", STATE_SUFFIX):
                old.with_suffix(suffix).unlink(missing_ok=True)

    def publish_final(self) -> Path:
        """Copy the newest checkpoint's weights (and .json) to model.safetensors (model.json)."""
        final = self.dir / "model.safetensors"
        if self.enabled:
            latest = json.loads((self.dir / "latest.json").read_text())
            shutil.copyfile(self.dir / "checkpoints" / latest["weights"], final)
            shutil.copyfile(self.dir / "checkpoints" / latest["weights"].replace(".safetensors", ".json"),
                            self.dir / "model.json")
        return final


def check_or_write_config(out_dir: Path, run_config: dict[str, Any], resume: bool, enabled: bool) -> None:
    path = out_dir / "config.json"
    if resume and (out_dir / "latest.json").exists():
        saved = json.loads(path.read_text())
        if saved.get("model") != json.loads(json.dumps(run_config["model"])):
            raise ValueError(f"{path}: the run there has a different model config; pass a new --out or --no-resume")
    if enabled:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(run_config, indent=2) + "\n")


def optimizer_step(loss: Tensor, parameters, optimizer, scheduler=None, grad_clip: float = 0.0) -> None:
    """Backpropagate ``loss``, clip the gradient norm (``grad_clip`` > 0), step the optimizer and
    the schedule (if any)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def resume_state(out_dir: Path, optimizer, scheduler, device: torch.device) -> tuple[dict[str, Tensor], int]:
    """Restore optimizer, scheduler and RNG from ``out_dir``'s latest checkpoint; return its weight
    tensors (for the caller's modules) and its step."""
    latest = json.loads((out_dir / "latest.json").read_text())
    tensors = load_file(str(out_dir / "checkpoints" / latest["weights"]), device=str(device))
    state = load_state(out_dir / "checkpoints" / latest["state"], device)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"].cpu())
    return tensors, int(state["step"])


class Stage:
    """What a training stage brings to ``fit``; the stages subclass it (``train/loop.py`` F2I,
    ``train/temporal.py`` I2S)."""

    name = "train"
    """Label of the progress bar."""
    terms: tuple[str, ...] = ()
    """Columns of metrics.csv after step, epoch, lr and ``rate_column``."""
    rate_column = "items_per_s"
    """metrics.csv column of the throughput (``summarise``'s item count per second)."""

    def parameters(self) -> Iterable[torch.nn.Parameter]:
        """What the optimizer trains."""
        raise NotImplementedError

    def load_weights(self, tensors: dict[str, Tensor]) -> None:
        """Restore the trained modules from a checkpoint's weights file (resume)."""
        raise NotImplementedError

    def start(self, step: int) -> int:
        """Called once before the first step (``step`` is where the run resumes); returns the steps per epoch."""
        raise NotImplementedError

    def batches(self, epoch: int, offset: int) -> Iterable[Any]:
        """The batches of ``epoch`` from its ``offset``-th on."""
        raise NotImplementedError

    def loss(self, batch: Any) -> tuple[Tensor, list[Tensor]]:
        """The loss to backpropagate and the detached logging rows (each (len(terms),)) of ``batch``."""
        raise NotImplementedError

    def summarise(self, rows: list[Tensor]) -> tuple[float, list[float]]:
        """(items processed, term means) of the rows since the last metrics.csv row."""
        raise NotImplementedError

    def write_weights(self, path: Path, step: int) -> None:
        """Write the checkpoint's weights file (and its .json) at ``path``."""
        raise NotImplementedError

    def validate(self) -> Optional[dict[str, float]]:
        """Validation numbers at a checkpoint, or None without a validation set."""
        return None


def fit(config: TrainConfig, stage: Stage, files: RunFiles, device: torch.device, progress: bool = True) -> int:
    """Run ``stage`` to ``config.steps`` (resuming from ``files``' latest checkpoint when
    ``config.resume``); returns the step it ended at. ``files`` writes only on the main process."""
    parameters = list(stage.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    step = 0
    if config.resume and (files.dir / "latest.json").exists():
        tensors, step = resume_state(files.dir, optimizer, scheduler, device)
        stage.load_weights(tensors)
    steps_per_epoch = stage.start(step)
    bar = None
    if progress and files.enabled:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc=stage.name, dynamic_ncols=True)
    rows, t_last = [], time.perf_counter()
    while step < config.steps:
        epoch, offset = divmod(step, steps_per_epoch)
        for batch in stage.batches(epoch, offset):
            loss, logged = stage.loss(batch)
            optimizer_step(loss, parameters, optimizer, scheduler, config.grad_clip)
            step += 1
            rows.extend(logged)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            if step % config.log_every == 0 or step == config.steps:
                elapsed, t_last = time.perf_counter() - t_last, time.perf_counter()
                items, means = stage.summarise(rows)
                files.append_csv("metrics.csv", {"step": step, "epoch": epoch, "lr": scheduler.get_last_lr()[0],
                                                 stage.rate_column: items / elapsed, **dict(zip(stage.terms, means))})
                rows = []
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "step": step, "torch_rng": torch.get_rng_state()}
                files.save_checkpoint(step, lambda path: stage.write_weights(path, step), state,
                                      config.keep_checkpoints)
                val = stage.validate() if files.enabled else None
                if val is not None:
                    files.append_csv("val_metrics.csv", {"step": step, **val})
            if step >= config.steps:
                break
    if bar is not None:
        bar.close()
    return step
