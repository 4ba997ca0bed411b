"""The short-term tier of the scene memory: a FIFO of the most recently merged map ids.

Ids that leave it (pushed out beyond its capacity, or removed) are long-term; ``SceneMemory``
records the tier of every id (0 = short-term, 1 = long-term) in its instance table.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable


class ShortTermTier:
    """Up to ``capacity`` map ids, least recently merged first."""

    def __init__(self, capacity: int, ids: Iterable[int] = ()):
        self.capacity = capacity
        self._ids: OrderedDict[int, None] = OrderedDict((int(i), None) for i in ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, map_id: int) -> bool:
        return map_id in self._ids

    def ids(self) -> list[int]:
        """The ids, least recently merged first."""
        return list(self._ids)

    def touch(self, map_id: int) -> tuple[bool, list[int]]:
        """Put ``map_id`` at the newest end; returns whether it was added (not there before) and the
        ids pushed out beyond the capacity, oldest first."""
        added = map_id not in self._ids
        if added:
            self._ids[map_id] = None
        else:
            self._ids.move_to_end(map_id)
        return added, self.trim()

    def trim(self) -> list[int]:
        """Remove the oldest ids beyond the capacity; returns them, oldest first."""
        pushed_out = []
        while len(self._ids) > self.capacity:
            pushed_out.append(self._ids.popitem(last=False)[0])
        return pushed_out

    def remove(self, map_id: int) -> None:
        del self._ids[map_id]
