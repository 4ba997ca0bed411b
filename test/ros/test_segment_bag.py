"""``segment-bag`` on bags shaped like users' recordings: a RealSense driver's topics on an odometry TF chain,
pose topics instead of TF, no ground truth; it finds the inputs itself and maps as ``eval-bag`` does."""

import csv
import json
from contextlib import redirect_stdout
from io import StringIO

import numpy as np
import pytest

from test.ros.conftest import next_domain_id
from test.ros.ros_env import require_ros
from test.ros.setup_py import write_package_record

require_ros()

from samosaic3d_core.cli.main import main  # noqa: E402
from samosaic3d_core.io.scene_map import read_scene_map  # noqa: E402
from samosaic3d_ros.bag import layout  # noqa: E402
from test.ros.bag_edit import copy_bag, odometry, pose_stamped, tf_poses  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ros_commands")]  # registered by setup.py

SCENE = ["--seed", "5", "--frames", "5", "--width", "80", "--height", "60"]
REPORT = {"map.npz", "map.ply", "overview.png", "map_top_down.png", "map_perspective.png", "metrics.json",
          "timings.csv"}
RS_CHAIN = ["camera_color_optical_frame", "camera_color_frame", "camera_link", "base_link", "odom", "map"]
QUALITY = ("AP", "AP50", "AP25", "map_instances", "label_noise", "object_instances", "objects")


