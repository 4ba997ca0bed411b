"""``main()`` in its own process: starts from the YAML, serves, and stops cleanly on SIGINT / SIGTERM."""

import os
import signal
import subprocess
import sys

import pytest

from test.ros.ros_env import require_ros

require_ros()

from std_srvs.srv import Trigger  # noqa: E402

from test.ros.conftest import CONFIG, REPO, next_domain_id  # noqa: E402


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_main_runs_and_shuts_down_once(ros, tmp_path, stop_signal):
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "test.ros.fake_segmenter", "--ros-args", "--params-file", str(CONFIG),
           "-p", f"map_dir:={tmp_path}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        reply = ros.call(ros.tester(), Trigger, "/samosaic3d_node/reset", Trigger.Request(), timeout=20.0)
        assert reply.success and reply.message == "map cleared"
        proc.send_signal(stop_signal)
        output, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "listening to 'color/image_raw'" in output, output


def test_bad_parameter_exits_with_a_clear_message(tmp_path):
    env = dict(os.environ, ROS_DOMAIN_ID=str(next_domain_id()), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "test.ros.fake_segmenter", "--ros-args", "--params-file", str(CONFIG),
           "-p", "device:=tpu", "-p", f"map_dir:={tmp_path}"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert "device='tpu'; expected auto, cpu, cuda, cuda:N or mps" in done.stdout + done.stderr
