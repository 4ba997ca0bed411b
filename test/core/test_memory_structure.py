"""Room structure: boundary planes found in a map, and what the memory does with them."""

import dataclasses

import numpy as np
import pytest

from samosaic3d_core.memory_consolidation import ConsolidationConfig
from samosaic3d_core.memory_structure import (
    StructureConfig, detached_on_planes, enclosed_on_walls, find_boundary_planes, on_planes, plane_shares,
)
from samosaic3d_core.types import FramePoints, Instances
from test.core.test_memory import VOXEL, memory_with, step

GRID = 0.02


def patch(axes, fixed, lo, hi, step_m=GRID):
    """Points on an axis-aligned rectangle: ``axes`` the two free axes over [lo, hi), the third at ``fixed``."""
    u, v = np.meshgrid(np.arange(lo[0], hi[0], step_m), np.arange(lo[1], hi[1], step_m), indexing="ij")
    xyz = np.zeros((u.size, 3))
    xyz[:, axes[0]], xyz[:, axes[1]] = u.ravel(), v.ravel()
    xyz[:, 3 - sum(axes)] = fixed
    return xyz


def room():
    """A 3 x 3 m floor, walls at x = 0 and y = 0 (2 m high), a 1 x 1 m table top at 0.75 m with a
    box on the floor under it."""
    floor = patch((0, 1), 0.0, (0, 0), (3, 3))
    wall_x = patch((1, 2), 0.0, (0, 0), (3, 2))
    wall_y = patch((0, 2), 0.0, (0, 0), (3, 2))
    table = patch((0, 1), 0.75, (1, 1), (2, 2))
    box = np.concatenate([patch((0, 2), 1.2, (1.2, 0.02), (1.6, 0.5)), patch((0, 1), 0.5, (1.2, 1.2), (1.6, 1.6))])
    return np.concatenate([floor, wall_x, wall_y, table, box])


def test_boundary_planes_are_floor_and_walls_not_the_table_top():
    planes = find_boundary_planes(room(), GRID, StructureConfig(sample=6000))
    assert len(planes) == 3
    normals = {tuple(np.round(np.abs(p[:3])).astype(int)) for p in planes}
    assert normals == {(0, 0, 1), (1, 0, 0), (0, 1, 0)}
    inside = np.array([1.5, 1.5, 1.0])
    assert (planes[:, :3] @ inside + planes[:, 3] > 0).all(), "normals point into the room"
    assert np.allclose(np.abs(planes[:, 3]), 0.0, atol=0.01)


def test_a_wall_thickened_by_noise_is_found_with_a_deeper_behind():
    """A far wall fused from noisy readings is a slab: part of it lies a few cm behind the wall's plane,
    which then only counts as a boundary plane when ``behind`` is deeper than the slab."""
    xyz = room()
    rng = np.random.default_rng(0)
    slab = patch((1, 2), 0.0, (0, 0), (3, 2), step_m=GRID / 2)  # the wall x = 0, seen more often
    slab[:, 0] = rng.normal(0.0, 0.02, len(slab))
    xyz = np.concatenate([xyz[np.abs(xyz[:, 0]) > 1e-9], slab])
    walls = {}
    for behind in (0.03, 0.08):
        planes = find_boundary_planes(xyz, GRID, StructureConfig(sample=6000, behind=behind))
        walls[behind] = sum(abs(p[0]) > 0.99 and abs(p[3]) < 0.01 for p in planes)  # through the slab's middle
        assert not any(abs(p[2]) > 0.9 and abs(p[3]) > 0.5 for p in planes), "the table top is never structure"
    assert walls == {0.03: 0, 0.08: 1}


def test_small_planes_are_not_structure():
    config = StructureConfig(min_area=20.0)  # more than the whole room holds
    assert len(find_boundary_planes(room(), GRID, config)) == 0
    assert find_boundary_planes(np.zeros((2, 3)), GRID, StructureConfig()).shape == (0, 4)


