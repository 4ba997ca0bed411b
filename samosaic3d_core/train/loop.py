"""F2I stage: the frame model learns the single-frame losses; seeded, resumable, CUDA when
present, DDP under ``torchrun`` (gloo on CPU, nccl on GPU). The run directory is the shared
skeleton's (``samosaic3d_core.train.skeleton``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from samosaic3d_core.losses import F2ITarget, LossConfig, f2i_loss
from samosaic3d_core.model.checkpoint import save_f2i
from samosaic3d_core.model.f2i import F2IConfig, F2IInput, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig
from samosaic3d_core.train.dataset import Sample
from samosaic3d_core.train.metrics import evaluate_samples
from samosaic3d_core.train.skeleton import (  # noqa: F401  (TrainConfig, lr_factor, setup_distributed: the stages' API)
    RunFiles, Stage, TrainConfig, check_or_write_config, epoch_order, fit, lr_factor, setup_distributed,
)

TERMS = ("total", "count", "instance", "mask_bce", "mask_dice", "box", "objectness", "affinity", "count_acc")


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


class F2IStage(Stage):
    """The F2I model learns the single-frame losses on ``Sample`` frames (DDP across processes)."""

    name, terms, rate_column = "train f2i", TERMS, "frames_per_s"

    def __init__(self, config: TrainConfig, model: F2IModel, model_config: F2IConfig, loss_config: LossConfig,
                 dataset, val_dataset, device: torch.device, rank: int, world: int):
        self.config, self.model, self.model_config, self.device = config, model, model_config, device
        self.dataset, self.val_dataset, self.rank, self.world = dataset, val_dataset, rank, world
        self.objective: nn.Module = F2IObjective(model, loss_config, config.teacher_forcing)

    def parameters(self):
        return self.model.parameters()

    def load_weights(self, tensors: dict[str, Tensor]) -> None:
        self.model.load_state_dict(tensors)

    def start(self, step: int) -> int:
        if self.world > 1:
            self.objective = nn.parallel.DistributedDataParallel(self.objective, find_unused_parameters=True)
        steps_per_epoch = len(self.dataset) // self.world // self.config.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"dataset has {len(self.dataset)} frames: too few for {self.world} process(es) "
                             f"x batch {self.config.batch_size}")
        return steps_per_epoch

    def batches(self, epoch: int, offset: int):
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        config = self.config
        order = epoch_order(len(self.dataset), epoch, config.seed, self.rank, self.world)[offset * config.batch_size:]
        return torch.utils.data.DataLoader(self.dataset, batch_size=config.batch_size, sampler=order.tolist(),
                                           collate_fn=list, num_workers=config.num_workers, drop_last=True)

    def loss(self, batch: list[Sample]) -> tuple[Tensor, list[Tensor]]:
        loss, logged = self.objective([s.input.to(self.device) for s in batch],
                                      [s.target.to(self.device) for s in batch])
        return loss, [logged.cpu()]

    def summarise(self, rows: list[Tensor]) -> tuple[float, list[float]]:
        sums = torch.zeros(len(TERMS))
        for row in rows:
            sums = sums + row
        return len(rows) * self.config.batch_size * self.world, [float(v) / len(rows) for v in sums]

    def write_weights(self, path: Path, step: int) -> None:
        save_f2i(path, self.model, self.model_config, extra={"step": str(step)})

    def validate(self) -> Optional[dict[str, float]]:
        if self.val_dataset is None:
            return None
        frames = (self.val_dataset[i] for i in range(min(len(self.val_dataset), self.config.val_frames)))
        return evaluate_samples(self.model, frames, F2IFrameConfig(), str(self.device))


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
    stage = F2IStage(config, model, model_config, loss_config, dataset, val_dataset, device, rank, world)
    fit(config, stage, files, device, progress)
    final = files.publish_final()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return final
