"""The instance palette: one stable display colour per instance id, the same in every output.

The PLY of ``samosaic3d run``, the node's map and frame clouds, its markers, the picture report
and the RViz-like view all colour an id through ``id_colors`` (directly or via ``instance_rgb``).
"""

from __future__ import annotations

import numpy as np

UNLABELED_RGB = (128, 128, 128)
"""Colour of id 0 ("no instance")."""

_GOLDEN = 0.618033988749895
_LUT_LIMIT = 1 << 16  # ids below this are coloured through a lookup table


def id_colors(ids: np.ndarray) -> np.ndarray:
    """(N,) integer ids -> (N, 3) uint8 RGB; the same id always gets the same colour, id 0 is grey.

    Hue follows the golden-ratio sequence of the id, so consecutive ids differ strongly;
    saturation and value vary a little with a hash of the id.
    """
    ids = np.asarray(ids, np.int64)
    hue = (ids * _GOLDEN) % 1.0
    mix = (ids * 2654435761) % 4294967296  # Knuth multiplicative hash
    sat = 0.55 + 0.4 * ((mix >> 8) % 256) / 255.0
    val = 0.75 + 0.25 * ((mix >> 16) % 256) / 255.0
    rgb = _hsv_to_rgb(hue, sat, val)
    rgb[ids == 0] = UNLABELED_RGB
    return rgb


def instance_rgb(ids: np.ndarray, camera_rgb: np.ndarray | None = None) -> np.ndarray:
    """(N,) ids -> (N, 3) uint8 ``id_colors``; where id is 0, ``camera_rgb`` (N, 3) if given, else grey.

    Colours each distinct id once (a lookup table for the small ids of a map), so a cloud of
    millions of points costs one gather.
    """
    ids = np.asarray(ids, np.int64)
    if len(ids) and 0 <= ids.min() and ids.max() < _LUT_LIMIT:
        rgb = id_colors(np.arange(ids.max() + 1))[ids]
    else:
        unique, inverse = np.unique(ids, return_inverse=True)
        rgb = id_colors(unique)[inverse.reshape(-1)]
    if camera_rgb is not None:
        unlabeled = ids == 0
        rgb[unlabeled] = np.asarray(camera_rgb, np.uint8)[unlabeled]
    return rgb


def instance_rgb_packed(ids: np.ndarray, camera_rgb: np.ndarray | None = None) -> np.ndarray:
    """``instance_rgb`` packed as (N,) uint32 0x00RRGGBB (the PCL / RViz point colour), built with one
    4-byte gather per point instead of three 1-byte ones (what a large cloud costs to colour)."""
    ids = np.asarray(ids, np.int64)
    if len(ids) and 0 <= ids.min() and ids.max() < _LUT_LIMIT:
        packed = pack_rgb(id_colors(np.arange(ids.max() + 1)))[ids]
    else:
        unique, inverse = np.unique(ids, return_inverse=True)
        packed = pack_rgb(id_colors(unique))[inverse.reshape(-1)]
    if camera_rgb is not None:
        unlabeled = np.flatnonzero(ids == 0)
        packed[unlabeled] = pack_rgb(np.asarray(camera_rgb, np.uint8)[unlabeled])
    return packed


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 -> (N,) uint32 0x00RRGGBB."""
    rgb = np.asarray(rgb, np.uint32)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (all (N,) in [0, 1]) -> (N, 3) uint8 RGB."""
    i = np.floor(h * 6).astype(np.int64) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    rgb = table[i, np.arange(len(h))]
    return np.round(rgb * 255).astype(np.uint8)
