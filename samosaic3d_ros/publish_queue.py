"""Publishing off the worker's critical path.

The worker hands each frame's outputs to ``PublishQueue`` and goes on to the next frame; one
publisher thread packs and publishes them in order. While it is busy, a newer frame's job replaces
an older pending one (its frame cloud is then never sent: the map and instance topics only ever
show the newest state), but a map snapshot is carried into the newer job when that has none, and a
"cleared" job (after a reset) is never merged: it drops the pending frame jobs and is published
before anything that follows it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable


@dataclass
class PublishJob:
    """What one publish pass sends; ``None`` parts are not sent."""

    header: Any  # std_msgs/Header in the map frame
    instances: Any = None  # Instances: scores of the frame cloud, and /instances when publish_instances
    publish_instances: bool = False
    scene_map: Any = None  # SceneMap for /instances/cloud
    map_frames: int = 0  # frames the map snapshot holds (reported with its size in the diagnostics)
    frame: Any = None  # (StepResult, colour image header, rgb) for the frame cloud and overlay
    cleared: bool = False  # publish the "map cleared" messages (nothing else)


def merged(old: PublishJob, new: PublishJob) -> PublishJob:
    """``new``, keeping what of ``old`` is still news: its map snapshot and its /instances flag."""
    return replace(
        new,
        scene_map=new.scene_map if new.scene_map is not None else old.scene_map,
        map_frames=new.map_frames if new.scene_map is not None else old.map_frames,
        publish_instances=new.publish_instances or old.publish_instances,
    )


class PublishQueue:
    """One thread calling ``publish(job)`` for submitted jobs; ``on_error(exc)`` if it raises."""

    def __init__(self, publish: Callable[[PublishJob], None], on_error: Callable[[BaseException], None],
                 name: str = "samosaic3d_publisher"):
        self._publish, self._on_error = publish, on_error
        self._jobs: deque[PublishJob] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self.coalesced = 0  # frame jobs replaced by a newer one before they were published
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: PublishJob) -> None:
        with self._cond:
            if self._closed:
                return
            if job.cleared:
                self.coalesced += sum(1 for pending in self._jobs if not pending.cleared)
                self._jobs = deque(pending for pending in self._jobs if pending.cleared)
                self._jobs.append(job)
            elif self._jobs and not self._jobs[-1].cleared:
                self._jobs[-1] = merged(self._jobs[-1], job)
                self.coalesced += 1
            else:
                self._jobs.append(job)
            self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted job is published; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the job in hand; pending jobs are dropped."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._jobs.popleft()
                self._busy = True
            try:
                self._publish(job)
            except Exception as exc:  # noqa: BLE001 - a failed publish must not stop the thread
                self._on_error(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
