"""The interface packages this checkout builds into ``install/`` (``make setup``), on a child process's paths.

``scripts/env.sh`` puts them on the shell's paths. A command started straight from the virtual
environment (``.venv/bin/samosaic3d eval-bag ...``) has not sourced it, so the node process it
starts would fail to import ``samosaic3d_msgs``; ``with_local_interfaces`` gives that process the
same paths env.sh would. In a ROS install (colcon) there is no ``install/`` beside the package and
the environment is left as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[1] / "install"


def local_install() -> Path | None:
    """This checkout's ``install/`` folder holding the built interfaces, or None."""
    return INSTALL if any(INSTALL.glob("lib/python3*/site-packages/samosaic3d_msgs")) else None


def with_local_interfaces(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the built interfaces first on PYTHONPATH, LD_LIBRARY_PATH and AMENT_PREFIX_PATH
    (entries already there are not repeated)."""
    install = local_install()
    if install is None:
        return env
    site = next(install.glob("lib/python3*/site-packages"))
    out = dict(env)
    for name, entry in (("PYTHONPATH", site), ("LD_LIBRARY_PATH", install / "lib"), ("AMENT_PREFIX_PATH", install)):
        parts = [p for p in out.get(name, "").split(os.pathsep) if p]
        if str(entry) not in parts:
            out[name] = os.pathsep.join([str(entry), *parts])
    return out


REEXEC_MARK = "SAMOSAIC3D_LOCAL_INTERFACES"


def reexec_with_local_interfaces() -> None:
    """Start this process again with ``with_local_interfaces`` when the built interfaces are not on its
    library path (the loader reads LD_LIBRARY_PATH only at start-up); a no-op otherwise, and at most once."""
    install = local_install()
    if install is None or os.environ.get(REEXEC_MARK):
        return
    if str(install / "lib") in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        return
    env = with_local_interfaces(dict(os.environ))
    env[REEXEC_MARK] = "1"
    argv = list(getattr(sys, "orig_argv", [])) or [sys.executable, *sys.argv]
    os.execve(sys.executable, [sys.executable, *argv[1:]], env)
