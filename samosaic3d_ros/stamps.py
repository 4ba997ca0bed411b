"""Header stamps: ``builtin_interfaces/Time`` (sec, nanosec) <-> integer nanoseconds <-> float seconds.

The readers take any object with integer ``sec`` and ``nanosec`` fields, so rclpy messages and
the rosbags messages of the bag tools share them.
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def header_ns(msg) -> int:
    """Integer nanoseconds of a stamped message's ``header.stamp``."""
    return stamp_to_ns(msg.header.stamp)


def stamp_to_seconds(stamp) -> float:
    """``builtin_interfaces/Time`` -> float seconds."""
    return int(stamp.sec) + int(stamp.nanosec) * 1e-9


def seconds_to_ns(seconds: float) -> int:
    """Float seconds -> integer nanoseconds (rounded to the nearest)."""
    return int(round(float(seconds) * 1e9))


def ns_to_stamp(ns: int, time_type=None):
    """Integer nanoseconds -> ``time_type(sec=..., nanosec=...)`` (default: ``builtin_interfaces/Time``)."""
    if time_type is None:
        from builtin_interfaces.msg import Time as time_type
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return time_type(sec=sec, nanosec=nanosec)


def seconds_to_stamp(seconds: float):
    """Float seconds -> ``builtin_interfaces/Time``."""
    return ns_to_stamp(seconds_to_ns(seconds))
