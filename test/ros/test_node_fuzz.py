"""Fuzzed input over DDS: hundreds of malformed frames; the node stays up, counts every one as
skipped with a reason in /diagnostics, and then processes a good stream as before."""

import math
import time
import random

import numpy as np

from test.ros.ros_env import require_ros

require_ros()

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.time import Time  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402

from samosaic3d_ros.stamps import seconds_to_stamp  # noqa: E402
from test.ros import scene  # noqa: E402
from test.ros.node_io import Stream, start_node  # noqa: E402

ROUNDS = 16  # x 14 kinds = 224 malformed frames


def _image(msg, rng, encodings):
    msg.encoding = rng.choice(encodings)
    msg.step = rng.choice([0, 1, msg.step // 2, msg.step * 3, 2**31 - 1])
    return msg


def malformed(kind: str, t: float, rng: random.Random):
    """(colour, depth, camera info, tf) for one bad frame at ``t``; None = the good message."""
    color, depth, info, tf = scene.color_msg(t), scene.depth_msg(t), scene.camera_info_msg(t), scene.camera_tf_msg(t)
    if kind == "colour encoding":
        color = _image(color, rng, ["yuv422", "mono16", "", "bgra8x", "16UC3", "64FC1"])
    elif kind == "depth encoding":
        depth = _image(depth, rng, ["rgb8", "8UC1", "", "64FC1", "32FC3"])
    elif kind == "truncated data":
        target = rng.choice([color, depth])
        target.data = bytes(target.data)[: rng.randrange(0, len(target.data))]
    elif kind == "size claims":
        target = rng.choice([color, depth])
        target.width, target.height = rng.choice([(0, 0), (100000, 1), (1, 100000), (scene.W + 1, scene.H)])
    elif kind == "size mismatch":
        depth = scene.depth_msg(t, np.full((rng.randrange(1, 40), rng.randrange(1, 60)), 2.0))
    elif kind == "bad depth values":
        depth = scene.depth_msg(t, np.full((scene.H, scene.W), rng.choice([0.0, -1.0, math.nan, math.inf])))
    elif kind == "bad intrinsics":
        k = rng.choice([[math.nan] * 9, [0.0] * 9, [-50.0, 0, 31.5, 0, -50.0, 23.5, 0, 0, 1], [math.inf] + [0.0] * 8])
        info.k = [float(v) for v in k]
    elif kind == "info size":
        info.width, info.height = rng.choice([(0, 0), (scene.W * 2, scene.H), (7, 3)])
    elif kind == "non-unit quaternion":
        rotation = tf.transforms[0].transform.rotation
        rotation.x, rotation.y, rotation.z, rotation.w = rng.choice([(0, 0, 0, 3.0), (0, 0, 0, 0), (0.5, 0.5, 0, 0)])
    elif kind == "nan translation":
        tf.transforms[0].transform.translation.x = rng.choice([math.nan, math.inf])
    elif kind == "zero stamp":
        for msg in (color, depth):
            msg.header.stamp = seconds_to_stamp(0.0)
    elif kind == "far-future stamp":
        future = 2.1e9 + rng.random()  # year 2036: far ahead, and still within builtin_interfaces/Time's int32 seconds
        for msg in (color, depth, info):  # the images' stamps (a far-future /tf would age out every
            msg.header.stamp = seconds_to_stamp(future)  # other transform, in tf2 as in the fallback)
    elif kind == "empty frame id":
        depth.header.frame_id = ""
    elif kind == "no pose":
        tf = None
    return color, depth, info, tf


KINDS = ["colour encoding", "depth encoding", "truncated data", "size claims", "size mismatch", "bad depth values",
         "bad intrinsics", "info size", "non-unit quaternion", "nan translation", "zero stamp", "far-future stamp",
         "empty frame id", "no pose"]


def test_hundreds_of_malformed_frames_are_skipped_and_counted_then_a_good_stream_works(ros, tmp_path):
    node = start_node(ros, tmp_path, warn_throttle=60.0, tf_timeout=0.05, diagnostics_period=0.2)
    processed: list[int] = []
    record = node.stats.on_processed
    node.stats.on_processed = lambda timings: (processed.append(1), record(timings))
    tester = ros.tester()
    clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    diagnostics = ros.collect(tester, DiagnosticArray, "/diagnostics")
    stream = Stream(ros, tester)
    stream.send(1.0)  # one good frame first: camera info, pose and map exist before the fuzz
    ros.wait_until(lambda: processed, what="the first good frame")

    rng = random.Random(7)
    t, sent = 2.0, 0
    for _ in range(ROUNDS):
        for kind in KINDS:
            t += 0.1
            color, depth, info, tf = malformed(kind, t, rng)
            before = sum(node.stats.skipped.values())
            if tf is not None:
                stream.tf.publish(tf)
            stream.info.publish(info)
            # separate topics have no order: the images must not overtake this camera info (or the node would
            # use the previous, good one)
            ros.wait_until(lambda: node._camera_info is not None and
                           node._camera_info.header.stamp == info.header.stamp, what=f"the camera info of '{kind}'")
            time.sleep(0.02)  # and let TF land first
            stream.color.publish(color)
            stream.depth.publish(depth)
            sent += 1
            ros.wait_until(lambda: sum(node.stats.skipped.values()) > before, what=f"the node to skip '{kind}'")
            stream.info.publish(scene.camera_info_msg(t))  # a good camera info again for the next frame
    assert sent >= 200 and len(processed) == 1 and node.stats.dropped == 0
    skipped = dict(node.stats.skipped)
    assert sum(skipped.values()) == sent
    assert {"encoding", "camera_info", "tf", "stamp"} <= set(skipped), skipped

    # still up: a good stream afterwards is processed normally and diagnostics carry the counts
    count = len(clouds)
    for k in range(3):
        stamp = t + 1.0 + 0.1 * k
        # /tf has no order with the images: under load the images could overtake it and the node would
        # rightly skip the frame for a missing pose; the good frame's transform lands first
        stream.tf.publish(scene.camera_tf_msg(stamp))
        ros.wait_until(lambda: node.tf_buffer.can_transform("map", scene.CAMERA_FRAME, Time.from_msg(seconds_to_stamp(stamp))),
                       what=f"the transform of good frame {k}")
        stream.send(stamp, tf=False)
        ros.wait_until(lambda: len(clouds) > count + k, what=f"good frame {k} after the fuzz")
    assert len(processed) == 4 and node._worker.is_alive()

    def counted():
        for array in reversed(diagnostics):
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if values.get("skipped_frames") == str(sent):
                    return values
        return None

    values = ros.wait_until(counted, what="diagnostics with every skip counted")
    assert sum(int(v) for k, v in values.items() if k.startswith("skipped_") and k != "skipped_frames") == sent
