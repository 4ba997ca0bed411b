"""Message types by name: rclpy classes for 'pkg/msg/Name', and our .msg texts for rosbags."""

from __future__ import annotations

import importlib
from pathlib import Path


def message_class(msgtype: str):
    """The rclpy message class of ``'pkg/msg/Name'`` (what rosidl_runtime_py.get_message does)."""
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def _msg_dir() -> Path:
    """The folder holding Instance.msg / InstanceArray.msg (source tree or an install's share/)."""
    source = Path(__file__).resolve().parents[2] / "msg" / "msg"
    if source.is_dir():
        return source
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("samosaic3d_msgs")) / "msg"


def register_samosaic3d_types(typestore) -> None:
    """Teach a rosbags ``typestore`` our message types (needed to write them into bags)."""
    from rosbags.typesys import get_types_from_msg

    types = {}
    for name in ("Instance", "InstanceArray"):
        text = (_msg_dir() / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"samosaic3d_msgs/msg/{name}"))
    typestore.register(types)
