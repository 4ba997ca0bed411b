import pytest

from test.ros.ros_env import require_ros

require_ros()

from sensor_msgs.msg import Image  # noqa: E402

from samosaic3d_ros.stamps import seconds_to_stamp  # noqa: E402
from samosaic3d_ros.sync import FallbackApproximateTimeSynchronizer, FallbackSubscriber  # noqa: E402


class StubNode:
    """Records create_subscription calls; ``deliver`` plays the executor."""

    def __init__(self):
        self.subs = {}

    def create_subscription(self, msg_type, topic, callback, qos, **kwargs):
        self.subs[topic] = (msg_type, callback, qos, kwargs)
        return topic

    def deliver(self, topic, msg):
        self.subs[topic][1](msg)


def image(t: float, tag: str) -> Image:
    msg = Image(encoding=tag)
    msg.header.stamp = seconds_to_stamp(t)
    return msg


@pytest.fixture
def setup():
    node = StubNode()
    color = FallbackSubscriber(node, Image, "color", qos_profile=5, callback_group="g")
    depth = FallbackSubscriber(node, Image, "depth", qos_profile=5)
    sync = FallbackApproximateTimeSynchronizer([color, depth], queue_size=3, slop=0.02)
    pairs = []
    sync.registerCallback(lambda c, d, extra: pairs.append((c.encoding, d.encoding, extra)), "x")
    return node, pairs


def test_subscriber_passes_qos_and_kwargs(setup):
    node, _ = setup
    assert node.subs["color"][2:] == (5, {"callback_group": "g"})


def test_pairs_within_slop_in_time_order(setup):
    node, pairs = setup
    node.deliver("color", image(1.000, "c1"))
    node.deliver("color", image(1.100, "c2"))
    node.deliver("depth", image(1.105, "d2"))  # closest colour is c2
    node.deliver("depth", image(1.200, "d3"))  # no colour within 20 ms
    node.deliver("color", image(1.215, "c3"))
    assert pairs == [("c2", "d2", "x"), ("c3", "d3", "x")]


def test_older_messages_are_dropped_after_a_match(setup):
    node, pairs = setup
    node.deliver("color", image(1.0, "c1"))
    node.deliver("color", image(2.0, "c2"))
    node.deliver("depth", image(2.0, "d2"))
    node.deliver("depth", image(1.0, "d1"))  # c1 was dropped with the 2.0 match
    assert pairs == [("c2", "d2", "x")]


def test_queue_size_bounds_each_input(setup):
    node, pairs = setup
    for k in range(5):
        node.deliver("color", image(1.0 + k, f"c{k}"))
    node.deliver("depth", image(1.0, "d0"))  # c0 fell out of the 3-deep queue
    node.deliver("depth", image(3.0, "d2"))
    assert pairs == [("c2", "d2", "x")]


def test_headerless_is_refused():
    with pytest.raises(ValueError, match="needs header stamps"):
        FallbackApproximateTimeSynchronizer([], 3, 0.1, allow_headerless=True)
