"""``discover``: the inputs of a bag found by message type, and one-line errors naming the flag that decides."""

import pytest

pytest.importorskip("rosbags")

from samosaic3d_ros.bag import layout  # noqa: E402
from samosaic3d_ros.bag.discover import Choices, DiscoveryError, discover  # noqa: E402
from samosaic3d_ros.bag.writer import write_bag  # noqa: E402
from test.ros.bag_edit import copy_bag, odometry, pose_stamped, tf_poses, tiny_frames  # noqa: E402

RS = layout.REALSENSE


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp("discover")
    default, realsense = root / "default", root / "realsense"
    write_bag(default, tiny_frames())
    write_bag(realsense, tiny_frames(), bag_layout=RS)
    return root, default, realsense


def refused(bag, flag: str, choices: Choices | None = None) -> str:
    with pytest.raises(DiscoveryError) as error:
        discover(bag, choices)
    message = str(error.value)
    assert "\n" not in message and flag in message
    return message


def test_make_bag_layout(bags):
    _, default, _ = bags
    found = discover(default)
    assert (found.topics.color, found.topics.depth, found.topics.camera_info, found.topics.instance) == (
        layout.COLOR_TOPIC, layout.DEPTH_TOPIC, layout.CAMERA_INFO_TOPIC, layout.INSTANCE_TOPIC)
    assert found.topics.true_pose == ""  # no tracker error: no ground-truth pose messages
    assert (found.pose_source, found.map_frame, found.camera_frame) == ("tf", "map", layout.OPTICAL_FRAME)
    assert found.chain == [layout.OPTICAL_FRAME, "camera_link", "map"] and found.notes == []
    assert found.node_parameters() == {"map_frame": "map", "pose_source": "tf"}


def test_realsense_layout_takes_the_camera_info_beside_the_depth_image(bags):
    _, _, realsense = bags
    found = discover(realsense)
    assert (found.topics.color, found.topics.depth, found.topics.camera_info, found.topics.instance) == (
        RS.color_topic, RS.depth_topic, RS.camera_info_topics[0], RS.instance_topic)
    assert found.chain == [RS.optical_frame, "camera_color_frame", "camera_link", "base_link", "odom", "map"]
    assert discover(realsense, Choices(map_frame="odom")).chain[-1] == "odom"
    message = refused(realsense, "--map-frame", Choices(map_frame="world"))
    assert "camera_color_optical_frame -> camera_color_frame" in message


def test_ambiguous_or_missing_images(bags):
    root, default, _ = bags
    two_colours = _with_copy(default, layout.COLOR_TOPIC, "/camera2/color/image_raw")
    message = refused(two_colours, "--color-topic")
    assert layout.COLOR_TOPIC in message and "/camera2/color/image_raw" in message
    assert discover(two_colours, Choices(color="/camera2/color/image_raw")).topics.color == "/camera2/color/image_raw"
    refused(default, "--color-topic", Choices(color="/nope"))
    refused(_with_copy(default, layout.DEPTH_TOPIC, "/camera/depth2/image_raw"), "--depth-topic")
    refused(copy_bag(default, root / "no_depth", drop=[layout.DEPTH_TOPIC, layout.INSTANCE_TOPIC]), "--depth-topic")
    # ids on a topic not named 'instance' are one more 16UC1 candidate: the one named 'depth' is the depth
    unnamed = discover(copy_bag(default, root / "unnamed_ids", rename={layout.INSTANCE_TOPIC: "/labels/image"}))
    assert unnamed.topics.depth == layout.DEPTH_TOPIC and unnamed.topics.instance == ""
    assert "--depth-topic" in unnamed.notes[0]


def _with_copy(bag, topic: str, copy: str):
    """``bag`` plus ``topic``'s messages again under the name ``copy``."""
    from samosaic3d_ros.bag.reader import open_bag
    from test.ros.bag_edit import TYPESTORE

    reader = open_bag(bag)
    try:
        extra = [(copy, c.msgtype, ns, TYPESTORE.deserialize_cdr(raw, c.msgtype))
                 for c, ns, raw in reader.messages(connections=[c for c in reader.connections if c.topic == topic])]
    finally:
        reader.close()
    return copy_bag(bag, bag.parent / f"{bag.name}{copy.replace('/', '_')}", add=extra)


def test_camera_info_outside_the_depth_namespace(bags):
    root, _, realsense = bags
    moved = copy_bag(realsense, root / "info_moved", rename={RS.camera_info_topics[0]: "/calibration/camera_info"})
    message = refused(moved, "--camera-info-topic")
    assert "/calibration/camera_info" in message and RS.camera_info_topics[1] in message
    chosen = discover(moved, Choices(camera_info="/calibration/camera_info"))
    assert chosen.topics.camera_info == "/calibration/camera_info"


def test_pose_topics_instead_of_tf(bags):
    root, default, _ = bags
    moves = [(ns, m) for ns, parent, child, m in tf_poses(default)]
    without_tf = copy_bag(default, root / "no_tf", drop=[layout.TF_TOPIC, layout.TF_STATIC_TOPIC])
    assert "--pose-topic" in refused(without_tf, "--pose-topic")

    optical = [(ns, m @ layout.BODY_TO_OPTICAL) for ns, m in moves]
    stamped = copy_bag(without_tf, root / "pose_stamped", add=[
        ("/slam/pose", "geometry_msgs/msg/PoseStamped", ns, pose_stamped(ns, "world", m)) for ns, m in optical])
    found = discover(stamped)
    assert (found.pose_source, found.pose_topic, found.pose_child_frame) == ("pose_topic", "/slam/pose",
                                                                               layout.OPTICAL_FRAME)
    assert "camera_link" in refused(stamped, "--pose-frame", Choices(pose_frame="camera_link"))  # no TF to it
    assert found.map_frame == "world" and any("--map-frame" in note for note in found.notes)
    assert found.node_parameters() == {"map_frame": "world", "pose_source": "pose_topic", "pose_topic": "/slam/pose",
                                       "pose_child_frame": layout.OPTICAL_FRAME}

    static_only = copy_bag(default, root / "static_only", drop=[layout.TF_TOPIC], add=[
        ("/odom", "nav_msgs/msg/Odometry", ns, odometry(ns, "odom", "camera_link", m)) for ns, m in moves] + [
        ("/odom_filtered", "nav_msgs/msg/Odometry", ns, odometry(ns, "odom", "camera_link", m)) for ns, m in moves])
    assert "/odom, /odom_filtered" in refused(static_only, "--pose-topic")
    found = discover(static_only, Choices(pose_topic="/odom"))
    assert (found.pose_source, found.chain) == ("odom_topic", [layout.OPTICAL_FRAME, "camera_link", "odom"])
    refused(static_only, "--pose-topic", Choices(pose_topic="/nope"))


def test_a_camera_on_static_transforms_only_is_taken_as_fixed(bags):
    root, default, _ = bags
    fixed = copy_bag(default, root / "fixed", drop=[layout.TF_TOPIC])
    found = discover(fixed)
    assert found.pose_source == "tf" and found.map_frame == "camera_link"
    assert any("fixed" in note and "--pose-topic" in note for note in found.notes)


def test_not_a_bag(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "nope")
