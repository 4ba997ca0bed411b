"""DDS settings for full-resolution images on one machine (see config/fastdds_large_data.xml)."""

from __future__ import annotations

import os
from pathlib import Path

PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")


PROFILE_NAME = "fastdds_large_data.xml"


def large_data_profile() -> Path:
    """The package's Fast DDS profile with a shared-memory segment big enough for images."""
    source = Path(__file__).resolve().parents[1] / "config" / PROFILE_NAME
    if source.is_file():
        return source
    try:  # installed by colcon: share/samosaic3d/config
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("samosaic3d")) / "config" / PROFILE_NAME
    except (ImportError, LookupError, ValueError):
        return source


def with_large_data_profile(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus the large-data profile, unless the user chose a profile already."""
    if any(env.get(name) for name in PROFILE_VARIABLES) or not large_data_profile().is_file():
        return env
    # Fast DDS >= 2.13 (Jazzy, Kilted) reads FASTDDS_*; the FASTRTPS_* name is deprecated there
    return {**env, "FASTDDS_DEFAULT_PROFILES_FILE": str(large_data_profile())}


def use_large_data_profile() -> None:
    """Apply ``with_large_data_profile`` to this process (before rclpy creates a participant)."""
    os.environ.update(with_large_data_profile(dict(os.environ)))
