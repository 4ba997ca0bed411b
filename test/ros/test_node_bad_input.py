"""Bad input over DDS: each case logs a warning, the frame is skipped, the node keeps running."""

import numpy as np

from test.ros.ros_env import require_ros

require_ros()

from samosaic3d_msgs.msg import InstanceArray  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.ros import scene  # noqa: E402
from test.ros.node_io import Stream, start_node  # noqa: E402


def test_bad_frames_are_skipped_with_a_warning(ros, tmp_path):
    node = start_node(ros, tmp_path, instances_rate=0.0, map_cloud_rate=0.0, on_time_jump="reset", warn_throttle=0.0)
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    instances = ros.collect(tester, InstanceArray, "instances")
    stream = Stream(ros, tester)

    stream.send(10.0, info=False)
    stream.wait_warning("no CameraInfo received on 'depth/camera_info' yet")

    yuv = scene.color_msg(11.0)
    yuv.encoding, yuv.step = "yuv422", scene.W * 2
    yuv.data = bytes(scene.W * scene.H * 2)
    stream.send(11.0, color=yuv)
    stream.wait_warning("colour encoding 'yuv422' not supported; expected one of rgb8, bgr8")

    stream.send(12.0, depth=scene.depth_msg(12.0, np.full((24, 32), 2.0)))
    stream.wait_warning("colour image is 64x48 but depth is 32x24")

    stream.send(13.0, depth=scene.depth_msg(13.0, np.full((scene.H, scene.W), np.nan)))
    stream.wait_warning("only 0.0% of depth pixels are valid")

    stream.send(14.0, tf=False)  # TF stops at 13 s
    stream.wait_warning("no pose of 'camera_optical' in 'map' at 14.000 s within 0.2 s")

    stream.send(15.0, depth=scene.depth_msg(15.0, frame_id="unknown_frame"))
    stream.wait_warning("frame 'unknown_frame' does not exist")

    assert frame_clouds == []  # nothing got through so far
    stream.send(20.0)
    ros.wait_until(lambda: frame_clouds, what="a good frame after the bad ones")
    ros.wait_until(lambda: instances and len(instances[-1].instances) == 2, what="instances of the good frame")

    stream.send(18.0)  # time goes backwards: map and TF buffer are reset, so this frame has no pose
    stream.wait_warning("time went backwards (20.000 s -> 18.000 s), e.g. a bag loop; resetting the map")
    ros.wait_until(lambda: instances[-1].instances == [], what="the cleared instances")
    stream.send(18.5)  # the stream goes on after the jump
    ros.wait_until(lambda: len(frame_clouds) == 2, what="the first frame after the reset")
    assert node.segmenter.num_frames == 1  # the reset cleared the frame before

    stream.send(18.5)
    stream.wait_warning("frame stamp 18.500 s was already processed")

    assert dict(node.stats.skipped) == {
        "camera_info": 1, "encoding": 1, "size_mismatch": 1, "depth": 1, "tf": 3, "duplicate": 1,
    }
    reply = ros.call(tester, Trigger, "/samosaic3d_node/reset", Trigger.Request())
    assert reply.success  # still answering


def test_warnings_are_throttled_per_kind(ros, tmp_path):
    node = start_node(ros, tmp_path, warn_throttle=30.0)
    tester = ros.tester()
    stream = Stream(ros, tester)
    for t in (1.0, 2.0, 3.0):
        stream.send(t, depth=scene.depth_msg(t, np.zeros((scene.H, scene.W))))
        ros.wait_until(lambda: node.stats.skipped["depth"] == t, what=f"skip of frame {t}")
    stream.send(4.0, tf=False, depth=scene.depth_msg(4.0, frame_id="unknown_frame"))
    stream.wait_warning("does not exist")  # another kind still gets through
    assert sum("of depth pixels are valid" in w for w in stream.warnings()) == 1


def test_time_jump_skip_policy(ros, tmp_path):
    node = start_node(ros, tmp_path, on_time_jump="skip")
    tester = ros.tester()
    frame_clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    stream = Stream(ros, tester)
    stream.send(30.0)
    ros.wait_until(lambda: frame_clouds, what="the first frame")
    stream.send(29.0)
    stream.wait_warning("skipping older frames (on_time_jump: skip)")
    assert node.segmenter.num_frames == 1 and len(frame_clouds) == 1
