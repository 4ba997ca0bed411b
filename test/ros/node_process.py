"""The node in a process of its own (the entry points' tests): its command with the fake segmenter, its
environment, and a stop that never leaves it running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from test.ros.conftest import CONFIG, REPO


def node_env(domain_id: int, **extra: str) -> dict:
    """This process's environment on ``domain_id``, unbuffered, plus ``extra``."""
    return dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1", **extra)


def fake_node_command(map_dir: Path, *params: str, managed: bool = False) -> list[str]:
    """``samosaic3d_node`` (or the managed node) with the fake segmenter, config/samosaic3d.yaml,
    ``map_dir`` and ``params`` (``name:=value``)."""
    cmd = [sys.executable, "-m", "test.ros.fake_segmenter", *(["--managed"] if managed else []),
           "--ros-args", "--params-file", str(CONFIG), "-p", f"map_dir:={map_dir}"]
    for param in params:
        cmd += ["-p", param]
    return cmd


def start(cmd: list[str], env: dict, **popen_kwargs) -> subprocess.Popen:
    """``cmd`` from the repository root, stdout and stderr together as text."""
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **popen_kwargs)


def stop(proc: subprocess.Popen, stop_signal: int = signal.SIGINT, timeout: float = 15.0) -> str:
    """Send ``stop_signal`` and wait; a process still running after ``timeout`` is killed. Its output."""
    if proc.poll() is None:
        proc.send_signal(stop_signal)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output
