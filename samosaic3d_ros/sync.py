"""Approximate-time synchronisation: ``message_filters`` when installed, else a fallback of the same shape.

    color = Subscriber(node, Image, "color/image_raw", qos_profile=qos)
    depth = Subscriber(node, Image, "depth/image_raw", qos_profile=qos)
    sync = ApproximateTimeSynchronizer([color, depth], queue_size=10, slop=0.02)
    sync.registerCallback(on_pair)          # on_pair(color_msg, depth_msg)

Fallback policy: each input keeps its ``queue_size`` newest messages by header stamp.
When a message arrives, every other input's message closest in time is taken; if all
exist and their stamps span at most ``slop`` seconds, the set is emitted and those
messages, and everything older in each queue, are dropped (sets come out in time order).
"""

from __future__ import annotations

import threading

from samosaic3d_ros.stamps import header_ns, seconds_to_ns


class _Signal:
    """``registerCallback`` / ``signalMessage`` as message_filters' SimpleFilter has them."""

    def __init__(self):
        self._callbacks: list = []

    def registerCallback(self, callback, *args):  # noqa: N802 (message_filters' name)
        self._callbacks.append((callback, args))

    def signalMessage(self, *msgs):  # noqa: N802
        for callback, args in list(self._callbacks):
            callback(*(msgs + args))


class FallbackSubscriber(_Signal):
    """A subscription whose messages go to the registered callbacks."""

    def __init__(self, node, msg_type, topic: str, qos_profile=10, **kwargs):
        super().__init__()
        self.node, self.topic = node, topic
        self.sub = node.create_subscription(msg_type, topic, self.signalMessage, qos_profile, **kwargs)


class FallbackApproximateTimeSynchronizer(_Signal):
    """Emits one message per input whose header stamps lie within ``slop`` seconds of each other."""

    def __init__(self, fs, queue_size: int, slop: float, allow_headerless: bool = False):
        super().__init__()
        if allow_headerless:
            raise ValueError("the fallback synchronizer needs header stamps (allow_headerless=False)")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.queue_size = int(queue_size)
        self.slop_ns = seconds_to_ns(slop)
        self.queues: list[dict[int, object]] = [{} for _ in fs]
        self._lock = threading.Lock()
        for index, source in enumerate(fs):
            source.registerCallback(self.add, index)

    def add(self, msg, index: int) -> None:
        """Queue ``msg`` of input ``index`` and emit a matching set if one is complete."""
        t_ns = header_ns(msg)
        with self._lock:
            queue = self.queues[index]
            queue[t_ns] = msg
            while len(queue) > self.queue_size:
                del queue[min(queue)]
            chosen = []
            for other, other_queue in enumerate(self.queues):
                if other == index:
                    chosen.append(t_ns)
                    continue
                if not other_queue:
                    return
                chosen.append(min(other_queue, key=lambda s: abs(s - t_ns)))
            if max(chosen) - min(chosen) > self.slop_ns:
                return
            msgs = tuple(q[s] for q, s in zip(self.queues, chosen))
            for q, s in zip(self.queues, chosen):
                for stale in [k for k in q if k <= s]:
                    del q[stale]
        self.signalMessage(*msgs)


try:  # a ROS distribution's message_filters, when installed
    from message_filters import ApproximateTimeSynchronizer, Subscriber  # noqa: F401

    USING_MESSAGE_FILTERS = True
except ImportError:
    ApproximateTimeSynchronizer, Subscriber = FallbackApproximateTimeSynchronizer, FallbackSubscriber
    USING_MESSAGE_FILTERS = False
