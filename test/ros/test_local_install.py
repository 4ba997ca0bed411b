"""Commands started from the venv alone (no scripts/env.sh) get the interfaces built in install/."""

import os
import subprocess
import sys

import pytest

from samosaic3d_ros.local_install import local_install, with_local_interfaces
from test.ros.conftest import REPO, next_domain_id

pytestmark = pytest.mark.skipif(local_install() is None, reason="no interfaces built into install/ (make setup)")


def _without_install(env: dict[str, str]) -> dict[str, str]:
    """``env`` as a shell that never sourced scripts/env.sh has it."""
    install = str(local_install())
    out = {}
    for name, value in env.items():
        if name in ("PYTHONPATH", "LD_LIBRARY_PATH", "AMENT_PREFIX_PATH"):
            value = os.pathsep.join(p for p in value.split(os.pathsep) if p and not p.startswith(install))
        out[name] = value
    return out


def test_paths_are_put_first_once():
    env = with_local_interfaces({"PYTHONPATH": "/a", "LD_LIBRARY_PATH": ""})
    site = env["PYTHONPATH"].split(os.pathsep)
    assert site[0].startswith(str(local_install())) and site[1:] == ["/a"]
    assert env["LD_LIBRARY_PATH"] == str(local_install() / "lib")
    assert with_local_interfaces(env) == env


PUBLISH_TF = """
from samosaic3d_ros.local_install import reexec_with_local_interfaces
reexec_with_local_interfaces()
import rclpy
from tf2_msgs.msg import TFMessage
from samosaic3d_msgs.msg import InstanceArray
rclpy.init()
node = rclpy.create_node("probe")
node.create_publisher(TFMessage, "/tf", 1).publish(TFMessage())
node.create_publisher(InstanceArray, "instances", 1).publish(InstanceArray())
print("published")
"""


def test_a_process_without_env_sh_restarts_itself_with_the_interfaces(tmp_path):
    env = _without_install(dict(os.environ, ROS_DOMAIN_ID=str(next_domain_id()), ROS_LOG_DIR=str(tmp_path)))
    env.pop("SAMOSAIC3D_LOCAL_INTERFACES", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    plain = subprocess.run([sys.executable, "-c", PUBLISH_TF.replace("reexec_with_local_interfaces()\n", "", 1)],
                           env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert plain.returncode != 0  # what a user saw before: the interfaces were not importable
    fixed = subprocess.run([sys.executable, "-c", PUBLISH_TF], env=env, capture_output=True, text=True, timeout=60,
                           cwd=REPO)
    assert fixed.returncode == 0 and fixed.stdout.strip() == "published", fixed.stderr
