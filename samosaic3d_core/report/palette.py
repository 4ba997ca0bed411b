"""Stable, well-separated colours per instance id (0 = unlabeled -> grey)."""

from __future__ import annotations

import numpy as np

UNLABELED_RGB = (128, 128, 128)


def id_colors(ids: np.ndarray) -> np.ndarray:
    """(N,) integer ids -> (N, 3) uint8 colours; the same id always gets the same colour.

    Hue follows the golden-ratio sequence of the id, so consecutive ids differ strongly;
    saturation and value vary a little with a hash of the id.
    """
    ids = np.asarray(ids, np.int64)
    hue = (ids * 0.618033988749895) % 1.0
    mix = (ids * 2654435761) % 4294967296  # Knuth multiplicative hash
    sat = 0.55 + 0.4 * ((mix >> 8) % 256) / 255.0
    val = 0.75 + 0.25 * ((mix >> 16) % 256) / 255.0
    rgb = _hsv_to_rgb(hue, sat, val)
    rgb[ids == 0] = UNLABELED_RGB
    return rgb


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    rgb = table[i, np.arange(len(h))]
    return np.round(rgb * 255).astype(np.uint8)
