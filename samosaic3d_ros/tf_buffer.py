"""Transform lookups: ``tf2_ros.Buffer`` / ``TransformListener`` when installed, else a fallback of the same shape.

The fallback keeps, per child frame, its parent and a time-sorted history of transforms
(fed from ``/tf``; ``/tf_static`` ones are timeless), bounded by ``cache_time`` and a
maximum number of entries. ``lookup_transform(target, source, time, timeout)`` chains
transforms through the frame tree, interpolates each link at ``time`` (linear
translation, slerp rotation), treats time 0 as "latest time all links share", and raises
``LookupException`` / ``ConnectivityException`` / ``ExtrapolationException`` (all
``TransformException``) with a message saying what is missing. It waits up to
``timeout`` for data to arrive. A frame that changes parent keeps only its new history.

Whichever backend is used, ``transform_to_matrix`` turns the result into a 4x4 matrix.
"""

from __future__ import annotations

import bisect
import threading
import time as _time
from dataclasses import dataclass, field

import numpy as np

from samosaic3d_ros.stamps import NS_PER_S, seconds_to_ns, stamp_to_ns


class FallbackTransformException(Exception):
    """A transform lookup failed."""


class FallbackLookupException(FallbackTransformException):
    """A frame is unknown."""


class FallbackConnectivityException(FallbackTransformException):
    """Both frames are known but not connected in the frame tree."""


class FallbackExtrapolationException(FallbackTransformException):
    """The requested time lies outside the buffered history of a link."""


# --- rotation helpers, quaternions are (x, y, z, w) ----------------------------------------



QUATERNION_TOLERANCE = 1e-2
"""Transforms whose rotation's squared norm is further than this from 1 are ignored (tf2's
``TF_DENORMALIZED_QUATERNION``): a non-unit quaternion is a broken sender, not a rotation."""

def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (x, y, z, w) -> (3, 3) rotation matrix."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix -> (4,) unit quaternion (x, y, z, w) with w >= 0."""
    m = np.asarray(rot, np.float64)
    # the largest of the four squared components gives the best-conditioned solution
    sq = np.array([1 + m[0, 0] - m[1, 1] - m[2, 2], 1 - m[0, 0] + m[1, 1] - m[2, 2],
                   1 - m[0, 0] - m[1, 1] + m[2, 2], 1 + m[0, 0] + m[1, 1] + m[2, 2]])  # 4x^2, 4y^2, 4z^2, 4w^2
    i = int(np.argmax(sq))
    s = 2.0 * np.sqrt(max(sq[i], 1e-300))
    if i == 0:
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif i == 1:
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    elif i == 2:
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    else:
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    q = np.array(q)
    return q if q[3] >= 0 else -q


