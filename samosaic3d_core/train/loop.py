"""F2I training loop: seeded, resumable, CSV (+ TensorBoard) metrics, safetensors checkpoints,
CUDA when present, DDP under ``torchrun`` (gloo on CPU, nccl on GPU).

Run directory layout:
    config.json                  every config of the run (model, loss, training, data)
    metrics.csv                  training terms every ``log_every`` steps
    val_metrics.csv              validation numbers at every checkpoint (when a val set is given)
    checkpoints/step_XXXXXXX.safetensors   model weights, config in the metadata (model.checkpoint)
    checkpoints/step_XXXXXXX.state.safetensors  optimizer / scheduler / step / RNG (no pickle)
    latest.json                  the newest checkpoint; ``resume`` starts from it
    model.safetensors            the final weights
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import Tensor, nn

from samosaic3d_core.io.atomic import atomic_path
from samosaic3d_core.losses import F2ITarget, LossConfig, f2i_loss
from samosaic3d_core.model.checkpoint import save_f2i
from samosaic3d_core.model.f2i import F2IConfig, F2IInput, F2IModel
from samosaic3d_core.train.state_io import load_state, save_state
from samosaic3d_core.model.frame_model import F2IFrameConfig
from samosaic3d_core.train.dataset import Sample
from samosaic3d_core.train.metrics import evaluate_samples

TERMS = ("total", "count", "instance", "mask_bce", "mask_dice", "box", "objectness", "affinity", "count_acc")


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


class F2IObjective(nn.Module):
    """Model + loss in one module (what DDP wraps): returns the loss to backpropagate and the
    detached logging terms (TERMS order)."""

    def __init__(self, model: F2IModel, loss_config: LossConfig, teacher_forcing: bool):
        super().__init__()
        self.model, self.loss_config, self.teacher_forcing = model, loss_config, teacher_forcing

    def forward(self, inputs: list[F2IInput], targets: list[F2ITarget]) -> tuple[Tensor, Tensor]:
        num_active = [max(t.count, 1) for t in targets] if self.teacher_forcing else None
        preds = self.model(inputs, num_active)
        terms = f2i_loss(preds, targets, self.loss_config)
        n_max = self.model.assembly.config.max_instances
        correct = [int(p.count_logits.argmax()) + 1 == min(max(t.count, 1), n_max) for p, t in zip(preds, targets)]
        logged = [getattr(terms, k).detach() for k in TERMS[:-1]]
        logged.append(terms.total.new_tensor(float(np.mean(correct))))
        return terms.total, torch.stack(logged)


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


def optimizer_step(loss: Tensor, parameters, optimizer, scheduler, grad_clip: float) -> None:
    """Backpropagate ``loss``, clip the gradient norm (``grad_clip`` > 0), step optimizer and schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()
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


def _resume(out_dir: Path, model: F2IModel, optimizer, scheduler, device: torch.device) -> int:
    tensors, step = resume_state(out_dir, optimizer, scheduler, device)
    model.load_state_dict(tensors)
    return step


def train(
    config: TrainConfig,
    model_config: F2IConfig,
    loss_config: LossConfig,
    dataset: torch.utils.data.Dataset,
    val_dataset: Optional[torch.utils.data.Dataset] = None,
    extra_config: Optional[dict[str, Any]] = None,
    progress: bool = True,
    init: Optional[F2IModel] = None,
) -> Path:
    """Train an F2I model on ``dataset`` (items are ``Sample``); returns the final weights' path.

    init: a model of ``model_config`` whose weights the run starts from (fine-tuning; fresh
    optimizer and schedule); ignored when the run resumes from its own checkpoint."""
    rank, world, device = setup_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    out_dir, is_main = Path(config.out_dir), rank == 0
    run_config = {"train": dataclasses.asdict(config), "model": model_config.to_dict(),
                  "loss": dataclasses.asdict(loss_config), **(extra_config or {})}
    check_or_write_config(out_dir, run_config, config.resume, is_main)
    files = RunFiles(out_dir, is_main)

    torch.manual_seed(config.seed)
    model = F2IModel.from_config(model_config).to(device)
    if init is not None:
        model.load_state_dict(init.state_dict())
    objective: nn.Module = F2IObjective(model, loss_config, config.teacher_forcing)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    step = _resume(out_dir, model, optimizer, scheduler, device) if config.resume and (out_dir / "latest.json").exists() else 0
    if world > 1:
        objective = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True)

    steps_per_epoch = len(dataset) // world // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"dataset has {len(dataset)} frames: too few for {world} process(es) x batch {config.batch_size}")
    bar = None
    if progress and is_main:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="train f2i", dynamic_ncols=True)
    sums, count, t_last = torch.zeros(len(TERMS)), 0, time.perf_counter()
    while step < config.steps:
        epoch, offset = divmod(step, steps_per_epoch)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        order = epoch_order(len(dataset), epoch, config.seed, rank, world)[offset * config.batch_size :]
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, sampler=order.tolist(),
                                             collate_fn=list, num_workers=config.num_workers, drop_last=True)
        for batch in loader:
            batch: list[Sample]
            loss, logged = objective([s.input.to(device) for s in batch], [s.target.to(device) for s in batch])
            optimizer_step(loss, model.parameters(), optimizer, scheduler, config.grad_clip)
            step += 1
            sums, count = sums + logged.cpu(), count + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(logged[0]):.3f}")
            if step % config.log_every == 0 or step == config.steps:
                elapsed, t_last = time.perf_counter() - t_last, time.perf_counter()
                row = {"step": step, "epoch": epoch, "lr": scheduler.get_last_lr()[0],
                       "frames_per_s": count * config.batch_size * world / elapsed}
                row.update({k: float(v) / count for k, v in zip(TERMS, sums)})
                files.append_csv("metrics.csv", row)
                sums, count = torch.zeros(len(TERMS)), 0
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "step": step, "torch_rng": torch.get_rng_state()}
                write = lambda path: save_f2i(path, model, model_config, extra={"step": str(step)})  # noqa: E731
                files.save_checkpoint(step, write, state, config.keep_checkpoints)
                if val_dataset is not None and is_main:
                    frames = (val_dataset[i] for i in range(min(len(val_dataset), config.val_frames)))
                    val = evaluate_samples(model, frames, F2IFrameConfig(), str(device))
                    files.append_csv("val_metrics.csv", {"step": step, **val})
            if step >= config.steps:
                break
    if bar is not None:
        bar.close()
    final = files.publish_final()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return final
