"""``make-bag`` then ``eval-bag``: through the node over DDS and ``--offline`` give the same AP and map quality."""

import json

import numpy as np
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
    assert main(["eval-bag", str(bag), "--offline", "--metrics", str(tmp_path / "offline.json")]) == 0
    offline = capsys.readouterr().out.strip().splitlines()
    assert main(["eval-bag", str(bag), "--record", str(tmp_path / "outputs"),
                 "--metrics", str(tmp_path / "node.json")]) == 0
    node = capsys.readouterr().out.strip().splitlines()
    assert offline[-1].startswith("AP=") and node[-1] == offline[-1]
    assert "node: 12/12 frames processed" in node[-2]
    assert any(p.suffix == ".mcap" for p in (tmp_path / "outputs").iterdir())

    offline_metrics, node_metrics = (json.loads((tmp_path / f"{m}.json").read_text()) for m in ("offline", "node"))
    assert node_metrics["mode"] == "node" and node_metrics["frames_processed"] == 12
    assert node[-1] == f"AP={node_metrics['AP']:.4f} AP50={node_metrics['AP50']:.4f} AP25={node_metrics['AP25']:.4f}"
    quality = ("AP", "AP50", "AP25", "map_instances", "label_noise", "object_instances", "objects")
    assert {k: node_metrics[k] for k in quality} == {k: offline_metrics[k] for k in quality}
    assert 0.0 <= node_metrics["label_noise"] <= 1.0
    assert all(isinstance(node_metrics[k], int) for k in ("map_instances", "object_instances", "objects"))
    assert 0 < node_metrics["object_instances"] <= node_metrics["map_instances"]
    assert node_metrics["objects"] == scored_objects(bag) >= 3


def scored_objects(bag) -> int:
    """Ground-truth instances of the bag's scene that the protocol scores (>= 100 scene points)."""
    from samosaic3d_core.eval import build_scene_points
    from samosaic3d_ros.bag.reader import read_frames
    from samosaic3d_ros.bag.replay import default_params_file
    from samosaic3d_ros.params import params_from_yaml

    gt = build_scene_points(read_frames(str(bag), params_from_yaml(default_params_file()))).gt_instance
    return int((np.unique(gt[gt > 0], return_counts=True)[1] >= 100).sum())
