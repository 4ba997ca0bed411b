"""Is a ROS 2 runtime with our interfaces importable? Test modules call ``require_ros()`` first."""

from __future__ import annotations

import importlib

import pytest

_MODULES = ("rclpy", "sensor_msgs.msg", "visualization_msgs.msg", "std_srvs.srv", "tf2_msgs.msg", "vision_msgs.msg",
            "samosaic3d_msgs.msg")


def missing_ros() -> str | None:
    """None if everything imports, else a message saying what is missing and how to get it."""
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            return (
                f"ROS 2 tests need '{name}' ({exc}); build the interfaces with scripts/build_interfaces.sh "
                "and source scripts/env.sh (or source a ROS 2 install + colcon workspace)"
            )
    return None


def require_ros() -> None:
    """Skip the calling test module (with the reason) when ROS 2 or the built interfaces are missing."""
    reason = missing_ros()
    if reason:
        pytest.skip(reason, allow_module_level=True)