def slerp(q0: np.ndarray, q1: np.ndarray, ratio: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions, ``ratio`` in [0, 1], shortest arc."""
    q0, q1 = np.asarray(q0, np.float64), np.asarray(q1, np.float64)
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly parallel: normalised lerp is exact enough and stable
        q = q0 + ratio * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - ratio) * theta) * q0 + np.sin(ratio * theta) * q1) / np.sin(theta)


def transform_to_matrix(transform) -> np.ndarray:
    """(4, 4) float64 matrix of a ``geometry_msgs/TransformStamped`` (or ``Transform``)."""
    tf = getattr(transform, "transform", transform)
    matrix = np.eye(4)
    r = tf.rotation
    matrix[:3, :3] = quat_to_matrix([r.x, r.y, r.z, r.w])
    matrix[:3, 3] = [tf.translation.x, tf.translation.y, tf.translation.z]
    return matrix


def _to_ns(stamp) -> int:
    """Nanoseconds of an rclpy Time/Duration, a builtin_interfaces Time/Duration, or float seconds."""
    if hasattr(stamp, "nanoseconds"):
        return int(stamp.nanoseconds)
    if hasattr(stamp, "sec"):
        return stamp_to_ns(stamp)
    return seconds_to_ns(stamp)


# --- the fallback buffer -----------------------------------------------------------------------


@dataclass
class _Link:
    """How one child frame hangs off its parent over time."""

    parent: str
    static: bool
    stamps: list = field(default_factory=list)  # sorted int ns
    translations: list = field(default_factory=list)  # (3,) float64 each
    rotations: list = field(default_factory=list)  # (4,) xyzw each

    def at(self, t_ns: int, child: str) -> np.ndarray:
        """(4, 4) parent<-child at ``t_ns`` (any time for static links)."""
        if self.static:
            return _matrix(self.translations[0], self.rotations[0])
        stamps = self.stamps
        if t_ns < stamps[0] or t_ns > stamps[-1]:
            raise FallbackExtrapolationException(
                f"transform {self.parent} -> {child} requested at {t_ns * 1e-9:.9f} s but only available "
                f"from {stamps[0] * 1e-9:.9f} to {stamps[-1] * 1e-9:.9f} s"
            )
        j = bisect.bisect_left(stamps, t_ns)
        if stamps[j] == t_ns:
            return _matrix(self.translations[j], self.rotations[j])
        ratio = (t_ns - stamps[j - 1]) / (stamps[j] - stamps[j - 1])
        translation = self.translations[j - 1] + ratio * (self.translations[j] - self.translations[j - 1])
        return _matrix(translation, slerp(self.rotations[j - 1], self.rotations[j], ratio))


def _matrix(translation: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = quat_to_matrix(rotation)
    matrix[:3, 3] = translation
    return matrix


def pose_to_matrix(pose) -> np.ndarray:
    """4x4 of a ``geometry_msgs/Pose``."""
    p, q = pose.position, pose.orientation
    return _matrix(np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w]))


class FallbackBuffer:
    """A ``tf2_ros.Buffer`` look-alike: ``set_transform``, ``lookup_transform``, ``can_transform``, ``clear``.

    cache_time:  history kept per dynamic link (rclpy Duration or seconds; default 10 s)
    max_entries: hard bound on the history length per link
    """

    def __init__(self, cache_time=None, node=None, max_entries: int = 10000):
        self.cache_ns = _to_ns(cache_time) if cache_time is not None else 10_000_000_000
        self.max_entries = int(max_entries)
        self._links: dict[str, _Link] = {}
        self._changed = threading.Condition()

    # feeding ------------------------------------------------------------------------------
    def set_transform(self, transform, authority: str = "") -> bool:
        return self._insert(transform, static=False)

    def set_transform_static(self, transform, authority: str = "") -> bool:
        return self._insert(transform, static=True)

    def _insert(self, transform, static: bool) -> bool:
        parent = transform.header.frame_id.lstrip("/")
        child = transform.child_frame_id.lstrip("/")
        if not parent or not child or parent == child:
            return False
        tr, rot = transform.transform.translation, transform.transform.rotation
        translation = np.array([tr.x, tr.y, tr.z], np.float64)
        rotation = np.array([rot.x, rot.y, rot.z, rot.w], np.float64)
        if not (np.all(np.isfinite(translation)) and np.all(np.isfinite(rotation))):
            return False
        if abs(float(rotation @ rotation) - 1.0) > QUATERNION_TOLERANCE:  # tf2 ignores these too
            return False
        rotation /= np.linalg.norm(rotation)
        t_ns = _to_ns(transform.header.stamp)
        with self._changed:
            link = self._links.get(child)
            if link is None or link.parent != parent or link.static != static:
                link = self._links[child] = _Link(parent, static)
            if static:
                link.stamps, link.translations, link.rotations = [t_ns], [translation], [rotation]
            else:
                j = bisect.bisect_left(link.stamps, t_ns)
                if j < len(link.stamps) and link.stamps[j] == t_ns:  # same stamp: replace
                    link.translations[j], link.rotations[j] = translation, rotation
                else:
                    link.stamps.insert(j, t_ns)
                    link.translations.insert(j, translation)
                    link.rotations.insert(j, rotation)
                self._prune(link)
            self._changed.notify_all()
        return True

    def _prune(self, link: _Link) -> None:
        oldest_kept = link.stamps[-1] - self.cache_ns
        drop = max(bisect.bisect_left(link.stamps, oldest_kept), len(link.stamps) - self.max_entries)
        if drop > 0:
            del link.stamps[:drop], link.translations[:drop], link.rotations[:drop]

    def clear(self) -> None:
        """Forget all dynamic transforms (static ones stay), e.g. after time jumped backwards."""
        with self._changed:
            self._links = {child: link for child, link in self._links.items() if link.static}

    # querying -----------------------------------------------------------------------------
    def all_frames(self) -> list[str]:
        with self._changed:
            return sorted(self._frames())

    def _frames(self) -> set[str]:
        return set(self._links) | {link.parent for link in self._links.values()}

    def can_transform(self, target_frame: str, source_frame: str, time, timeout=0.0) -> bool:
        try:
            self.lookup_transform(target_frame, source_frame, time, timeout)
            return True
        except FallbackTransformException:
            return False

    def lookup_transform(self, target_frame: str, source_frame: str, time, timeout=0.0):
        """``geometry_msgs/TransformStamped`` mapping points of ``source_frame`` into ``target_frame``.

        time: rclpy Time / builtin Time / seconds; 0 = the latest time all links share.
        timeout: how long to wait for missing data (rclpy Duration or seconds).
        """
        deadline = _time.monotonic() + _to_ns(timeout) * 1e-9
        with self._changed:
            while True:
                try:
                    matrix, t_ns = self._lookup(target_frame.lstrip("/"), source_frame.lstrip("/"), _to_ns(time))
                    break
                except FallbackTransformException:
                    remaining = deadline - _time.monotonic()
                    if remaining <= 0:
                        raise
                    self._changed.wait(remaining)
        return transform_stamped(matrix, target_frame, source_frame, t_ns)

    def lookup_matrix(self, target_frame: str, source_frame: str, time) -> np.ndarray:
        """(4, 4) target<-source matrix at ``time`` without waiting (no ROS message types needed)."""
        with self._changed:
            return self._lookup(target_frame.lstrip("/"), source_frame.lstrip("/"), _to_ns(time))[0]

    def _chain(self, frame: str) -> list[str]:
        """[frame, parent, grandparent, ..., root]."""
        chain = [frame]
        while chain[-1] in self._links:
            chain.append(self._links[chain[-1]].parent)
            if len(chain) > len(self._links) + 1:
                raise FallbackLookupException(f"frame tree has a loop through '{frame}'")
        return chain

    def _lookup(self, target: str, source: str, t_ns: int) -> tuple[np.ndarray, int]:
        known = self._frames()
        for name in (target, source):
            if name not in known:
                raise FallbackLookupException(
                    f"frame '{name}' does not exist (known frames: {', '.join(sorted(known)) or 'none'})"
                )
        if target == source:
            return np.eye(4), t_ns
        source_chain, target_chain = self._chain(source), self._chain(target)
        common = next((f for f in target_chain if f in set(source_chain)), None)
        if common is None:
            raise FallbackConnectivityException(
                f"frames '{target}' and '{source}' are not connected (roots '{target_chain[-1]}' and "
                f"'{source_chain[-1]}')"
            )
        up_source = source_chain[: source_chain.index(common)]  # frames whose link we walk from source
        up_target = target_chain[: target_chain.index(common)]
        if t_ns == 0:  # latest common time of the dynamic links
            dynamic = [self._links[f].stamps[-1] for f in up_source + up_target if not self._links[f].static]
            t_ns = min(dynamic) if dynamic else 0
        common_from_source, common_from_target = np.eye(4), np.eye(4)
        for frame in up_source:  # accumulate common<-source
            common_from_source = self._links[frame].at(t_ns, frame) @ common_from_source
        for frame in up_target:
            common_from_target = self._links[frame].at(t_ns, frame) @ common_from_target
        return np.linalg.inv(common_from_target) @ common_from_source, t_ns


def transform_stamped(matrix: np.ndarray, target: str, source: str, t_ns: int):
    from geometry_msgs.msg import TransformStamped

    out = TransformStamped()
    out.header.frame_id, out.child_frame_id = target, source
    out.header.stamp.sec, out.header.stamp.nanosec = divmod(int(t_ns), NS_PER_S)
    out.transform.translation.x, out.transform.translation.y, out.transform.translation.z = (
        float(v) for v in matrix[:3, 3]
    )
    q = matrix_to_quat(matrix[:3, :3])
    rot = out.transform.rotation
    rot.x, rot.y, rot.z, rot.w = (float(v) for v in q)
    return out


class FallbackTransformListener:
    """Feeds a buffer from ``/tf`` and ``/tf_static`` (``tf2_msgs/TFMessage``), like ``tf2_ros.TransformListener``.

    The callbacks run in ``node``'s executor (``spin_thread`` is accepted and ignored).
    """

    def __init__(self, buffer, node, *, spin_thread: bool = False, qos=None, static_qos=None):
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from tf2_msgs.msg import TFMessage

        self.buffer, self.node = buffer, node
        qos = qos or QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        static_qos = static_qos or QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.tf_sub = node.create_subscription(TFMessage, "/tf", self._on_tf, qos)
        self.tf_static_sub = node.create_subscription(TFMessage, "/tf_static", self._on_tf_static, static_qos)

    def _on_tf(self, msg) -> None:
        for transform in msg.transforms:
            self.buffer.set_transform(transform, "default_authority")

    def _on_tf_static(self, msg) -> None:
        for transform in msg.transforms:
            self.buffer.set_transform_static(transform, "default_authority")

    def unregister(self) -> None:
        self.node.destroy_subscription(self.tf_sub)
        self.node.destroy_subscription(self.tf_static_sub)


try:  # a ROS distribution's tf2_ros, when installed
    from tf2_ros import Buffer, TransformException, TransformListener  # noqa: F401

    USING_TF2_ROS = True
except ImportError:
    Buffer, TransformListener = FallbackBuffer, FallbackTransformListener
    TransformException = FallbackTransformException
    USING_TF2_ROS = False
