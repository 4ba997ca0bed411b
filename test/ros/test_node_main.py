"""``main()`` in its own process: starts from the YAML, serves, and stops cleanly on SIGINT / SIGTERM."""

import signal
import subprocess
import sys

import pytest

from test.ros.ros_env import require_ros

require_ros()

from std_srvs.srv import Trigger  # noqa: E402

from test.ros.conftest import CONFIG, REPO, next_domain_id  # noqa: E402
from test.ros.node_process import fake_node_command, node_env, start, stop  # noqa: E402


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_main_runs_and_shuts_down_once(ros, tmp_path, stop_signal):
    proc = start(fake_node_command(tmp_path), node_env(ros.domain_id))
    try:
        reply = ros.call(ros.tester(), Trigger, "/samosaic3d_node/reset", Trigger.Request(), timeout=20.0)
        assert reply.success and reply.message == "map cleared"
    finally:
        output = stop(proc, stop_signal, timeout=10)
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "listening to 'color/image_raw'" in output, output


def test_bad_parameter_exits_with_a_clear_message(tmp_path):
    done = subprocess.run(fake_node_command(tmp_path, "device:=tpu"), cwd=REPO, env=node_env(next_domain_id()),
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert "device='tpu'; expected auto, cpu, cuda, cuda:N or mps" in done.stdout + done.stderr


def _wrong_shape_checkpoint(path):
    """The shipped checkpoint with one weight tensor a row short (metadata unchanged)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    shipped = REPO / "samosaic3d_core" / "checkpoints" / "samosaic3d_synth.safetensors"
    with safe_open(str(shipped), framework="pt") as f:
        metadata = f.metadata()
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    name = next(key for key, value in tensors.items() if value.ndim == 2 and value.shape[0] > 1)
    tensors[name] = tensors[name][1:].contiguous()
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("fault", ["missing checkpoint", "corrupt checkpoint", "wrong-shape checkpoint",
                                   "missing FastSAM weights", "missing instance scorer", "foreign instance scorer"])
def test_a_model_file_fault_at_start_up_exits_2_naming_the_file(tmp_path, fault):
    if fault == "missing checkpoint":
        path, params = tmp_path / "nope.safetensors", ["checkpoint"]
    elif fault == "corrupt checkpoint":
        path, params = tmp_path / "corrupt.safetensors", ["checkpoint"]
        path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{trunc")
    elif fault == "wrong-shape checkpoint":
        path, params = _wrong_shape_checkpoint(tmp_path / "edited.safetensors"), ["checkpoint"]
    elif fault == "missing instance scorer":
        path, params = tmp_path / "nope.json", ["memory.confidence_scorer"]
    elif fault == "foreign instance scorer":
        path, params = tmp_path / "other.json", ["memory.confidence_scorer"]
        path.write_text('{"weights": [1, 2]}')
    else:
        path, params = tmp_path / "FastSAM-s.pt", ["masks.fastsam.weights"]
    overrides = [f"{params[0]}:={path}"] + (["masks.source:=fastsam"] if "FastSAM" in fault else [])
    env = node_env(next_domain_id(), YOLO_OFFLINE="1")
    cmd = [sys.executable, "-m", "samosaic3d_ros.node", "--ros-args", "--params-file", str(CONFIG),
           "-p", f"map_dir:={tmp_path}"]
    for override in overrides:
        cmd += ["-p", override]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and str(path) in output, output
    fatal = [line for line in output.splitlines() if "FATAL" in line]
    assert len(fatal) == 1 and str(path) in fatal[0], output
