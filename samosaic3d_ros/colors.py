"""Stable colours per instance id for clouds and markers (the report palette, as ROS types)."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.report.palette import id_colors

_LUT_LIMIT = 1 << 16  # ids below this are coloured through a lookup table


def instance_rgb(ids: np.ndarray, camera_rgb: np.ndarray | None = None) -> np.ndarray:
    """(N,) ids -> (N, 3) uint8 palette colours; where id is 0, ``camera_rgb`` (N, 3) if given, else grey."""
    ids = np.asarray(ids, np.int64)
    if len(ids) and 0 <= ids.min() and ids.max() < _LUT_LIMIT:  # map ids are small: colour each id once
        rgb = id_colors(np.arange(ids.max() + 1))[ids]
    else:
        unique, inverse = np.unique(ids, return_inverse=True)
        rgb = id_colors(unique)[inverse.reshape(-1)]
    if camera_rgb is not None:
        unlabeled = ids == 0
        rgb[unlabeled] = np.asarray(camera_rgb, np.uint8)[unlabeled]
    return rgb


def instance_color_rgba(instance_id: int, alpha: float = 1.0):
    """``std_msgs/ColorRGBA`` (components in [0, 1]) of ``instance_id``."""
    from std_msgs.msg import ColorRGBA

    r, g, b = (float(c) / 255.0 for c in id_colors(np.array([instance_id]))[0])
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))
