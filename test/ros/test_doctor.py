"""``samosaic3d doctor``: a line per component, FAIL with the fix for what is needed and missing."""

import pytest

from samosaic3d_core.cli.main import main
from samosaic3d_ros.commands.doctor import spconv_package

pytestmark = pytest.mark.usefixtures("ros_commands")


def test_spconv_build_for_each_cuda_runtime():
    assert [spconv_package(v) for v in ("13.2", "12.8", "12.6", "12.5", "12.2", "12.0", "11.8", "11.7")] == [
        "spconv-cu126", "spconv-cu126", "spconv-cu126", "spconv-cu124", "spconv-cu121", "spconv-cu120",
        "spconv-cu118", None]


def test_this_machine_has_everything_needed(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[1] for line in out.splitlines() if line[:4] in ("ok  ", "--  ", "FAIL")]
    assert names[:4] == ["python", "torch", "spconv", "shipped"]
    assert {"ultralytics", "open3d", "rclpy", "samosaic3d_msgs", "tf2_msgs", "vision_msgs"} <= set(names)
    assert out.rstrip().endswith("everything needed is usable")


def test_fastsam_configured_without_its_weights_fails_with_the_fix(tmp_path, capsys):
    config = tmp_path / "fastsam.yaml"
    missing = tmp_path / "FastSAM-s.pt"
    config.write_text("samosaic3d_node:\n  ros__parameters:\n    masks:\n      source: fastsam\n"
                      f"      fastsam:\n        weights: {missing}\n")
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "FastSAM weights" in line)
    assert line.startswith("FAIL") and f"{missing}: no such file" in line
    assert "fix: fix masks.fastsam.weights in the parameter file" in out
    assert out.rstrip().endswith("missing: FastSAM weights")
