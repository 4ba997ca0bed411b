"""The node over DDS: a synthetic stream in, labelled clouds / instances / markers / diagnostics out."""

import time

import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from samosaic3d_msgs.msg import Instance, InstanceArray  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
from vision_msgs.msg import Detection3DArray  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from samosaic3d_core.colors import id_colors  # noqa: E402
from samosaic3d_ros.cloud_conv import cloud_to_array, unpack_rgb  # noqa: E402
from samosaic3d_ros.image_conv import image_to_rgb  # noqa: E402
from samosaic3d_ros.stamps import seconds_to_stamp  # noqa: E402
from test.ros import scene  # noqa: E402
from test.ros.fake_segmenter import SCORE, FakeSegmenter  # noqa: E402
from test.ros.node_io import Stream, start_node  # noqa: E402

GREEN, RED = 1, 2  # FakeSegmenter numbers colours in sorted order: (30,200,30) < (200,30,30)
TIMES = [100.0, 100.1, 100.2]


def stamp_seconds(stamped) -> float:
    """Seconds of a Header's stamp or of a Time."""
    stamp = getattr(stamped, "stamp", stamped)
    return stamp.sec + stamp.nanosec * 1e-9


def node_counts(node) -> dict:
    """The node's totals (inputs before synchronisation, synchronised frames, processed, dropped,
    skipped), for timeout messages."""
    stats = node.stats
    return {"inputs": dict(stats.inputs), "received": stats.received, "processed": stats.processed,
            "dropped": stats.dropped, "skipped": dict(stats.skipped)}


