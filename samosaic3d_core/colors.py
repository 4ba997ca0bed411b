"""Stable display colours for instance ids (the same id gets the same colour in every run and tool)."""

from __future__ import annotations

import numpy as np

NO_INSTANCE_RGB = (128, 128, 128)
"""Colour of id 0 ("no instance")."""

_GOLDEN = 0.618033988749895


def instance_colors(ids: np.ndarray) -> np.ndarray:
    """(N,) integer ids -> (N, 3) uint8 RGB.

    Hue walks the golden ratio with the id, so consecutive ids get far-apart hues; saturation
    and value take one of a few levels from a hash of the id, so ids whose hues come close
    still differ. Id 0 (and negative ids) is grey.
    """
    ids = np.asarray(ids, np.int64)
    hue = (ids * _GOLDEN) % 1.0
    mixed = (ids * 2654435761) % (2**32)  # Knuth multiplicative hash
    sat = 0.55 + 0.15 * ((mixed >> 8) % 3)
    val = 0.75 + 0.125 * ((mixed >> 16) % 3)
    rgb = _hsv_to_rgb(hue, sat, val)
    rgb[ids <= 0] = NO_INSTANCE_RGB
    return rgb


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (all in [0, 1]) -> (N, 3) uint8 RGB."""
    i = np.floor(h * 6.0).astype(np.int64) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros((len(h), 3))
    for sector, channels in enumerate(choices):
        sel = i == sector
        for c in range(3):
            out[sel, c] = channels[c][sel]
    return np.round(out * 255).astype(np.uint8)
