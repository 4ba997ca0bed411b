"""``make-bag`` then ``eval-bag``: through the node over DDS and ``--offline`` give the same AP."""

import pytest

from test.ros.conftest import next_domain_id
from test.ros.ros_env import require_ros

require_ros()

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ros_commands")]  # registered by setup.py


def test_eval_bag_node_and_offline_agree(tmp_path, monkeypatch, capsys):
    from samosaic3d_core.cli.main import main

    monkeypatch.setenv("ROS_DOMAIN_ID", str(next_domain_id()))
    bag = tmp_path / "scene.mcap"
    assert main(["make-bag", "--out", str(bag), "--seed", "5", "--frames", "12", "--width", "320", "--height", "240"]) == 0
    capsys.readouterr()
    assert main(["eval-bag", str(bag), "--offline"]) == 0
    offline = capsys.readouterr().out.strip().splitlines()
    assert main(["eval-bag", str(bag), "--record", str(tmp_path / "outputs")]) == 0
    node = capsys.readouterr().out.strip().splitlines()
    assert offline[-1].startswith("AP=") and node[-1] == offline[-1]
    assert "node: 12/12 frames processed" in node[-2]
    assert any(p.suffix == ".mcap" for p in (tmp_path / "outputs").iterdir())