def test_stream_publishes_labelled_outputs(ros, tmp_path):
    node = start_node(ros, tmp_path, instances_rate=0.0, map_cloud_rate=0.0, publish_overlay=True,
                      diagnostics_period=0.2)
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    instances = ros.collect(tester, InstanceArray, "instances")
    markers = ros.collect(tester, MarkerArray, "instances/markers")
    detections = ros.collect(tester, Detection3DArray, "instances/detections")
    overlays = ros.collect(tester, Image, "instances/overlay")
    diagnostics = ros.collect(tester, DiagnosticArray, "/diagnostics")
    stream = Stream(ros, tester)
    for k, t in enumerate(TIMES):
        stream.send(t)
        received = {"frame clouds": frame_clouds, "instances": instances, "overlays": overlays,
                    "detections": detections}
        ros.wait_until(lambda: all(len(r) > k for r in received.values()),
                       what=lambda: f"frame {k}; received {({n: len(r) for n, r in received.items()})}; "
                                    f"node: {node_counts(node)}")

    cloud = frame_clouds[-1]
    assert cloud.header.frame_id == "map" and stamp_seconds(cloud.header) == pytest.approx(TIMES[-1], abs=1e-9)
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb", "instance_id", "score"]
    points = cloud_to_array(cloud)
    assert len(points) == scene.W * scene.H  # every pixel has valid depth
    ids = points["instance_id"]
    assert sorted(set(ids.tolist())) == [0, GREEN, RED]
    (u0, u1, v0, v1), _, z = scene.BOXES[0]
    assert (ids == RED).sum() == (u1 - u0) * (v1 - v0)
    np.testing.assert_array_equal(points["z"][ids == RED], np.float32(z + scene.CAMERA_IN_MAP[2]))
    rgb = unpack_rgb(points["rgb"])
    np.testing.assert_array_equal(rgb[ids == RED], np.broadcast_to(id_colors(np.array([RED]))[0], ((ids == RED).sum(), 3)))
    np.testing.assert_array_equal(rgb[ids == 0], np.broadcast_to(scene.WALL[0], ((ids == 0).sum(), 3)))
    assert set(points["score"][ids > 0].tolist()) == {SCORE} and set(points["score"][ids == 0].tolist()) == {0.0}

    latest = instances[-1]
    assert latest.header.frame_id == "map" and stamp_seconds(latest.header) == pytest.approx(TIMES[-1], abs=1e-9)
    by_id = {i.id: i for i in latest.instances}
    assert sorted(by_id) == [GREEN, RED]
    for box_index, instance_id in ((0, RED), (1, GREEN)):
        lo, hi = (v.astype(np.float32) for v in scene.expected_box(box_index))
        inst = by_id[instance_id]
        assert [inst.box_min.x, inst.box_min.y, inst.box_min.z] == lo.tolist()
        assert [inst.box_max.x, inst.box_max.y, inst.box_max.z] == hi.tolist()
        (u0, u1, v0, v1), _, _ = scene.BOXES[box_index]
        assert inst.num_points == len(TIMES) * (u1 - u0) * (v1 - v0)
        assert inst.score == pytest.approx(SCORE) and inst.tier == Instance.TIER_SHORT
        assert stamp_seconds(inst.first_seen) == pytest.approx(TIMES[0], abs=1e-9)
        assert stamp_seconds(inst.last_seen) == pytest.approx(TIMES[-1], abs=1e-9)

    # the same instances as standard detections: persistent id, box centre and size, score
    latest_detections = detections[-1]
    assert latest_detections.header == latest.header
    by_detection_id = {d.id: d for d in latest_detections.detections}
    assert sorted(by_detection_id) == [str(GREEN), str(RED)]
    for instance_id, inst in by_id.items():
        detection = by_detection_id[str(instance_id)]
        lo = np.array([inst.box_min.x, inst.box_min.y, inst.box_min.z])
        hi = np.array([inst.box_max.x, inst.box_max.y, inst.box_max.z])
        centre = detection.bbox.center.position
        np.testing.assert_allclose([centre.x, centre.y, centre.z], (lo + hi) / 2, atol=1e-6)
        size = detection.bbox.size
        np.testing.assert_allclose([size.x, size.y, size.z], hi - lo, atol=1e-6)
        assert detection.header.frame_id == "map"
        assert stamp_seconds(detection.header) == pytest.approx(TIMES[-1], abs=1e-9)
        [result] = detection.results
        assert result.hypothesis.class_id == "object" and result.hypothesis.score == pytest.approx(SCORE)

    boxes = [m for m in markers[-1].markers if m.type == Marker.LINE_LIST]
    assert sorted(m.id for m in boxes) == [GREEN, RED]
    assert all(m.header.frame_id == "map" and m.ns == "samosaic3d/boxes" and len(m.points) == 24 for m in boxes)

    overlay = overlays[-1]
    assert overlay.header.frame_id == scene.CAMERA_FRAME and (overlay.width, overlay.height) == (scene.W, scene.H)
    pixels = image_to_rgb(overlay)
    blended = np.clip(0.5 * np.array([200, 30, 30]) + 0.5 * id_colors(np.array([RED]))[0], 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[20, 15], blended)  # inside the red box, away from its edges
    np.testing.assert_array_equal(pixels[2, 2], scene.WALL[0])  # wall: no mask

    # the map cloud is latched: a subscriber arriving now still gets it
    latched = ros.collect(tester, PointCloud2, "instances/cloud", QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    # (the cloud of the last frame may still be on its way when the subscriber joins: wait for it)
    full_width = len(TIMES) * scene.W * scene.H
    ros.wait_until(lambda: latched and latched[-1].width == full_width, what="the latched cloud of the whole map")
    assert latched[-1].header.frame_id == "map"

    def pipeline_status():
        for array in diagnostics:
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name == "samosaic3d_node: pipeline" and values.get("memory_frames") == str(len(TIMES)):
                    return values
        return None

    values = ros.wait_until(pipeline_status, what="diagnostics with the memory sizes")
    assert values["memory_instances"] == "2" and values["dropped_frames"] == "0"
    assert values["memory_map_points"] == str(len(TIMES) * scene.W * scene.H)
    # every image arrived, was paired and went through the pipeline (running totals)
    frames = str(len(TIMES))
    assert values["received_color_messages"] == values["received_depth_messages"] == frames
    assert values["received_frames"] == values["processed_frames"] == frames
    # the worker's stages and the publisher thread's land in whichever window they finished in
    reported = {kv.key for array in diagnostics for status in array.status for kv in status.values}
    assert {"input_rate_hz", "processing_rate_hz", "latency_fake_ms", "latency_publish_ms",
            "latency_frame_ms"} <= reported
    assert node.stats.skipped == {}


class SleepySegmenter(FakeSegmenter):
    def step(self, frame):
        time.sleep(0.05)
        return super().step(frame)


def test_frame_timing_covers_the_whole_frame(ros, tmp_path):
    node = start_node(ros, tmp_path, segmenter_factory=SleepySegmenter)
    timings: list[dict] = []
    record, record_stage = node.stats.on_processed, node.stats.on_stage
    node.stats.on_processed = lambda t: (timings.append(dict(t)), record(t))
    stages: list[str] = []
    node.stats.on_stage = lambda stage, seconds: (stages.append(stage), record_stage(stage, seconds))
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    stream = Stream(ros, tester)
    stream.send(100.0)
    ros.wait_until(lambda: frame_clouds and timings, what="one processed frame")
    (t,) = timings
    assert t["frame"] >= 0.05  # the segmenter's sleep happens inside the frame
    assert t["frame"] >= t["input"] + t["fake"] + t["handoff"]
    assert t["frame"] - t["fake"] < 1.0
    # packing and sending happen on the publisher thread, timed as their own stage
    ros.wait_until(lambda: "publish" in stages, what="the publish stage timing")


class SlowSegmenter(FakeSegmenter):
    def step(self, frame):
        time.sleep(0.3)
        return super().step(frame)


def test_frames_arriving_while_busy_are_dropped_and_counted(ros, tmp_path):
    node = start_node(ros, tmp_path, segmenter_factory=SlowSegmenter)
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    stream = Stream(ros, tester)
    for k in range(6):
        stream.send(100.0 + 0.05 * k)
        time.sleep(0.05)
    ros.wait_until(lambda: node.stats.dropped + len(frame_clouds) == 6, timeout=5.0, what="all frames accounted for")
    assert node.stats.dropped >= 2
    assert stamp_seconds(frame_clouds[-1].header) == pytest.approx(100.25, abs=1e-9)  # the newest is never dropped


def test_pose_from_a_pose_topic(ros, tmp_path):
    start_node(ros, tmp_path, pose_source="pose_topic", pose_topic="camera_pose", camera_frame=scene.CAMERA_FRAME)
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    pose_pub = tester.create_publisher(PoseStamped, "camera_pose", 10)
    stream = Stream(ros, tester)
    ros.wait_until(pose_pub.get_subscription_count, what="the pose subscription")
    for t in (100.0, 100.5):
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = seconds_to_stamp(t), "map"
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.0, 0.0, 10.0 + t - 100.0
        pose.pose.orientation.w = 1.0
        pose_pub.publish(pose)
    stream.send(100.25, tf=False)
    ros.wait_until(lambda: frame_clouds, what="a frame posed from the pose topic")
    points = cloud_to_array(frame_clouds[-1])
    assert points["z"].min() == np.float32(1.5 + 10.25)  # the nearer box, at the interpolated camera height


def test_the_pose_each_frame_was_fused_with_is_published(ros, tmp_path):
    from tf2_msgs.msg import TFMessage

    start_node(ros, tmp_path, refined_camera_frame="camera_refined")
    tester = ros.tester()
    poses = ros.collect(tester, PoseStamped, "instances/camera_pose")
    tfs = ros.collect(tester, TFMessage, "/tf")
    stream = Stream(ros, tester)
    stream.send(100.0)
    ros.wait_until(lambda: poses and any(t.child_frame_id == "camera_refined" for m in tfs for t in m.transforms),
                   what="the fused camera pose on its topic and on /tf")
    pose = poses[-1]
    assert pose.header.frame_id == "map" and stamp_seconds(pose.header) == pytest.approx(100.0, abs=1e-9)
    position = pose.pose.position
    assert (position.x, position.y, position.z) == pytest.approx(tuple(scene.CAMERA_IN_MAP))
    ours = [t for m in tfs for t in m.transforms if t.child_frame_id == "camera_refined"][-1]
    assert ours.header.frame_id == "map" and ours.transform.translation.z == pytest.approx(scene.CAMERA_IN_MAP[2])


def test_images_that_overtake_the_first_camera_info_wait_for_it(ros, tmp_path):
    """Separate topics have no order: the first images may come before the first camera info. The
    worker waits for it up to ``tf_timeout`` (as for a pose) instead of skipping the frame."""
    node = start_node(ros, tmp_path, instances_rate=0.0, map_cloud_rate=0.0, tf_timeout=3.0)
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    stream = Stream(ros, tester)
    stream.send(TIMES[0], info=False)
    time.sleep(0.5)  # the worker holds the frame
    assert frame_clouds == [] and not node.stats.skipped
    stream.info.publish(scene.camera_info_msg(TIMES[0]))
    ros.wait_until(lambda: frame_clouds, what="the frame whose images came before the camera info")
    assert stamp_seconds(frame_clouds[0].header) == pytest.approx(TIMES[0]) and not node.stats.skipped
