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

import weakref

from rclpy.event_handler import EventHandler
from rclpy.executors import MultiThreadedExecutor as _RclpyMultiThreadedExecutor
from rclpy.subscription import Subscription


class MultiThreadedExecutor(_RclpyMultiThreadedExecutor):
    """rclpy's ``MultiThreadedExecutor`` whose wait set holds a subscription's QoS event handlers only
    while it holds the subscription."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # event handler -> weak reference to its subscription; entries go with their handlers
        self._event_owner: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def can_execute(self, entity) -> bool:
        # every turn asks about each node's subscriptions before its waitables, so a handler's owner
        # is known by the time the handler is asked about
        if isinstance(entity, Subscription):
            for handler in getattr(entity, "event_handlers", ()):
                self._event_owner[handler] = weakref.ref(entity)
        if not super().can_execute(entity):
            return False
        if isinstance(entity, EventHandler):
            owner = self._event_owner.get(entity)
            subscription = owner() if owner is not None else None
            return subscription is None or not subscription._executor_event
        return True
