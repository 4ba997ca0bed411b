"""Supports: pieces that stand on the floor and hold up a larger instance join it."""

import dataclasses

import numpy as np
import pytest

from samosaic3d_core.geometry import VoxelIndex, pack_voxel_keys
from samosaic3d_core.memory_consolidation import ConsolidationConfig
from samosaic3d_core.memory_structure import StructureConfig
from samosaic3d_core.memory_supports import find_support, floor_plane, holds_up, reach_offsets
from test.core.test_memory import VOXEL, memory_with, step

FLOOR_PLANE = np.array([0.0, 0.0, 1.0, -0.05])  # z = 0.05, the centres of the cells at z = 0


def block(x, y, z):
    """Cells of the box x[0]..x[1]-1, y[0]..y[1]-1, z[0]..z[1]-1."""
    return [(i, j, k) for i in range(*x) for j in range(*y) for k in range(*z)]


TOP = block((3, 10), (3, 10), (7, 8))  # a table top, 0.7 m square, at z = 0.75
LEG = block((3, 4), (3, 4), (1, 7))  # under its corner, from the floor up to the top


def holder_of(objects, piece, floor=FLOOR_PLANE, contact=3, floor_tolerance=0.12, footprint=0.5, gap=0.0):
    """``find_support`` of map id ``piece`` in a map whose map id k + 1 owns the cells ``objects[k]``."""
    coords = np.array([c for cells in objects for c in cells], np.int64)
    owner = np.concatenate([np.full(len(cells), k + 1) for k, cells in enumerate(objects)])
    xyz = (coords + 0.5) * VOXEL
    keys = pack_voxel_keys(coords, "test cells")
    sizes = np.array([len(cells) for cells in objects])
    box_min = np.array([xyz[owner == k + 1].min(0) for k in range(len(objects))])
    box_max = np.array([xyz[owner == k + 1].max(0) for k in range(len(objects))])
    return find_support(piece, np.flatnonzero(owner == piece), xyz, owner, keys, VoxelIndex(keys), floor, sizes,
                        box_min, box_max, reach_offsets(0.045, VOXEL), 0.045, floor_tolerance, contact,
                        footprint, VOXEL, gap, 0.1)


def test_a_leg_holds_up_the_top_it_stands_under():
    assert holder_of([TOP, LEG], 2) == 1
    assert holder_of([TOP, LEG], 1) == 0, "the top does not stand on the floor"
    assert holder_of([TOP, LEG], 2, contact=5) == 0, "four cells of the top touch the leg"


def test_no_support_off_the_floor_beside_or_above():
    raised = [(x, y, z + 1) for x, y, z in LEG[:-1]]  # from 0.25 m up to the top
    assert holder_of([TOP, raised], 2) == 0, "it does not stand on the floor"
    assert holder_of([TOP, LEG], 2, floor=np.array([0.0, 0.0, 1.0, 0.1])) == 0, "a floor 0.15 m lower"
    chair = block((9, 12), (5, 8), (1, 9))  # taller than the top, half out of its footprint
    assert holder_of([TOP, chair], 2) == 0
    small_top = block((3, 5), (3, 5), (7, 8))
    assert holder_of([small_top, LEG], 2) == 0, "the holder must be larger than the piece"


def test_what_stands_on_the_holder_is_not_a_support():
    shelf = block((3, 10), (3, 10), (1, 2)) + block((3, 10), (3, 10), (5, 6))  # a low board and one above
    box = block((5, 7), (5, 7), (2, 5))  # on the low board, up to the board above
    assert holder_of([shelf, box], 2, floor_tolerance=0.5) == 0, "the shelf carries it from below"
    assert holder_of([block((3, 10), (3, 10), (5, 6)), box], 2, floor_tolerance=0.5) == 1, "the same box on the floor"


def test_a_box_under_a_box_holds_it_up_but_is_no_support():
    low = block((3, 7), (3, 7), (1, 4))  # 0.4 x 0.4 m, on the floor
    high = block((2, 8), (2, 8), (4, 6))  # 0.6 x 0.6 m, on the low one: footprints 0.44 of each other
    assert holder_of([high, low], 2) == 1
    assert holder_of([high, low], 2, footprint=0.4) == 0
    wide = block((0, 13), (0, 13), (4, 5))  # a 1.3 m top on the same block: 0.09
    assert holder_of([wide, low], 2, footprint=0.1) == 1


def rows_hold(piece, holder, floor=FLOOR_PLANE, contact=3, footprint=0.5, gap=0.0, between=()):
    """``holds_up`` of cells ``piece`` under cells ``holder``, two parts of one map instance
    (``between``: cells of another instance)."""
    coords = np.array(piece + holder + list(between), np.int64)
    xyz = (coords + 0.5) * VOXEL
    keys = pack_voxel_keys(coords, "test cells")
    rows = np.arange(len(coords))
    owner = np.where(rows < len(piece) + len(holder), 1, 2)
    return holds_up(rows[:len(piece)], rows[len(piece):len(piece) + len(holder)], xyz, keys, VoxelIndex(keys), floor,
                    reach_offsets(0.045, VOXEL), 0.045, 0.12, contact, footprint, VOXEL, gap, 0.1, owner)


