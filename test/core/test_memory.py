"""SceneMemory with hand-placed points: voxel fusion, ownership votes, tiers, state round trip."""

import numpy as np
import pytest

from samosaic3d_core.memory import MemoryConfig, SceneMemory
from samosaic3d_core.memory_grid import OwnerGrid
from samosaic3d_core.types import FramePoints, Instances

VOXEL = 0.1


def memory_with(**overrides):
    """A memory on a 0.1 m grid whose association cells are the map voxels and whose overlap cues count
    exact cells, ranking by the "support" confidence (the shipped scorer reads 2 cm voxels), unless
    overridden."""
    return SceneMemory(MemoryConfig(**{"map_voxel_size": VOXEL, "association_voxel_size": VOXEL,
                                       "association_borrow": False, "confidence": "support", **overrides}))


def cells(x0, x1, y=0, z=0):
    """Integer voxel coordinates of a row of cells x0..x1-1."""
    return [(x, y, z) for x in range(x0, x1)]


def step(memory, groups, matches=None, index=0, scores=None, offset=0.5, feats=None):
    """Observe and integrate one frame whose instance k+1 has one point in each cell of ``groups[k]``.

    Points sit at ``(cell + offset) * VOXEL``. Returns (point_ids, created, updated).
    """
    coords = np.array([c for g in groups for c in g], np.float64).reshape(-1, 3)
    local = np.concatenate([np.full(len(g), k + 1) for k, g in enumerate(groups)]).astype(np.int64)
    xyz = ((coords + offset) * VOXEL).astype(np.float32)
    points = FramePoints(xyz, np.full((len(xyz), 3), 100, np.uint8), np.arange(len(xyz)), local.astype(np.int32) - 1)
    num = len(groups)
    boxes_min = np.array([xyz[local == k + 1].min(0) for k in range(num)], np.float32).reshape(-1, 3)
    boxes_max = np.array([xyz[local == k + 1].max(0) for k in range(num)], np.float32).reshape(-1, 3)
    instances = Instances(
        ids=np.arange(1, num + 1),
        scores=np.asarray(scores if scores is not None else [0.5] * num, np.float32),
        box_min=boxes_min,
        box_max=boxes_max,
        num_points=np.array([len(g) for g in groups], np.int64),
        feats=np.asarray(feats if feats is not None else np.ones((num, 2)), np.float32),
    )
    obs = memory.observe(points, instances, local, index, 0.5 * index)
    matches = np.zeros(num, np.int64) if matches is None else np.asarray(matches)
    return memory.integrate(obs, matches)


def test_reobserved_voxels_are_fused_in_place():
    memory = memory_with(confidence="model")
    ids, created, updated = step(memory, [cells(0, 4)], offset=0.25)
    assert created == [1] and updated == [] and ids.tolist() == [1] * 4
    ids, created, updated = step(memory, [cells(0, 4)], matches=[1], index=1, offset=0.75, scores=[0.9])
    assert created == [] and updated == [1]
    assert memory.num_voxels == 4
    scene = memory.scene_map()
    np.testing.assert_allclose(scene.xyz[:, 0], (np.arange(4) + 0.5) * VOXEL, atol=1e-6)  # mean of 0.25 and 0.75
    inst = memory.instances()
    assert inst.num_points.tolist() == [4]
    np.testing.assert_allclose(inst.scores, [0.7])  # running mean of 0.5 and 0.9
    np.testing.assert_allclose(inst.first_seen, [0.0])
    np.testing.assert_allclose(inst.last_seen, [0.5])
    np.testing.assert_allclose(inst.box_min[0], [0.05, 0.05, 0.05], atol=1e-6)
    np.testing.assert_allclose(inst.box_max[0], [0.35, 0.05, 0.05], atol=1e-6)
    # one more row extends the instance; only the 2 new voxels are added
    step(memory, [cells(2, 6)], matches=[1], index=2)
    assert memory.num_voxels == 6 and memory.instances().num_points.tolist() == [6]


