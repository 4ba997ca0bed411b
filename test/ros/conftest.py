"""Shared set-up of the ROS tests: isolated DDS traffic and a harness that spins test nodes.

Every test gets its own ROS_DOMAIN_ID (1..101, from the process id and a counter, so that
parallel test runs on one machine rarely meet), discovery stays on this machine
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and logs go to a temporary folder.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from test.ros.ros_env import missing_ros
from test.ros.setup_py import write_package_record

# before any rclpy.init in this process
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="samosaic3d-ros-log-")
os.environ.pop("ROS_LOCALHOST_ONLY", None)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "samosaic3d.yaml"
_domain_counter = itertools.count()


def next_domain_id() -> int:
    return (os.getpid() * 7 + next(_domain_counter)) % 101 + 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.ros)


class RosHarness:
    """One rclpy context on a fresh domain, an executor spinning in a thread (multi-threaded, or the
    single-threaded one ``samosaic3d_node`` spins by default), and waits."""

    def __init__(self, domain_id: int, single_threaded: bool = False):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        from samosaic3d_ros.executors import MultiThreadedExecutor

        self.domain_id = domain_id
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        if single_threaded:
            self.executor = SingleThreadedExecutor(context=self.context)
        else:
            self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.nodes = []
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def tester(self, name: str = "tester"):
        from rclpy.node import Node

        return self.add(Node(name, context=self.context))

    def collect(self, node, msg_type, topic: str, qos=10) -> list:
        received: list = []
        node.create_subscription(msg_type, topic, received.append, qos)
        return received

    @staticmethod
    def wait_until(predicate, timeout: float = 5.0, what="condition"):
        """``predicate()`` once truthy; AssertionError after ``timeout`` s naming ``what`` (a string,
        or a callable giving one then, for a message that shows the state at the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")

    def call(self, node, srv_type, name: str, request, timeout: float = 5.0):
        client = node.create_client(srv_type, name)
        self.wait_until(lambda: client.service_is_ready(), timeout, f"service {name}")
        future = client.call_async(request)
        self.wait_until(future.done, timeout, f"response of {name}")
        return future.result()

    def close(self):
        self.executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=5.0)  # spinning stopped before the nodes' entities are destroyed
        for node in self.nodes:
            node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def ros():
    reason = missing_ros()
    if reason:
        pytest.skip(reason)
    harness = RosHarness(next_domain_id())
    yield harness
    harness.close()


@pytest.fixture(params=["multi_threaded", "single_threaded"])
def ros_either_executor(request):
    """``ros`` once with each executor the node can spin (parameter ``executor``)."""
    reason = missing_ros()
    if reason:
        pytest.skip(reason)
    harness = RosHarness(next_domain_id(), single_threaded=request.param == "single_threaded")
    yield harness
    harness.close()


@pytest.fixture
def ros_commands(tmp_path_factory, monkeypatch):
    """``samosaic3d``'s commands as this checkout's setup.py registers them, whatever was installed before."""
    root = tmp_path_factory.mktemp("package_record")
    write_package_record(root)
    monkeypatch.syspath_prepend(str(root))
