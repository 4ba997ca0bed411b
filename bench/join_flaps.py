"""How often the map undoes a structural join: joins later split off again, and joins repeated.

    python bench/join_flaps.py run --data data/synth/hard_val --out /tmp/flaps --masks sim --set masks.sim.seed=0

Runs ``samosaic3d`` with the given arguments (``run``, ``demo``'s offline part or any command that
drives ``SceneMemory``) and records, per memory, every merge made by a structural join (supports
and backrests: the id kept and the size in voxels of what joined it) and every split (the id split
and the size of the part taken off). A split *undoes* a join when it takes from the id that kept
it a part within ``--tolerance`` (30 %) of the joined size; a join is a *repeat* when its id had
kept one before. Prints ``FLAPS joins J split_again S repeat_joins R`` after the command's own
output (docs/map_quality.md, "Legs that stay on their top").
"""

from __future__ import annotations

import collections
import sys

from samosaic3d_core import memory_revision
from samosaic3d_core.cli.main import main as samosaic3d

JOINS = ("_join_supports", "_join_backrests")


def count_flaps(events: list[tuple[str, int, int]], tolerance: float = 0.3) -> tuple[int, int, int]:
    """(joins, splits undoing a join, repeat joins) of one memory's ``events`` in order: ("join", id
    kept, voxels joined) or ("split", id split, voxels taken off)."""
    joined = collections.defaultdict(list)
    joins = undone = repeats = 0
    for kind, map_id, size in events:
        if kind == "join":
            joins += 1
            repeats += bool(joined[map_id])
            joined[map_id].append(size)
        elif any(abs(size - other) <= tolerance * max(size, other) for other in joined[map_id]):
            undone += 1
    return joins, undone, repeats


def record(events: dict[int, list]) -> None:
    """Wrap ``MapRevision``'s merges, splits and structural joins so that they append to
    ``events[id(memory)]``."""
    cls, joining = memory_revision.MapRevision, set()
    merge, split_off = cls.merge, cls._split_off

    def merge_recorded(self, keep, gone):
        if id(self) in joining:
            events[id(self)].append(("join", keep, len(self._member_rows(gone))))
        return merge(self, keep, gone)

    def split_recorded(self, map_id, rows):
        events[id(self)].append(("split", map_id, len(rows)))
        return split_off(self, map_id, rows)

    def joins_recorded(join):
        def wrapper(self, index):
            joining.add(id(self))
            try:
                return join(self, index)
            finally:
                joining.discard(id(self))
        return wrapper

    cls.merge, cls._split_off = merge_recorded, split_recorded
    for name in JOINS:
        setattr(cls, name, joins_recorded(getattr(cls, name)))


def main(argv: list[str]) -> int:
    tolerance = 0.3
    if "--tolerance" in argv:
        at = argv.index("--tolerance")
        tolerance, argv = float(argv[at + 1]), argv[:at] + argv[at + 2:]
    events = collections.defaultdict(list)
    record(events)
    rc = samosaic3d(argv)
    totals = [sum(counts) for counts in zip(*(count_flaps(e, tolerance) for e in events.values()))] or [0, 0, 0]
    print("FLAPS joins {} split_again {} repeat_joins {}".format(*totals))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
