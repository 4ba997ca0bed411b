"""A multi-threaded rclpy executor that waits instead of spinning while a subscription's callback is queued.

rclpy's ``MultiThreadedExecutor`` hands a ready subscription to its thread pool and leaves it out of the
next wait set until that callback has taken the message; the subscription's QoS event handlers
(incompatible QoS, incompatible type: rclpy gives every subscription some) stay in it. With Fast DDS
(rmw_fastrtps) an event waits on its reader's status condition, which also fires while the reader holds
unread data, so each wait returns at once with nothing ready (the rmw skips the wait when a condition is
already triggered, then finds the event inactive). The executor thread then loops without sleeping
until the pool takes the message, and under Python's GIL that loop slows the pool it waits for: a
whole core for seconds at a time, frames lost in transport (ros2/rclpy#1223, ros2/rmw_fastrtps#833).

:class:`MultiThreadedExecutor` keeps a subscription's event handlers out of the wait set for exactly as
long as the subscription itself is out of it (its callback queued or running), so the executor blocks
in the wait as it should. Every other rule of rclpy's executor is unchanged.
"""

from __future__ import annotations

from rclpy.executors import MultiThreadedExecutor as _RclpyMultiThreadedExecutor


class MultiThreadedExecutor(_RclpyMultiThreadedExecutor):
    """rclpy's ``MultiThreadedExecutor`` whose wait set holds a subscription's QoS event handlers only
    while it holds the subscription."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_owner: dict = {}  # id(event handler) -> its subscription
        self._owners_of: tuple = ()  # the subscriptions that map was built from (they keep the ids valid)

    def can_execute(self, entity) -> bool:
        if not super().can_execute(entity):
            return False
        owner = self._owner_of(entity)
        return owner is None or not owner._executor_event

    def _owner_of(self, entity):
        """The subscription whose event handler ``entity`` is, else None."""
        subscriptions = tuple(s for node in self.get_nodes() for s in node.subscriptions)
        if subscriptions != self._owners_of:  # a subscription came or went: map the handlers again
            self._owners_of = subscriptions
            self._event_owner = {id(handler): s for s in subscriptions for handler in getattr(s, "event_handlers", ())}
        return self._event_owner.get(id(entity))