def test_holds_up_is_the_support_rule_over_parts_of_one_instance():
    assert rows_hold(LEG, TOP)
    assert not rows_hold(TOP, LEG), "the top does not stand on the floor, and it is the larger part"
    assert not rows_hold(LEG, TOP, contact=5), "four cells of the top touch the leg"
    assert not rows_hold(LEG, TOP, floor=np.array([0.0, 0.0, 1.0, 0.1])), "a floor 0.15 m lower"
    assert not rows_hold(block((9, 12), (5, 8), (1, 9)), TOP), "a chair beside the top, taller than it"
    low, high = block((3, 7), (3, 7), (1, 4)), block((2, 8), (2, 8), (4, 6))
    assert rows_hold(low, high) and not rows_hold(low, high, footprint=0.4), "a box under a box"
    shelf = block((3, 10), (3, 10), (1, 2)) + block((3, 10), (3, 10), (5, 6))
    box = block((5, 7), (5, 7), (2, 5))
    assert not rows_hold(box, shelf), "the shelf carries the box from below"
    assert not rows_hold([], TOP)


SHORT_LEGS = [[(x, y, z) for z in range(1, 5)] for x, y in ((3, 3), (9, 3))]  # two legs whose upper 0.2 m is not mapped


def test_a_thin_piece_bridges_a_gap_to_what_lies_straight_above():
    legs = SHORT_LEGS[0] + SHORT_LEGS[1]
    assert holder_of([TOP, legs], 2) == 0, "0.3 m below the top: out of reach"
    assert holder_of([TOP, legs], 2, gap=0.35) == 1, "two thin legs, apart, under the top"
    assert holder_of([TOP, legs], 2, gap=0.25) == 0, "a gap larger than the bridge"
    box = block((4, 7), (4, 7), (1, 5))  # 0.3 m across
    assert holder_of([TOP, box], 2, gap=0.35) == 0, "a box under the table is no leg"
    shelf = block((2, 6), (2, 6), (6, 7))  # another instance between the leg and the top
    assert holder_of([TOP, SHORT_LEGS[0], shelf], 2, gap=0.35) == 3, "what lies first over the leg holds it"
    assert rows_hold(legs, TOP, gap=0.35) and not rows_hold(legs, TOP), "splitting asks the same rule"
    assert not rows_hold(SHORT_LEGS[0], TOP, gap=0.35, between=shelf)


def test_floor_plane_and_reach():
    wall = [1.0, 0.0, 0.0, 0.0]
    ceiling = [0.0, 0.0, -1.0, 2.5]
    floor, lower = [0.0, 0.02, 0.9998, -0.1], [0.0, 0.0, 1.0, 0.2]  # z = 0.1, and a floor at z = -0.2
    assert floor_plane(np.array([wall, ceiling])) is None
    assert floor_plane(np.array([wall, floor, ceiling])).tolist() == floor
    assert floor_plane(np.array([floor, lower])).tolist() == lower, "the lowest floor"
    assert len(reach_offsets(0.045, 0.02)) == 56  # 6 at 0.02, 12 at 0.028, 8 at 0.035, 6 at 0.04, 24 at 0.045
    assert len(reach_offsets(0.045, 0.1)) == 26, "at least the 26 neighbours"


def supports_memory(**overrides):
    consolidation = ConsolidationConfig(every=1, merge_min_views=0, prune_min_frames=0, fill_passes=0, min_voxels=1,
                                        support_floor=0.12, support_contact=3, **overrides)
    structure = StructureConfig(every_passes=1, band=0.05, min_area=1.0, attach=0.15)
    return memory_with(consolidation=consolidation, structure=structure)


def test_memory_joins_the_legs_to_their_top():
    floor = [c for c in block((0, 15), (0, 15), (0, 1))]
    legs = [[(x, y, z) for z in range(1, 7)] for x, y in ((3, 3), (9, 3), (3, 9), (9, 9))]
    memory = supports_memory()
    step(memory, [floor, TOP, *legs])
    assert len(memory.alive_ids()) == 1, "the floor is structure, the legs join the top"
    xyz, _ = memory.instance_points(memory.alive_ids()[0])
    assert len(xyz) == len(TOP) + 4 * 6
    memory = supports_memory(join_supports=False)
    step(memory, [floor, TOP, *legs])
    assert len(memory.alive_ids()) == 5


@pytest.mark.parametrize("join", [True, False])
def test_views_that_keep_the_legs_from_their_top_do_not_split_them(join):
    floor = block((0, 15), (0, 15), (0, 1))
    legs = [[(x, y, z) for z in range(1, 7)] for x, y in ((3, 3), (9, 3), (3, 9), (9, 9))]
    memory = supports_memory(join_supports=join, split_min_views=3, split_min_voxels=2)
    memory.config.structure.every_passes = 2  # the legs join again only at every other pass
    step(memory, [floor, TOP + [c for leg in legs for c in leg]], index=0)  # a first view holds the table whole
    table = [i for i in memory.alive_ids().tolist() if len(memory.instance_points(i)[0]) == len(TOP) + 24]
    assert len(table) == 1
    sizes = []
    for index in range(1, 7):  # later views hold the legs apart, and association sends them all to the table
        step(memory, [floor, TOP, *legs], matches=[0] + [table[0]] * 5, index=index)
        points = [memory.instance_points(i)[0] for i in memory.alive_ids().tolist()]
        sizes.append(sorted(len(p) for p in points if p[:, 2].min() > VOXEL))  # the floor comes and goes as structure
    if join:
        assert sizes == [[len(TOP) + 24]] * 6, "no pass takes the legs off"
    else:
        assert sizes[-1] == [6, 6, 6, 6, len(TOP)]


def test_support_settings_are_checked():
    with pytest.raises(ValueError, match="support_contact"):
        ConsolidationConfig(support_contact=-1)
    assert dataclasses.replace(ConsolidationConfig(), join_supports=False).join_supports is False
