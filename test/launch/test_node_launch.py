"""launch_testing: the node started from its launch file publishes ``/instances`` and
``/instances/detections`` for a synthetic posed RGB-D stream.

Runs in a ROS 2 install with the package built (``colcon test``, or ``launch_test`` on this file);
skipped where ``launch_testing`` is not importable (the PyPI set-up has no launch packages).
"""

import os
import time
import unittest

import pytest

launch_testing = pytest.importorskip("launch_testing")
pytest.importorskip("launch_ros")

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import rclpy  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from samosaic3d_msgs.msg import InstanceArray  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from vision_msgs.msg import Detection3DArray  # noqa: E402

from test.ros import scene  # noqa: E402

CAMERA = "/camera"
FRAMES = 6


@pytest.mark.launch_test
def generate_test_description():
    launch_file = os.path.join(get_package_share_directory("samosaic3d"), "launch", "samosaic3d.launch.py")
    include = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(launch_file), launch_arguments={"camera": CAMERA}.items()
    )
    return launch.LaunchDescription([include, launch_testing.actions.ReadyToTest()])


class TestOutputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node("samosaic3d_launch_test")

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_instances_and_detections_follow_the_stream(self):
        node = self.node
        instances, detections = [], []
        node.create_subscription(InstanceArray, "/instances", instances.append, 10)
        node.create_subscription(Detection3DArray, "/instances/detections", detections.append, 10)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        color = node.create_publisher(Image, f"{CAMERA}/color/image_raw", qos)
        depth = node.create_publisher(Image, f"{CAMERA}/aligned_depth_to_color/image_raw", qos)
        info = node.create_publisher(CameraInfo, f"{CAMERA}/aligned_depth_to_color/camera_info", qos)
        tf = node.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))

        deadline = time.monotonic() + 120.0  # the node loads its models first
        while depth.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        self.assertGreater(depth.get_subscription_count(), 0, "the node never subscribed to the depth image")

        t = time.time()
        sent = 0
        while time.monotonic() < deadline and not (instances and detections):
            if sent < FRAMES:
                stamp = t + 0.1 * sent
                tf.publish(scene.camera_tf_msg(stamp))
                info.publish(scene.camera_info_msg(stamp))
                rclpy.spin_once(node, timeout_sec=0.05)
                color.publish(scene.color_msg(stamp))
                depth.publish(scene.depth_msg(stamp))
                sent += 1
            rclpy.spin_once(node, timeout_sec=0.5)
        self.assertTrue(instances, "no /instances message")
        self.assertTrue(detections, "no /instances/detections message")
        by_stamp = {(m.header.stamp.sec, m.header.stamp.nanosec): m for m in instances}
        for array in detections:
            self.assertEqual(array.header.frame_id, "map")
            matching = by_stamp.get((array.header.stamp.sec, array.header.stamp.nanosec))
            if matching is not None:  # the same map state on both topics: the same persistent ids
                self.assertEqual(sorted(d.id for d in array.detections),
                                 sorted(str(i.id) for i in matching.instances))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