def test_plane_shares_on_planes_and_detached_points():
    planes = np.array([[0.0, 0.0, 1.0, 0.0]])  # the floor z = 0
    xyz = np.array([[0, 0, 0.0], [0.5, 0, 0.01], [0, 0, 0.5], [0.02, 0, 0.02], [2.0, 2.0, 0.0]])
    group = np.array([0, 0, 1, 1, 1])
    assert np.allclose(plane_shares(xyz, group, 2, planes, band=0.03), [1.0, 2 / 3])
    assert on_planes(xyz, planes, 0.03).tolist() == [True, True, False, True, True]
    labels = group + 1
    # label 2: (0.02, 0, 0.02) is 0.48 m from its off-plane point, (2, 2, 0) farther: both detached at 0.3 m
    assert detached_on_planes(xyz, labels, planes, 0.03, attach=0.3).tolist() == [True, True, False, True, True]
    assert detached_on_planes(xyz, labels, planes, 0.03, attach=0.5).tolist() == [True, True, False, False, True]
    assert not detached_on_planes(xyz, np.zeros(5, int), planes, 0.03, 0.5).any(), "unlabelled points stay as they are"


def shelf_on_wall():
    """A shelf against the wall x = 0 (label 1): two sides and three boards reaching 0.4 m out, a back
    panel 2 cm in front of the wall, and a piece of the wall beside it that a frame fused with it."""
    sides = [patch((0, 2), y, (0.04, 0.0), (0.4, 1.5)) for y in (0.2, 1.0)]
    boards = [patch((0, 1), z, (0.04, 0.2), (0.4, 1.0)) for z in (0.06, 0.7, 1.44)]
    panel = patch((1, 2), 0.02, (0.22, 0.08), (0.98, 1.42))
    beside = patch((1, 2), 0.0, (1.2, 0.1), (1.6, 1.0))
    xyz = np.concatenate([*sides, *boards, panel, beside])
    kind = np.repeat([0, 1, 2], [sum(map(len, sides + boards)), len(panel), len(beside)])
    return xyz, kind


def test_a_shelf_keeps_its_back_panel_on_the_wall():
    xyz, kind = shelf_on_wall()
    wall = np.array([[1.0, 0.0, 0.0, 0.0]])
    labels = np.ones(len(xyz), np.int64)
    inside = enclosed_on_walls(xyz, labels, wall, band=0.03, reach=0.06)
    assert inside[kind == 1].all() and not inside[kind == 2].any() and not inside[kind == 0].any()
    plain = detached_on_planes(xyz, labels, wall, 0.03, attach=0.06)
    assert plain[kind == 1].mean() > 0.5, "without the outline, most of the panel goes to the wall"
    detached = detached_on_planes(xyz, labels, wall, 0.03, attach=0.06, enclosed=True)
    assert not detached[kind == 1].any() and detached[kind == 2].all() and not detached[kind == 0].any()
    other = labels.copy()
    other[kind == 1] = 2  # the panel in an instance of its own: no outline of its own to lie in
    assert enclosed_on_walls(xyz, other, wall, 0.03, 0.06)[kind == 1].sum() == 0


def test_a_strip_of_the_other_wall_draws_no_outline():
    """A cabinet in the corner of the walls x = 0 and y = 0 whose instance took a strip of the wall
    y = 0 up to 2 m and a piece of the wall x = 0 above it: the strip lies on a plane and draws no
    outline, so that piece is not enclosed."""
    cabinet = np.concatenate([patch((1, 2), 0.5, (0.04, 0.0), (0.5, 0.8)), patch((0, 2), 0.5, (0.04, 0.0), (0.5, 0.8)),
                              patch((0, 1), 0.8, (0.04, 0.04), (0.5, 0.5))])
    strip = patch((0, 2), 0.0, (0.0, 0.0), (0.08, 2.0))
    above = patch((1, 2), 0.0, (0.1, 1.0), (0.4, 1.8))
    xyz = np.concatenate([cabinet, strip, above])
    walls = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    inside = enclosed_on_walls(xyz, np.ones(len(xyz), np.int64), walls, band=0.03, reach=0.06)
    assert not inside[-len(above):].any()


