"""The instance palette (``samosaic3d_core.colors``) as ROS types."""

from __future__ import annotations

import numpy as np

from samosaic3d_core.colors import id_colors


def instance_color_rgba(instance_id: int, alpha: float = 1.0):
    """``std_msgs/ColorRGBA`` (components in [0, 1]) of ``instance_id``."""
    from std_msgs.msg import ColorRGBA

    r, g, b = (float(c) / 255.0 for c in id_colors(np.array([instance_id]))[0])
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))