def cli(capsys, *argv) -> list[str]:
    """Run ``samosaic3d argv``; its output lines."""
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out.strip().splitlines()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The same scene as bags in both layouts, eval-bag's offline metrics of it, and segment-bag's offline run of
    the RealSense one: {"default", "realsense", "eval_bag", "realsense_out", "realsense_lines"}."""
    root = tmp_path_factory.mktemp("segment_bag")
    with pytest.MonkeyPatch.context() as patch:
        write_package_record(root / "record")
        patch.syspath_prepend(str(root / "record"))
        default, realsense = root / "default", root / "realsense"
        assert main(["make-bag", "--out", str(default), *SCENE]) == 0
        assert main(["make-bag", "--out", str(realsense), *SCENE, "--layout", "realsense"]) == 0
        assert main(["eval-bag", str(default), "--offline", "--metrics", str(root / "eval_bag.json")]) == 0
        out = root / "realsense_out"
        with redirect_stdout(StringIO()) as printed:
            assert main(["segment-bag", str(realsense), "--out", str(out)]) == 0
    return {"default": default, "realsense": realsense, "eval_bag": json.loads((root / "eval_bag.json").read_text()),
            "realsense_out": out, "realsense_lines": printed.getvalue().strip().splitlines()}


def ap_line(metrics: dict) -> str:
    return f"AP={metrics['AP']:.4f} AP50={metrics['AP50']:.4f} AP25={metrics['AP25']:.4f}"


def test_realsense_layout_composes_the_scene_poses(scene):
    from samosaic3d_ros.bag.discover import discover
    from samosaic3d_ros.bag.reader import read_frames

    found = discover(scene["realsense"])
    assert found.chain == RS_CHAIN
    assert {(parent, child) for _, parent, child, _ in tf_poses(scene["realsense"])} == {("map", "odom"),
                                                                                      ("odom", "base_link")}
    assert found.topics.depth == "/camera/camera/aligned_depth_to_color/image_raw"
    assert found.topics.camera_info == "/camera/camera/aligned_depth_to_color/camera_info"
    chained = list(read_frames(scene["realsense"], topics=found.topics))
    direct = list(read_frames(scene["default"]))
    assert len(chained) == len(direct) == 5
    for a, b in zip(chained, direct):
        np.testing.assert_allclose(a.pose, b.pose, atol=1e-9)
        np.testing.assert_array_equal(a.instance_gt, b.instance_gt)


def test_segment_realsense_bag_offline_maps_as_eval_bag(scene):
    out, lines, reference = scene["realsense_out"], scene["realsense_lines"], scene["eval_bag"]
    assert lines[0].startswith("inputs: colour /camera/camera/color/image_raw") and "map frame 'map'" in lines[0]
    assert lines[-1] == ap_line(reference) and "offline: 5/5 frames processed" in lines[-3]
    assert REPORT <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert {k: metrics[k] for k in QUALITY} == {k: reference[k] for k in QUALITY}
    assert (metrics["frames"], metrics["frames_processed"], metrics["mode"]) == (5, 5, "offline")
    assert metrics["inputs"]["pose_source"] == "tf" and metrics["fps"] > 0
    scene_map = read_scene_map(out / "map.npz")
    assert len(np.unique(scene_map.instance_ids[scene_map.instance_ids > 0])) == metrics["map_instances"]
    rows = list(csv.reader((out / "timings.csv").open()))
    assert rows[0][:2] == ["frame", "stamp"] and rows[0][-1] == "total_ms" and "masks_ms" in rows[0]
    assert [int(r[0]) for r in rows[1:]] == list(range(5))
    assert all(float(r[-1]) >= float(r[2]) >= 0 for r in rows[1:])


def test_eval_bag_scores_the_realsense_bag_like_the_default_one(scene, capsys):
    assert cli(capsys, "eval-bag", scene["realsense"], "--offline")[-1] == ap_line(scene["eval_bag"])


def test_segment_realsense_bag_through_the_node(scene, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROS_DOMAIN_ID", str(next_domain_id()))
    lines = cli(capsys, "segment-bag", scene["realsense"], "--out", tmp_path, "--node")
    assert lines[-1] == ap_line(scene["eval_bag"]) and "node: 5/5 frames processed" in lines[-3]
    assert REPORT <= {p.name for p in tmp_path.iterdir()}
    rows = list(csv.reader((tmp_path / "timings.csv").open()))
    assert rows[0] == ["frame", "stamp", "round_trip_ms"] and len(rows) == 6
    assert json.loads((tmp_path / "metrics.json").read_text())["mode"] == "node"


@pytest.mark.parametrize("kind", ["PoseStamped", "Odometry"])
def test_pose_topic_instead_of_tf(scene, kind, tmp_path, capsys):
    """PoseStamped of the optical frame without any TF; Odometry of camera_link beside the static mount."""
    moves = [(ns, m) for ns, _, _, m in tf_poses(scene["default"])]  # map <- camera_link
    if kind == "PoseStamped":
        drop = [layout.TF_TOPIC, layout.TF_STATIC_TOPIC]
        add = [("/slam/pose", "geometry_msgs/msg/PoseStamped", ns, pose_stamped(ns, "map", m @ layout.BODY_TO_OPTICAL))
               for ns, m in moves]
    else:
        drop = [layout.TF_TOPIC]
        add = [("/odom", "nav_msgs/msg/Odometry", ns, odometry(ns, "map", "camera_link", m)) for ns, m in moves]
    bag = copy_bag(scene["default"], tmp_path / "bag", drop=drop, add=add)
    lines = cli(capsys, "segment-bag", bag, "--out", tmp_path / "out")
    assert f"pose from {add[0][0]}" in lines[0] and lines[-1] == ap_line(scene["eval_bag"])
    by_tf, by_topic = (read_scene_map(d / "map.npz") for d in (scene["realsense_out"], tmp_path / "out"))
    np.testing.assert_array_equal(by_topic.instance_ids, by_tf.instance_ids)
    np.testing.assert_allclose(by_topic.xyz, by_tf.xyz, atol=1e-5)


def test_bag_without_ground_truth_still_maps(scene, tmp_path, capsys):
    bag = copy_bag(scene["realsense"], tmp_path / "bag", drop=[layout.REALSENSE.instance_topic])
    lines = cli(capsys, "segment-bag", bag, "--out", tmp_path / "out", "--max-frames", "3")
    assert "ground truth none" in lines[0] and not any(line.startswith("AP=") for line in lines)
    assert lines[-2].startswith("offline: 3/3 frames processed")
    assert REPORT <= {p.name for p in (tmp_path / "out").iterdir()}
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "AP" not in metrics and metrics["frames"] == 3 and metrics["map_instances"] > 0
    assert 0.0 <= metrics["label_noise"] <= 1.0
    assert len(read_scene_map(tmp_path / "out" / "map.npz")) == metrics["map_points"]


@pytest.mark.parametrize("edit, flag", [
    ({"rename": {layout.DEPTH_TOPIC: "/camera/color/depth_raw"}, "drop": [layout.COLOR_TOPIC]}, "--color-topic"),
    ({"drop": [layout.TF_TOPIC, layout.TF_STATIC_TOPIC]}, "--pose-topic"),
])
def test_missing_inputs_stop_with_one_line_naming_the_flag(scene, tmp_path, capsys, edit, flag):
    bag = copy_bag(scene["default"], tmp_path / "bag", **edit)
    assert main(["segment-bag", str(bag), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("samosaic3d segment-bag: ") and flag in captured.err
    assert not (tmp_path / "out").exists()


def test_bag_logged_out_of_stamp_order_maps_the_same(scene, tmp_path, capsys):
    """A driver and a localiser log a frame's camera info, colour image and transforms after its depth image."""
    rs = layout.REALSENSE
    late = {layout.TF_TOPIC: 80_000_000, rs.color_topic: 20_000_000, rs.camera_info_topics[0]: 5_000_000}
    bag = copy_bag(scene["realsense"], tmp_path / "bag", delay=late)
    lines = cli(capsys, "segment-bag", bag, "--out", tmp_path / "out")
    assert lines[-1] == ap_line(scene["eval_bag"]) and "offline: 5/5 frames processed" in lines[-3]