def test_the_outline_rule_leaves_the_floor_alone():
    """Under a table, a piece of floor fused with it is not kept by the table's outline."""
    xyz, kind = shelf_on_wall()
    lying = xyz[:, [1, 2, 0]]  # the same shape lying on the floor z = 0
    floor = np.array([[0.0, 0.0, 1.0, 0.0]])
    assert not enclosed_on_walls(lying, np.ones(len(xyz), np.int64), floor, 0.03, 0.06).any()


def structured(**overrides):
    """A memory on the 0.1 m test grid that consolidates and looks for structure after every frame."""
    structure = StructureConfig(**{"every_passes": 1, "band": 0.05, "min_area": 1.0, "attach": 0.15, **overrides})
    consolidation = ConsolidationConfig(every=1, merge_min_views=0, prune_min_frames=0, fill_passes=0, min_voxels=1)
    return memory_with(consolidation=consolidation, structure=structure)


FLOOR = [(x, y, 0) for x in range(15) for y in range(15)]  # 2.25 m^2 at z = 0.05
CUBE = [(x, y, z) for x in (5, 6) for y in (5, 6) for z in (0, 1, 2)]  # stands on the floor


def test_instances_on_the_floor_are_dissolved_objects_keep_their_base():
    memory = structured()
    floor = [c for c in FLOOR if c not in CUBE]
    step(memory, [floor[:100], floor[100:], CUBE])  # the floor in two pieces, and a cube
    assert len(memory.structure_planes()) == 1
    assert memory.alive_ids().tolist() == [3], "both floor pieces are structure"
    xyz, _ = memory.instance_points(3)
    assert len(xyz) == len(CUBE), "the cube keeps its base on the floor"
    labels = memory.scene_map().instance_ids
    assert (labels == 0).sum() == len(floor)


def test_structure_takes_a_floor_piece_fused_with_an_object():
    memory = structured()
    far_floor = [(x, y, 0) for x in range(10, 15) for y in range(10, 15)]
    step(memory, [[c for c in FLOOR if c not in CUBE and c not in far_floor], CUBE + far_floor])
    xyz, _ = memory.instance_points(memory.alive_ids()[0])
    assert len(xyz) == len(CUBE), "the far floor cells left the cube; its base stayed"


def test_frames_drop_structure_instances_and_detached_points():
    memory = structured()
    step(memory, [FLOOR])  # finds the floor
    assert len(memory.structure_planes()) == 1 and len(memory.alive_ids()) == 0
    cube_xyz = (np.array(CUBE) + 0.5) * VOXEL
    floor_xyz = (np.array([(x, y, 0) for x in range(10, 13) for y in range(10, 13)]) + 0.5) * VOXEL
    xyz = np.concatenate([floor_xyz, cube_xyz, floor_xyz + [0, 0, 0]])
    local = np.concatenate([np.full(9, 1), np.full(len(CUBE), 2), np.full(9, 2)])
    points = FramePoints(xyz.astype(np.float32), np.zeros((len(xyz), 3), np.uint8), np.arange(len(xyz)),
                         np.zeros(len(xyz), np.int32))
    frame = Instances(ids=np.array([1, 2]), scores=np.array([0.5, 0.9], np.float32),
                      box_min=np.zeros((2, 3), np.float32), box_max=np.ones((2, 3), np.float32),
                      num_points=np.array([9, len(CUBE) + 9]), feats=np.ones((2, 2), np.float32))
    kept, new_local = memory.without_structure(points, frame, local)
    assert len(kept) == 1 and kept.scores.tolist() == [pytest.approx(0.9)], "the floor piece is no instance"
    assert new_local[:9].tolist() == [0] * 9
    assert new_local[9:9 + len(CUBE)].tolist() == [1] * len(CUBE), "renumbered, the base kept"
    assert new_local[-9:].tolist() == [0] * 9, "floor points far from the cube are dropped"


