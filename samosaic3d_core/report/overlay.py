"""Masks drawn over a colour image."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.colors import id_colors


def overlay_labels(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5, draw_edges: bool = True) -> np.ndarray:
    """Blend a colour per label (0 / negative = none) over ``rgb``; (H, W, 3) uint8.

    labels: (H, W) int; each positive label gets its stable palette colour.
    """
    out = rgb.astype(np.float32).copy()
    mask = labels > 0
    colors = id_colors(labels[mask]).astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * colors
    if draw_edges:
        edge = np.zeros(labels.shape, bool)
        edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        edge[1:, :] |= labels[1:, :] != labels[:-1, :]
        out[edge] = 0.0
    return np.clip(out, 0, 255).astype(np.uint8)