def observe_cells(memory, groups, index=1):
    """Observe (without integrating) frame instances k+1 with one point in each cell of ``groups[k]``."""
    coords = np.array([c for g in groups for c in g], np.float64)
    local = np.concatenate([np.full(len(g), k + 1) for k, g in enumerate(groups)])
    xyz = ((coords + 0.5) * VOXEL).astype(np.float32)
    points = FramePoints(xyz, np.zeros((len(xyz), 3), np.uint8), np.arange(len(xyz)), (local - 1).astype(np.int32))
    num = len(groups)
    inst = Instances(np.arange(1, num + 1), np.ones(num, np.float32), np.zeros((num, 3), np.float32),
                     np.ones((num, 3), np.float32), np.array([len(g) for g in groups]), np.ones((num, 2), np.float32))
    return memory.observe(points, inst, local, index, 0.5 * index)


def test_overlap_cues():
    memory = memory_with()
    step(memory, [cells(0, 4), cells(10, 12)])  # ids 1 (4 cells), 2 (2 cells)
    obs = observe_cells(memory, [cells(1, 5), cells(10, 11), cells(9, 13)])
    assert obs.voxel_row.tolist() == [1, 2, 3, -1, -1, 4, 5, -1]  # sorted cells 1-4, 9-12; 4, 9, 12 are new
    np.testing.assert_array_equal(obs.frame_cells, [4, 1, 4])
    np.testing.assert_array_equal(obs.map_cells, [0, 4, 2])
    # 1: cells 1..4, three owned by id 1; 2: lies on id 2; 3: cells 9..12 cover all of id 2
    np.testing.assert_allclose(obs.owned_fraction(), [[0.25, 0.75, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(obs.containment(), [[0.25, 0.75, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 1.0]])


def test_borrowed_owners_let_a_shifted_surface_overlap_its_instance():
    """A wall seen one cell off (a residual pose error) overlaps its instance only when cells borrow."""
    for borrow, expected in ((False, [1.0, 0.0]), (True, [0.0, 1.0])):
        memory = memory_with(association_borrow=borrow)
        step(memory, [cells(0, 5)])
        obs = observe_cells(memory, [cells(0, 5, y=1)])  # the same row one cell over
        np.testing.assert_allclose(obs.owned_fraction()[0], expected)
        assert obs.cell_row.tolist() == [-1] * 5  # only the cue borrows; the cells themselves stay new


def test_coarse_association_cells_tolerate_point_sampling():
    # two frames see disjoint halves of the same 0.1 m voxels of a surface: no shared voxel,
    # but every 0.2 m association cell is shared
    memory = memory_with(association_voxel_size=2 * VOXEL)
    step(memory, [cells(0, 8, 0)[0::2]])
    obs = observe_cells(memory, [cells(0, 8, 0)[1::2]])
    assert np.all(obs.voxel_row == -1)
    np.testing.assert_allclose(obs.owned_fraction(), [[0.0, 1.0]])


def test_ownership_needs_a_majority_of_frames():
    memory = memory_with(vote_cap=5)
    step(memory, [cells(0, 2)])
    step(memory, [cells(0, 2)], matches=[1], index=1)  # confidence 2
    _, created, _ = step(memory, [cells(0, 2)], index=2)  # a new id claims the same voxels
    assert created == [2]
    assert memory.scene_map().instance_ids.tolist() == [1, 1]  # confidence 1 left
    assert memory.alive_ids().tolist() == [1]  # id 2 owns nothing yet
    step(memory, [cells(0, 2)], matches=[2], index=3)
    assert memory.scene_map().instance_ids.tolist() == [2, 2]
    assert memory.alive_ids().tolist() == [2]
    assert memory.short_term_ids() == [2]  # the dead id left the short-term memory
    assert memory.instance_points(1)[0].shape == (0, 3)


def test_short_term_fifo_demotes_and_promotes():
    memory = memory_with(short_term_size=2)
    for i in range(3):
        step(memory, [cells(10 * i, 10 * i + 2)], index=i)  # ids 1, 2, 3 in separate frames
    assert memory.short_term_ids() == [2, 3] and memory.long_term_ids() == [1]
    assert memory.instances().tier.tolist() == [1, 0, 0]
    step(memory, [cells(0, 2)], matches=[1], index=3)  # long-term id 1 re-merged: promoted, 2 demoted
    assert memory.short_term_ids() == [3, 1] and memory.long_term_ids() == [2]
    step(memory, [cells(20, 22)], matches=[3], index=4)  # re-merging a short-term id refreshes it
    assert memory.short_term_ids() == [1, 3]
    assert memory.instances().tier.tolist() == [0, 1, 0]


def test_short_term_size_stays_bounded_when_one_frame_creates_more():
    memory = memory_with(short_term_size=3)
    step(memory, [cells(10 * i, 10 * i + 2) for i in range(5)], index=0)  # ids 1..5 in one frame
    assert memory.short_term_ids() == [3, 4, 5] and memory.long_term_ids() == [1, 2]
    step(memory, [cells(0, 2), cells(10, 12)], matches=[1, 2], index=1)  # both long-term ids re-merged
    assert memory.short_term_ids() == [5, 1, 2] and memory.long_term_ids() == [3, 4]
    for index in range(2, 6):  # a new instance each frame: always 3 short-term ids, oldest demoted
        step(memory, [cells(100 + 10 * index, 102 + 10 * index)], index=index)
        assert len(memory.short_term_ids()) == 3
    assert memory.short_term_ids() == [7, 8, 9] and len(memory.long_term_ids()) == 6


def test_voxel_shared_by_two_instances_goes_to_the_majority():
    memory = memory_with()
    # cell 0 holds two points of instance 1 (offsets 0.25, 0.75) and one of instance 2
    coords = np.array([(0, 0, 0), (0, 0, 0), (0, 0, 0), (1, 0, 0), (5, 0, 0)], np.float64)
    xyz = ((coords + [[0.25], [0.75], [0.5], [0.5], [0.5]]) * VOXEL).astype(np.float32)
    local = np.array([1, 1, 2, 1, 2])
    points = FramePoints(xyz, np.zeros((5, 3), np.uint8), np.arange(5), (local - 1).astype(np.int32))
    inst = Instances(np.array([1, 2]), np.ones(2, np.float32), np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32),
                     np.array([3, 2]), np.ones((2, 2), np.float32))
    ids, created, _ = memory.integrate(memory.observe(points, inst, local, 0, 0.0), np.zeros(2, np.int64))
    assert created == [1, 2] and ids.tolist() == [1, 1, 2, 1, 2]  # per point: its instance
    assert memory.scene_map().instance_ids.tolist() == [1, 1, 2]  # per voxel: the majority
    assert memory.instances().num_points.tolist() == [2, 1]


def test_several_frame_instances_merge_into_one():
    memory = memory_with(confidence="model")
    step(memory, [cells(0, 2)])
    ids, created, updated = step(memory, [cells(0, 2), cells(2, 4)], matches=[1, 1], index=1, scores=[1.0, 0.0])
    assert ids.tolist() == [1, 1, 1, 1] and created == [] and updated == [1]
    inst = memory.instances()
    assert inst.num_points.tolist() == [4]
    np.testing.assert_allclose(inst.scores, [0.5])  # frame score 0.5 (point-weighted), mean with 0.5


def test_support_confidence_grows_with_voxels_and_frames():
    memory = memory_with(confidence_frames=0.0, confidence_kept=False, confidence_votes=False)  # "support": n / (n + 100) for n voxels
    step(memory, [cells(0, 100), cells(0, 20, y=2)], scores=[0.1, 0.9])
    np.testing.assert_allclose(memory.instances().scores, [0.5, 20 / 120], rtol=1e-6)  # the frame model's say is not asked
    scene = memory.scene_map()
    np.testing.assert_allclose(scene.scores[scene.instance_ids == 1], 0.5, rtol=1e-6)  # per point, its instance's
    memory = memory_with(confidence_frames=2.0, confidence_kept=False, confidence_votes=False)  # times k / (k + 2) for k frames
    for index in range(2):
        step(memory, [cells(0, 100)], matches=[index], index=index)
    np.testing.assert_allclose(memory.instances().scores, [0.5 * 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="confidence must be 'model', 'support' or 'learned'"):
        MemoryConfig(confidence="mask")
    with pytest.raises(ValueError, match="confidence_voxels must be > 0"):
        MemoryConfig(confidence_voxels=0)


def test_support_confidence_falls_with_the_frames_that_hand_an_instance_away():
    def scores(**overrides):
        memory = memory_with(confidence_frames=0.0, confidence_votes=False, **overrides)  # kept: 1 - given / (seen + 1)
        step(memory, [cells(0, 20), cells(20, 40)])  # ids 1 and 2; no frame saw them before
        first = memory.instances().scores.copy()
        step(memory, [cells(0, 20), cells(20, 40)], matches=[1, 2], index=1)  # both seen and kept
        step(memory, [cells(0, 40)], matches=[1], index=2)  # one frame instance: 2's surface goes to 1
        assert memory.instances().num_points.tolist() == [20, 20], "one contrary vote does not relabel"
        return first, memory.instances().scores

    first, kept = scores()
    np.testing.assert_allclose(first, [20 / 120] * 2, rtol=1e-6)
    np.testing.assert_allclose(kept, [20 / 120, 20 / 120 * (1 - 1 / 3)], rtol=1e-6)  # 2: seen twice, given once
    np.testing.assert_allclose(scores(confidence_kept=False)[1], [20 / 120] * 2, rtol=1e-6)


def test_support_confidence_counts_how_firmly_the_voxels_are_held():
    memory = memory_with(confidence_frames=0.0, confidence_kept=False)  # times mean votes / vote_cap (5)
    step(memory, [cells(0, 20), cells(20, 40)])
    step(memory, [cells(0, 20)], matches=[1], index=1)
    step(memory, [cells(0, 20)], matches=[1], index=2)  # 1's voxels hold 3 votes, 2's one
    np.testing.assert_allclose(memory.instances().scores, [20 / 120 * 3 / 5, 20 / 120 * 1 / 5], rtol=1e-6)
    step(memory, [cells(10, 30)], matches=[1], index=3)  # 10..19 gain a vote, 2's 20..29 taken over with one
    np.testing.assert_allclose(memory.instances().scores, [30 / 130 * (10 * 3 + 10 * 4 + 10 * 1) / 30 / 5, 10 / 110 / 5],
                               rtol=1e-6)


def test_merged_instances_add_their_seen_and_given_frames():
    memory = memory_with(confidence_frames=0.0, confidence_votes=False)
    step(memory, [cells(0, 20), cells(20, 40)])
    step(memory, [cells(0, 20), cells(20, 40)], matches=[1, 2], index=5)
    step(memory, [cells(0, 40)], matches=[1], index=10)
    memory.merge(1, 2)  # 1: seen 2, given 0; 2: seen 2, given 1
    np.testing.assert_allclose(memory.instances().scores, [40 / 140 * (1 - 1 / 5)], rtol=1e-6)
    # counts never exceed the frames between an instance's first and last observation (frames 0..10)
    assert memory._inst["obs_count"][0] <= 11 and memory._inst["seen_frames"][0] == 4


def test_states_without_seen_and_given_frames_load_with_every_frame_keeping():
    memory = memory_with(confidence_frames=0.0, confidence_votes=False)
    step(memory, [cells(0, 20), cells(20, 40)])
    step(memory, [cells(0, 20), cells(20, 40)], matches=[1, 2], index=1)
    step(memory, [cells(0, 40)], matches=[1], index=2)
    state = memory.state()
    back = SceneMemory.from_state(state, memory.config, "test")
    np.testing.assert_array_equal(back.instances().scores, memory.instances().scores)
    del state["inst_seen_frames"], state["inst_given_frames"]  # a state of version 3
    old = SceneMemory.from_state(state, memory.config, "test")
    np.testing.assert_allclose(old.instances().scores, [20 / 120] * 2, rtol=1e-6)


def test_integrate_rejects_bad_matches():
    memory = memory_with()
    with pytest.raises(ValueError, match="existing map id"):
        step(memory, [cells(0, 2)], matches=[3])
    with pytest.raises(ValueError, match="1 frame instances"):
        step(memory, [cells(0, 2)], matches=[0, 0])


def test_unassigned_points_are_kept_unowned():
    memory = memory_with()
    xyz = np.array([[0.05, 0.05, 0.05], [0.15, 0.05, 0.05]], np.float32)
    points = FramePoints(xyz, np.zeros((2, 3), np.uint8), np.arange(2), np.array([-1, -1], np.int32))
    obs = memory.observe(points, Instances.empty(2), np.zeros(2, np.int64), 0, 0.0)
    ids, created, updated = memory.integrate(obs, np.zeros(0, np.int64))
    assert ids.tolist() == [0, 0] and created == updated == []
    assert memory.scene_map().instance_ids.tolist() == [0, 0]
    memory = memory_with(keep_unassigned=False)
    memory.integrate(memory.observe(points, Instances.empty(2), np.zeros(2, np.int64), 0, 0.0), np.zeros(0))
    assert len(memory.scene_map()) == 0


def test_state_round_trip_rebuilds_derived_state():
    memory = memory_with(short_term_size=2)
    for i in range(3):
        step(memory, [cells(10 * i, 10 * i + 3)], index=i)
    back = SceneMemory.from_state(memory.state(), memory.config, "test")
    assert back.short_term_ids() == memory.short_term_ids() == [2, 3]
    for name in ("ids", "num_points", "box_min", "tier", "feats"):
        np.testing.assert_array_equal(getattr(back.instances(), name), getattr(memory.instances(), name))
    np.testing.assert_array_equal(back.instance_points(2)[0], memory.instance_points(2)[0])
    # both continue identically
    for m in (memory, back):
        step(m, [cells(0, 4)], matches=[1], index=3)
    assert back.short_term_ids() == memory.short_term_ids() == [3, 1]
    assert back.num_voxels == memory.num_voxels == 10


def test_map_grid_keys_are_the_packed_voxel_keys_and_reject_far_points():
    grid = OwnerGrid(cell_size=0.5, vote_cap=3)
    centre = (1 << 20) * ((1 << 42) + (1 << 21) + 1)  # voxel (0, 0, 0); saved maps hold these values
    assert grid.keys(np.array([[0.1, 0.2, 0.3], [-0.1, 0.0, 0.7]])).tolist() == [centre, centre - (1 << 42) + 1]
    with pytest.raises(ValueError, match="map grid: .*metres"):
        grid.keys(np.array([[0.5 * (1 << 20), 0.0, 0.0]]))


def test_short_term_tier_pushes_out_the_least_recently_merged():
    from samosaic3d_core.memory_tiers import ShortTermTier

    tier = ShortTermTier(2, [4, 7])
    assert tier.touch(4) == (False, [])  # 4 becomes the newest
    assert tier.touch(9) == (True, [7])  # 7, now the oldest, leaves
    assert tier.ids() == [4, 9] and 7 not in tier
    tier.remove(4)
    assert tier.ids() == [9] and ShortTermTier(1, [1, 2, 3]).trim() == [1, 2]