def test_fill_leaves_the_floor_unlabelled():
    memory = memory_with(consolidation=ConsolidationConfig(every=1, merge_min_views=0, prune_min_frames=0,
                                                           fill_passes=4, min_voxels=1),
                         structure=StructureConfig(every_passes=1, band=0.05, min_area=1.0, attach=0.15),
                         keep_unassigned=True)
    step(memory, [FLOOR])
    floor = [c for c in FLOOR if c not in CUBE]
    step(memory, [floor, CUBE], matches=[0, 0], index=1)  # the floor piece is dissolved at once
    labels = memory.scene_map().instance_ids
    assert (labels > 0).sum() == len(CUBE)


def test_fill_reaches_a_back_panel_on_the_wall_but_not_the_wall_beside_it():
    """A shelf against the wall x = 0 whose frame labels two of every three cells of its back panel
    (and of a piece of wall beside it), the rest of the wall a frame instance of its own: the fill
    completes the panel within the shelf's outline, and the wall beside it stays unlabelled. Without
    ``enclosed`` the wall takes most of the panel."""
    wall = [(0, y, z) for y in range(20) for z in range(15)]
    sides = [(x, y, z) for x in (1, 2) for y in (5, 12) for z in range(11)]
    boards = [(x, y, z) for x in (1, 2) for y in range(6, 12) for z in (0, 5, 10)]
    panel = [(0, y, z) for y in range(6, 12) for z in range(1, 10) if z != 5]
    beside = [(0, y, z) for y in range(15, 19) for z in range(1, 10)]
    seen = [c for c in panel + beside if (c[1] + c[2]) % 3]
    labelled = {}
    for enclosed in (True, False):
        memory = memory_with(consolidation=ConsolidationConfig(every=1, merge_min_views=0, prune_min_frames=0,
                                                               fill_passes=2, min_voxels=1),
                             structure=StructureConfig(every_passes=1, band=0.05, min_area=1.0, attach=0.15,
                                                       enclosed=enclosed),
                             keep_unassigned=True)
        step(memory, [wall])  # the wall alone: found and dissolved, its cells unlabelled
        assert len(memory.structure_planes()) == 1 and len(memory.alive_ids()) == 0
        step(memory, [sides + boards + seen, [c for c in wall if c not in seen]], matches=[0, 0], index=1)
        scene = memory.scene_map()
        cell = {tuple(np.floor(p / VOXEL).astype(int)): i for p, i in zip(scene.xyz, scene.instance_ids)}
        labelled[enclosed] = (sum(cell[c] > 0 for c in panel), sum(cell[c] > 0 for c in beside))
    assert labelled[True] == (len(panel), 0), "the panel is the shelf's, the wall beside it is not"
    assert labelled[False][0] < len(panel) / 2 and labelled[False][1] == 0


def test_planes_are_saved_and_checked_on_load():
    memory = structured()
    step(memory, [FLOOR])
    state = memory.state()
    back = type(memory).from_state(state, memory.config, "test")
    assert np.array_equal(back.structure_planes(), memory.structure_planes())
    off = dataclasses.replace(memory.config, structure=StructureConfig(every_passes=0))
    assert len(type(memory).from_state(state, off, "test").structure_planes()) == 0, "structure off: planes unused"
    del state["structure_planes"]  # a state of version 2
    assert len(type(memory).from_state(state, memory.config, "test").structure_planes()) == 0
    state["structure_planes"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match="structure_planes"):
        type(memory).from_state(state, memory.config, "test")


def test_structure_config_rejects_bad_values():
    for bad in ({"band": 0}, {"every_passes": -1}, {"max_behind": 2.0}, {"sample": 2}, {"attach": -1.0},
                {"behind": 0.0}):
        with pytest.raises(ValueError, match="structure"):
            StructureConfig(**bad)
