"""``fastsam``: ultralytics FastSAM from a weights file the user gives (never downloads anything).

FastSAM (``FastSAM-s.pt`` / ``FastSAM-x.pt``) is a one-class YOLOv8-seg model; a TensorRT
``.engine`` exported with ``yolo export model=FastSAM-s.pt format=engine half=True imgsz=512`` also
loads. ``YOLO_OFFLINE=1`` is set before ultralytics is imported, so no hub, font or AMP-check
download is attempted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samosaic3d_core.errors import ModelFileError, ModelFileMissing
from samosaic3d_core.masks.base import empty_result, fragment_map_from_masks
from samosaic3d_core.types import Frame, MaskResult


@dataclass
class FastSAMConfig:
    weights: str = ""
    """Path to FastSAM weights (.pt, or an exported .engine / .onnx). Required by this source."""
    device: str = "auto"
    """"auto" (cuda:0 when available), "cpu", "cuda", "cuda:1", ..."""
    imgsz: int = 640
    """Inference size (longest side)."""
    conf: float = 0.4
    """Confidence threshold of masks."""
    iou: float = 0.9
    """NMS IoU threshold."""
    half: bool = False
    """FP16 inference (CUDA only)."""
    max_masks: int = 200
    """Keep at most this many masks (highest confidence)."""
    max_det: int = 300
    """Detections ultralytics keeps after NMS (its ``max_det``); masks are decoded for these only."""


def _offline_ultralytics():
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics import FastSAM  # noqa: PLC0415 (heavy, optional at import time)

    return FastSAM


class FastSAMMasks:
    """Everything-mode FastSAM masks; a missing or unreadable weights file raises one clear error."""

    def __init__(self, config: FastSAMConfig | None = None):
        self.config = cfg = config or FastSAMConfig()
        if not cfg.weights:
            raise ValueError(
                "the fastsam mask source needs a weights file (--weights PATH, or masks.fastsam.weights; e.g. FastSAM-s.pt "
                "from the FastSAM/ultralytics releases); without weights use --masks oversegment"
            )
        path = Path(cfg.weights).expanduser()
        if not path.is_file():
            raise ModelFileMissing(f"FastSAM weights not found: {path}")
        FastSAM = _offline_ultralytics()
        try:
            self.model = FastSAM(str(path))
        except Exception as exc:  # ultralytics raises many types for a bad file
            raise ModelFileError(f"{path}: not a loadable FastSAM/YOLOv8-seg weights file ({type(exc).__name__}: {exc})") from exc
        if getattr(self.model, "task", "segment") != "segment":
            raise ModelFileError(f"{path}: a {self.model.task!r} model, not a segmentation (FastSAM) model")
        self.device = _resolve_device(cfg.device)

    def __call__(self, frame: Frame) -> MaskResult:
        cfg = self.config
        bgr = np.ascontiguousarray(frame.rgb[..., ::-1])
        # FP16 only when asked for on a GPU (passing half=False still warns in recent ultralytics)
        fp16 = {"half": True} if cfg.half and self.device != "cpu" else {}
        results = self.model(
            bgr, device=self.device, retina_masks=True, imgsz=cfg.imgsz, conf=cfg.conf, iou=cfg.iou,
            max_det=cfg.max_det, verbose=False, **fp16,
        )
        result = results[0]
        if result.masks is None or len(result.masks) == 0:
            return empty_result(frame.shape)
        masks = result.masks.data.cpu().numpy() > 0.5
        scores = result.boxes.conf.cpu().numpy().astype(np.float32)
        if masks.shape[1:] != frame.shape:
            masks = _resize_masks(masks, frame.shape)
        order = np.argsort(-scores, kind="stable")[: cfg.max_masks]
        masks, scores = masks[order], scores[order]
        keep = masks.reshape(len(masks), -1).any(axis=1)
        masks, scores = masks[keep], scores[keep]
        return MaskResult(masks=masks, scores=scores, fragment_map=fragment_map_from_masks(masks))


def _resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


def _resize_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0 for m in masks])
