"""reset, save_map and load_map called in a loop while frames stream in: every call answered, no deadlock,
the map consistent after each, with either executor the node can spin."""

import re
import threading
import time

import numpy as np

from test.ros.ros_env import require_ros

require_ros()

from samosaic3d_msgs.srv import LoadMap, SaveMap  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.ros.fake_segmenter import FakeSegmenter  # noqa: E402
from test.ros.node_io import Stream, start_node  # noqa: E402

ROUNDS = 8


class SlowSegmenter(FakeSegmenter):
    """Takes 30 ms a frame, so that services often arrive while a frame is being segmented."""

    def step(self, frame):
        time.sleep(0.03)
        return super().step(frame)


def consistent(segmenter: FakeSegmenter, lock=None) -> bool:
    """The map's columns agree and every instance it reports has points (read under the node's lock:
    a frame being fused is half-written until the worker lets go)."""
    if lock is not None:
        with lock:
            return consistent(segmenter)
    n = len(segmenter.xyz)
    ids = set(np.unique(segmenter.ids).tolist()) - {0}
    return len(segmenter.rgb) == n == len(segmenter.ids) and set(segmenter.instances().ids.tolist()) <= ids


def test_services_in_a_loop_while_streaming(ros_either_executor, tmp_path):
    ros = ros_either_executor
    map_dir = tmp_path / "maps"
    node = start_node(ros, map_dir, segmenter_factory=SlowSegmenter, instances_rate=0.0, map_cloud_rate=2.0)
    tester = ros.tester()
    clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    stream = Stream(ros, tester)
    stop = threading.Event()

    def feed():
        t = 10.0
        while not stop.is_set():
            stream.send(t)
            t += 0.05
            time.sleep(0.03)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        ros.wait_until(lambda: clouds, timeout=10.0, what="the first frame")
        for k in range(ROUNDS):
            saved = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="loop"), timeout=10.0)
            assert saved.success, saved.message
            reference = FakeSegmenter()
            reference.load(map_dir / "loop.npz")  # what was saved is a whole, loadable map
            assert consistent(reference)
            count = int(re.search(r"saved (\d+) instances", saved.message).group(1))
            assert count == len(reference.instances())

            reset = ros.call(tester, Trigger, "/samosaic3d_node/reset", Trigger.Request(), timeout=10.0)
            assert reset.success and consistent(node.segmenter, node._segmenter_lock)

            loaded = ros.call(tester, LoadMap, "/samosaic3d_node/load_map", LoadMap.Request(path="loop"),
                              timeout=10.0)
            assert loaded.success and loaded.message.startswith(f"loaded {count} instances"), loaded.message
            assert consistent(node.segmenter, node._segmenter_lock)
        frames_before = len(clouds)
        ros.wait_until(lambda: len(clouds) > frames_before + 2, timeout=10.0, what="frames after the service loop")
    finally:
        stop.set()
        feeder.join(timeout=5.0)
    assert node._worker.is_alive() and consistent(node.segmenter, node._segmenter_lock)
