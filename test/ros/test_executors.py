"""samosaic3d_ros.executors.MultiThreadedExecutor: while a subscription's callback waits in the thread
pool, the executor thread blocks in its wait instead of looping; messages and QoS events still arrive."""

import threading
import time

import pytest

from test.ros.ros_env import require_ros

require_ros()

import rclpy  # noqa: E402
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup  # noqa: E402
from rclpy.event_handler import SubscriptionEventCallbacks  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from samosaic3d_ros.executors import MultiThreadedExecutor  # noqa: E402
from test.ros.conftest import RosHarness, next_domain_id  # noqa: E402


class Spinning:
    """``executor`` spun by ``spin_once`` in a thread that records (wall, its own CPU) after every turn."""

    def __init__(self, executor):
        self.executor, self.samples, self._stop = executor, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)
            self.samples.append((time.monotonic(), time.thread_time()))

    def cpu_share(self, start: float, end: float) -> float:
        """CPU seconds the executor thread used per wall second between two of its turns in [start, end]."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        assert len(inside) >= 2, f"the executor thread turned {len(inside)} times in {end - start:.1f} s"
        (w0, c0), (w1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (w1 - w0)

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=5.0)


@pytest.fixture
def context():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=next_domain_id())
    yield context
    context.try_shutdown()


@pytest.mark.filterwarnings("ignore:MultiThreadedExecutor is used with a single thread")
def test_a_queued_callback_leaves_the_executor_thread_waiting_and_its_message_arrives(context):
    node = Node("queued", context=context)
    gate, busy, received = threading.Event(), threading.Event(), []

    def occupy_the_pool(_msg):
        busy.set()
        gate.wait(10.0)

    node.create_subscription(String, "a", occupy_the_pool, 10, callback_group=MutuallyExclusiveCallbackGroup())
    queued = node.create_subscription(String, "b", received.append, 10, callback_group=MutuallyExclusiveCallbackGroup())
    assert queued.event_handlers, "rclpy gives every subscription its default QoS event handlers"
    publish_a, publish_b = node.create_publisher(String, "a", 10), node.create_publisher(String, "b", 10)
    executor = MultiThreadedExecutor(num_threads=1, context=context)  # one pool thread: "a" keeps it busy
    executor.add_node(node)
    spinning = Spinning(executor)
    try:
        wait = RosHarness.wait_until
        wait(lambda: publish_a.get_subscription_count() and publish_b.get_subscription_count(), what="matching")
        publish_a.publish(String(data="hold"))
        wait(busy.is_set, what="the pool thread to be taken")
        publish_b.publish(String(data="queued"))
        wait(lambda: queued._executor_event, what="b's callback to be queued")  # handed to the busy pool
        start = time.monotonic()
        time.sleep(1.0)
        share = spinning.cpu_share(start, time.monotonic())
        assert not received
        gate.set()
        wait(lambda: received, what="b's message once the pool thread is free")
    finally:
        gate.set()
        spinning.stop()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
    # rclpy's own MultiThreadedExecutor with Fast DDS loops here at a whole core (share ~1)
    assert share < 0.25, f"the executor thread used {share:.0%} of a core while b's callback was queued"
    assert [m.data for m in received] == ["queued"]


@pytest.mark.filterwarnings("ignore:Deprecated in favor of:DeprecationWarning")  # rclpy's default QoS warning
def test_qos_events_still_reach_their_callbacks(context):
    node = Node("events", context=context)
    incompatible = []
    node.create_subscription(String, "c", lambda _m: None, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
                             event_callbacks=SubscriptionEventCallbacks(incompatible_qos=incompatible.append))
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    spinning = Spinning(executor)
    try:
        node.create_publisher(String, "c", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        RosHarness.wait_until(lambda: incompatible, what="the incompatible-QoS event of a best-effort publisher")
    finally:
        spinning.stop()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
    assert incompatible[0].total_count >= 1
