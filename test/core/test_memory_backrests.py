"""Backrests: a thin upright slab standing along one edge of an instance's top joins it."""

import dataclasses

import numpy as np
import pytest

from samosaic3d_core.geometry import VoxelIndex, pack_voxel_keys
from samosaic3d_core.memory_backrests import backrest_pair, find_base, floor_frame
from samosaic3d_core.memory_consolidation import ConsolidationConfig
from samosaic3d_core.memory_structure import StructureConfig
from samosaic3d_core.memory_supports import reach_offsets
from test.core.test_memory import memory_with, step

CM2 = 0.02  # the shipped map's voxels
FLOOR = np.array([0.0, 0.0, 1.0, 0.0])  # z = 0
RULE = ConsolidationConfig().backrest_rule()  # the shipped settings


def box(lo, hi):
    """Centres (N, 3) of the 2 cm cells filling the box lo..hi (metres, half-open)."""
    axes = [np.arange(a, b - 1e-9, CM2) + CM2 / 2 for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


SEAT = box((-0.24, -0.24, 0.42), (0.24, 0.24, 0.46))
BACK = box((-0.24, 0.20, 0.46), (0.24, 0.24, 0.90))  # along the seat's +y edge, 0.44 m tall


def base_of(objects, slab, turn=0.0, rule=RULE):
    """``find_base`` of map id ``slab`` in a map whose map id k + 1 owns the points ``objects[k]``
    (turned by ``turn`` radians about z, then put on the 2 cm grid)."""
    c, s = np.cos(turn), np.sin(turn)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    coords, owner = [], []
    for k, points in enumerate(objects):
        cells = np.unique(np.floor(points @ rotation.T / CM2).astype(np.int64), axis=0)
        coords.append(cells)
        owner.append(np.full(len(cells), k + 1))
    coords, owner = np.concatenate(coords), np.concatenate(owner)
    xyz = (coords + 0.5) * CM2
    keys = pack_voxel_keys(coords, "test cells")
    members = lambda map_id: np.flatnonzero(owner == map_id)  # noqa: E731
    return find_base(slab, members(slab), xyz, owner, keys, VoxelIndex(keys), FLOOR, members,
                     reach_offsets(rule.reach, CM2), rule, CM2)


def test_a_chair_back_stands_on_its_seat_at_any_angle():
    legs = [box((x, y, 0.0), (x + 0.04, y + 0.04, 0.42)) for x in (-0.24, 0.2) for y in (-0.24, 0.2)]
    assert base_of([np.concatenate([SEAT, *legs]), BACK], 2) == 1
    for turn in (0.3, 0.8, 2.0):
        assert base_of([SEAT, BACK], 2, turn=turn) == 1, f"turned by {turn} rad"
    assert base_of([SEAT, BACK], 1) == 0, "the seat is no slab"


def test_a_back_with_its_rear_legs_or_fixed_behind_the_seat_stands_on_it():
    rear = [box((x, 0.2, 0.0), (x + 0.04, 0.24, 0.42)) for x in (-0.24, 0.2)]
    assert base_of([SEAT, np.concatenate([BACK, *rear])], 2) == 1
    assert base_of([SEAT, box((-0.24, 0.24, 0.30), (0.24, 0.28, 0.90))], 2) == 1, "flush with the seat's rear"


def test_no_backrest_that_is_short_thick_narrow_beside_or_inward():
    assert base_of([SEAT, box((-0.24, 0.20, 0.46), (0.24, 0.24, 0.70))], 2) == 0, "0.24 m tall: a box on a box"
    assert base_of([SEAT, box((-0.24, 0.12, 0.46), (0.24, 0.24, 0.90))], 2) == 0, "12 cm thick"
    assert base_of([SEAT, box((-0.1, 0.20, 0.46), (0.1, 0.24, 0.90))], 2) == 0, "spans less than the seat"
    assert base_of([SEAT, box((-0.24, -0.02, 0.46), (0.24, 0.02, 0.90))], 2) == 0, "across the middle"
    assert base_of([SEAT, box((-0.24, 0.32, 0.30), (0.24, 0.36, 0.90))], 2) == 0, "8 cm behind the seat"
    assert base_of([SEAT, BACK], 2, rule=dataclasses.replace(RULE, min_height=0.5)) == 0


def test_a_monitor_on_a_desk_and_a_book_in_a_shelf_stay_apart():
    desk = box((-0.7, -0.35, 0.70), (0.7, 0.35, 0.74))
    screen = box((-0.3, 0.30, 0.74), (0.3, 0.33, 1.10))  # at the desk's back edge
    assert base_of([desk, screen], 2) == 0, "a monitor covers a small part of the desk's width"
    board = box((-0.3, -0.15, 0.40), (0.3, 0.15, 0.42))
    sides = [box((x, -0.15, 0.0), (x + 0.02, 0.15, 1.5)) for x in (-0.32, 0.3)]
    book = box((-0.3, -0.15, 0.42), (-0.26, 0.13, 0.78))  # at the end of the board, as deep as it
    assert base_of([np.concatenate([board, *sides]), book], 2) == 0, "the shelf rises above the book"


def test_backrest_pair_either_way_round():
    coords = np.floor(np.concatenate([SEAT, BACK]) / CM2).astype(np.int64)
    xyz, keys = (coords + 0.5) * CM2, pack_voxel_keys(coords, "test cells")
    seat, back = np.arange(len(SEAT)), np.arange(len(SEAT), len(coords))
    rule, index = RULE, VoxelIndex(keys)
    args = (xyz, keys, index, FLOOR, reach_offsets(rule.reach, CM2), rule, CM2)
    assert backrest_pair(seat, back, *args) and backrest_pair(back, seat, *args)
    assert not backrest_pair(seat[: len(seat) // 2], seat[len(seat) // 2:], *args)


def test_floor_frame_is_orthonormal_in_the_floor():
    for normal in ([0.0, 0.0, 1.0], [0.02, -0.03, 0.9993], [1.0, 0.0, 0.0]):
        normal = np.asarray(normal) / np.linalg.norm(normal)
        frame = floor_frame(np.r_[normal, 0.0])
        np.testing.assert_allclose(frame.T @ frame, np.eye(2), atol=1e-12)
        np.testing.assert_allclose(normal @ frame, 0.0, atol=1e-12)


# the memory, on its 0.1 m test grid: a floor, a seat 0.5 m square and a back 0.4 m tall on its edge
FLOOR_CELLS = [(x, y, 0) for x in range(15) for y in range(15)]
SEAT_CELLS = [(x, y, 4) for x in range(5, 10) for y in range(5, 10)]
BACK_CELLS = [(x, 9, z) for x in range(5, 10) for z in range(5, 9)]


def backrest_memory(**overrides):
    """A memory on the 0.1 m test grid that searches for planes at every consolidation (every frame)."""
    settings = {"every": 1, "merge_min_views": 0, "prune_min_frames": 0, "fill_passes": 0, "min_voxels": 1,
                "split_min_views": 3, "split_min_voxels": 2, "join_supports": False, "join_backrests": True,
                "backrest_max_thickness": 0.15, "support_reach": 0.15, "support_contact": 3, **overrides}
    return memory_with(consolidation=ConsolidationConfig(**settings),
                       structure=StructureConfig(every_passes=1, band=0.05, min_area=1.0, attach=0.15))


@pytest.mark.parametrize("join", [True, False])
def test_memory_joins_a_back_to_its_seat(join):
    memory = backrest_memory(join_backrests=join)
    for index in range(3):
        step(memory, [FLOOR_CELLS, SEAT_CELLS, BACK_CELLS], matches=[0, 0, 0] if index == 0 else [1, 2, 3],
             index=index)
    assert len(memory.alive_ids()) == (1 if join else 2), "the floor is structure"


@pytest.mark.parametrize("join", [True, False])
def test_views_that_keep_a_back_from_its_seat_do_not_split_them(join):
    memory = backrest_memory(join_backrests=join)
    step(memory, [FLOOR_CELLS, SEAT_CELLS + BACK_CELLS], index=0)  # a first view holds the chair in one piece
    chair = [i for i in memory.alive_ids().tolist() if len(memory.instance_points(i)[0]) == 45]
    assert len(chair) == 1
    for index in range(1, 6):  # later views hold the back apart, and association sends both to the chair
        step(memory, [FLOOR_CELLS, SEAT_CELLS, BACK_CELLS], matches=[0, chair[0], chair[0]], index=index)
    sizes = sorted(len(memory.instance_points(i)[0]) for i in memory.alive_ids().tolist())
    assert sizes == ([45] if join else [20, 25])


def test_backrest_settings_are_checked():
    with pytest.raises(ValueError, match="backrest_min_span"):
        ConsolidationConfig(backrest_min_span=1.5)
    with pytest.raises(ValueError, match="backrest_max_thickness"):
        ConsolidationConfig(backrest_max_thickness=-0.1)
