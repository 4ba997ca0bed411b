"""The ROS package's commands reach users through the one ``samosaic3d`` command, names and flags unchanged."""

from __future__ import annotations

import re

import pytest

from samosaic3d_core.cli.main import main

pytestmark = pytest.mark.usefixtures("ros_commands")

FLAGS = {
    "demo": ["--out", "--seed", "--frames", "--width", "--height", "--offline", "--config", "--pipeline", "--masks",
             "--weights"],
    "make-bag": ["--out", "--seed", "--frames", "--width", "--height", "--pose-error", "--storage", "--layout",
                 "--overwrite"],
    "eval-bag": ["--offline", "--config", "--pipeline", "--masks", "--weights", "--record", "--no-lockstep", "--voxel", "--metrics"],
    "segment-bag": ["--out", "--node", "--color-topic", "--depth-topic", "--camera-info-topic", "--instance-topic",
                    "--pose-topic", "--pose-frame", "--map-frame", "--config", "--pipeline", "--masks", "--weights",
                    "--max-frames"],
    "params": ["--describe"],
    "doctor": ["--config"],
}


def test_help_lists_the_core_commands_then_the_ros_commands(capsys):
    assert main(["--help"]) == 0
    captured = capsys.readouterr()
    listed = [line.split(None, 1) for line in captured.out.splitlines() if line.startswith("  ")]
    assert [name for name, _ in listed] == ["make-data", "run", "evaluate", "train", "demo", "doctor", "eval-bag", "make-bag",
                                            "params", "segment-bag"]
    assert dict(listed)["eval-bag"].strip() == "replay a bag into the node (or --offline) and score it"
    assert captured.err == ""


@pytest.mark.parametrize("name", list(FLAGS))
def test_ros_command_flags(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: samosaic3d {name} [-h]")
    flags = list(dict.fromkeys(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text.split("options:")[1])))
    assert flags == ["--help"] + FLAGS[name]
