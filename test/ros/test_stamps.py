from types import SimpleNamespace

from test.ros.ros_env import require_ros

require_ros()

from builtin_interfaces.msg import Time  # noqa: E402

from samosaic3d_ros.stamps import (  # noqa: E402
    header_ns, ns_to_stamp, seconds_to_ns, seconds_to_stamp, stamp_to_ns, stamp_to_seconds,
)


def test_stamp_nanoseconds_round_trip_exactly():
    stamp = Time(sec=1_700_000_123, nanosec=999_999_999)
    assert stamp_to_ns(stamp) == 1_700_000_123_999_999_999
    assert ns_to_stamp(1_700_000_123_999_999_999) == stamp
    assert ns_to_stamp(0) == Time(sec=0, nanosec=0)


def test_seconds_round_to_the_nearest_nanosecond():
    assert seconds_to_ns(1.5) == 1_500_000_000
    assert seconds_to_ns(2.0000000004) == 2_000_000_000
    assert seconds_to_stamp(12.25) == Time(sec=12, nanosec=250_000_000)
    assert stamp_to_seconds(Time(sec=3, nanosec=500_000_000)) == 3.5


def test_any_message_with_sec_and_nanosec_and_any_time_type():
    msg = SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=7, nanosec=5)))
    assert header_ns(msg) == 7_000_000_005
    assert ns_to_stamp(7_000_000_005, SimpleNamespace) == SimpleNamespace(sec=7, nanosec=5)
