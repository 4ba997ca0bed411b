"""bench/join_flaps.py: joins that a later split undoes, and joins repeated into one id."""

import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import join_flaps  # noqa: E402


def test_a_split_of_the_joined_size_undoes_the_join():
    events = [("join", 3, 100), ("split", 3, 120), ("join", 3, 110), ("split", 3, 20), ("split", 4, 100)]
    assert join_flaps.count_flaps(events) == (2, 1, 1), "120 is within 30 % of 100; 20 is not; id 4 joined nothing"
    assert join_flaps.count_flaps(events, tolerance=0.1) == (2, 0, 1)
    assert join_flaps.count_flaps([]) == (0, 0, 0)


def test_the_memory_records_its_structural_joins(monkeypatch):
    from samosaic3d_core import memory_revision
    from test.core.test_memory_supports import TOP, block, supports_memory
    from test.core.test_memory import step

    for name in ("merge", "_split_off", *join_flaps.JOINS):  # restored after the test
        monkeypatch.setattr(memory_revision.MapRevision, name, getattr(memory_revision.MapRevision, name))
    events = collections.defaultdict(list)
    join_flaps.record(events)  # the wrappers go when monkeypatch puts the methods back
    legs = [[(x, y, z) for z in range(1, 7)] for x, y in ((3, 3), (9, 3), (3, 9), (9, 9))]
    memory = supports_memory()
    step(memory, [block((0, 15), (0, 15), (0, 1)), TOP, *legs])
    (recorded,) = events.values()
    assert sorted(size for kind, _, size in recorded if kind == "join") == [6, 6, 6, 6]
    assert np.unique([map_id for _, map_id, _ in recorded]).size == 1, "all four into the top"
