"""Frame-level F2I validation numbers (quick to compute; the ScanNet-protocol AP lives in eval/)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from samosaic3d_core.model.f2i import F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, label_points
from samosaic3d_core.train.dataset import Sample


def instance_ious(labels: np.ndarray, num_pred: int, gt_masks: np.ndarray) -> np.ndarray:
    """(G, K) IoU of ground-truth masks (G, N) bool with predicted labels (N,) in 0..K."""
    pred = labels[None, :] == np.arange(1, num_pred + 1)[:, None]  # (K, N)
    inter = gt_masks.astype(np.float64) @ pred.T.astype(np.float64)  # (G, K)
    union = gt_masks.sum(1)[:, None] + pred.sum(1)[None, :] - inter
    return inter / np.maximum(union, 1)


@torch.no_grad()
def evaluate_samples(model: F2IModel, samples: Iterable[Sample], config: F2IFrameConfig, device: str) -> dict[str, float]:
    """Count accuracy / MAE (predicted N̂ vs true count), mean best IoU per ground-truth instance,
    recall and precision of instances at IoU 0.5, over frames with at least one fragment."""
    was_training = model.training
    model.eval()
    count_err, ious, recalled, num_gt, precise, num_pred = [], [], 0, 0, 0, 0
    for sample in samples:
        if sample.input.num_fragments == 0:
            continue
        pred = model([sample.input.to(device)])[0]
        labels, kept, _ = label_points(pred, config)
        count_err.append(abs(pred.num_active - sample.target.count))
        iou = instance_ious(labels, len(kept), sample.target.masks.cpu().numpy() > 0.5)  # (G, K)
        if iou.shape[0]:
            best = iou.max(axis=1) if iou.shape[1] else np.zeros(iou.shape[0])
            ious.extend(best.tolist())
            recalled += int((best >= 0.5).sum())
        num_gt += iou.shape[0]
        if iou.shape[1]:
            precise += int(((iou.max(axis=0) if iou.shape[0] else np.zeros(iou.shape[1])) >= 0.5).sum())
        num_pred += iou.shape[1]
    model.train(was_training)
    count_err = np.array(count_err, np.float64)
    return {
        "frames": float(len(count_err)),
        "count_acc": float(np.mean(count_err == 0)) if len(count_err) else 0.0,
        "count_mae": float(np.mean(count_err)) if len(count_err) else 0.0,
        "mean_iou": float(np.mean(ious)) if ious else 0.0,
        "recall50": recalled / max(num_gt, 1),
        "precision50": precise / max(num_pred, 1),
    }
