"""Parts of map instances: frames that divide a map instance, the evidence they leave, the splits."""

import numpy as np
import pytest

from samosaic3d_core.memory import SceneMemory
from samosaic3d_core.memory_consolidation import ConsolidationConfig
from samosaic3d_core.memory_parts import PartLedger
from test.core.test_memory import cells, memory_with, step


def splitting(**overrides):
    """A memory that consolidates after every frame with only splitting on (3 views, 0.75)."""
    parts = {"every": 1, "merge_min_views": 0, "prune_min_frames": 0, "fill_passes": 0, "min_voxels": 1,
             "split_min_views": 3, "split_min_voxels": 2, "join_supports": False, **overrides}
    return memory_with(consolidation=ConsolidationConfig(**parts))


def test_a_divided_instance_gives_each_share_a_part_and_counts_pairs():
    ledger = PartLedger()
    map_ids = np.array([1, 1, 1, 1, 1, 1])
    part = ledger.observe(map_ids, np.array([1, 1, 1, 1, 1, 1]), np.zeros(6, np.int64), 0.5, 1)
    assert part.tolist() == [1] * 6 and ledger.counts == {}  # one frame instance: one new part
    part = ledger.observe(map_ids, np.array([1, 1, 1, 1, 2, 2]), part, 0.5, 1)
    assert part.tolist() == [1, 1, 1, 1, 2, 2]  # the larger share keeps part 1, the other takes a new one
    assert ledger.counts == {}  # part 1 was held by one frame instance: no pair seen yet
    part = ledger.observe(map_ids, np.array([2, 2, 2, 2, 1, 1]), part, 0.5, 1)
    assert part.tolist() == [1, 1, 1, 1, 2, 2] and ledger.counts == {(1, 2): [0, 1]}  # ids are frame-local
    kept = ledger.observe(map_ids, np.ones(6, np.int64), part, 0.5, 1)  # one frame instance holds both
    assert kept.tolist() == part.tolist() and ledger.counts == {(1, 2): [1, 1]}  # parts stay, counted together
    assert not ledger.apart(1, 2, min_views=1, ratio=0.75) and ledger.apart(1, 2, min_views=1, ratio=0.5)
    assert not ledger.apart(1, 2, min_views=2, ratio=0.5)


def test_a_share_that_grows_over_new_surface_keeps_its_part():
    ledger = PartLedger()
    map_ids = np.ones(10, np.int64)
    part = ledger.observe(map_ids[:4], np.array([1, 1, 2, 2]), np.zeros(4, np.int64), 0.5, 1)
    assert part.tolist() == [1, 1, 2, 2]
    # the next frame sees each share again with three voxels seen for the first time (part 0)
    seen = np.array([1, 1, 0, 0, 0, 2, 2, 0, 0, 0])
    grown = ledger.observe(map_ids, np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]), seen, 0.5, 1)
    assert grown.tolist() == [1] * 5 + [2] * 5  # no new parts: the evidence stays on parts 1 and 2
    assert ledger.counts == {(1, 2): [0, 1]} and ledger.next_part == 3


def test_parts_are_counted_within_one_map_instance_only():
    ledger = PartLedger()
    part = ledger.observe(np.array([1, 1, 2, 2]), np.array([1, 1, 2, 2]), np.zeros(4, np.int64), 0.5, 1)
    assert part.tolist() == [1, 1, 2, 2]
    ledger.observe(np.array([1, 1, 2, 2]), np.array([1, 1, 2, 2]), part, 0.5, 1)
    assert ledger.counts == {}  # parts 1 and 2 lie in different map instances


def test_parts_kept_apart_by_views_become_instances_of_their_own():
    memory = splitting()
    step(memory, [cells(0, 6) + cells(10, 13)], index=0)  # a fused first view: one instance
    for index in range(1, 4):  # later views hold the two apart, and association sends both to id 1
        step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=index)
        assert memory.alive_ids().tolist() == [1]
    step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=4)  # the third frame that saw both apart
    assert memory.alive_ids().tolist() == [1, 2]
    owners = dict(zip(np.floor(memory.scene_map().xyz[:, 0] / 0.1).astype(int).tolist(),
                      memory.scene_map().instance_ids.tolist()))
    assert [owners[x] for x in range(6)] == [1] * 6 and [owners[x] for x in range(10, 13)] == [2] * 3
    assert memory.instances().num_points.tolist() == [6, 3]
    assert memory._inst["num_cells"][:2].tolist() == [6, 3]
    # the next view sends each frame instance to its own map instance
    _, created, updated = step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 2], index=5)
    assert created == [] and updated == [1, 2] and memory.alive_ids().tolist() == [1, 2]


def test_parts_that_views_mostly_group_stay_one_instance():
    memory = splitting()
    step(memory, [cells(0, 6) + cells(10, 13)], index=0)
    step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=1)  # parts made
    for index in range(2, 12):  # apart in every other frame: half the frames, below 0.75
        groups = [cells(0, 6), cells(10, 13)] if index % 2 else [cells(0, 6) + cells(10, 13)]
        step(memory, groups, matches=[1] * len(groups), index=index)
    assert memory.alive_ids().tolist() == [1]
    off = splitting(split_min_views=0)
    for index in range(6):
        step(off, [cells(0, 6), cells(10, 13)], matches=[index and 1, index and 1], index=index)
    assert off.alive_ids().tolist() == [1, 2] or off.alive_ids().tolist() == [1]
    assert off.num_ids == 2 and len(off._parts.counts) == 0  # splitting off: no part evidence is kept


def test_parts_and_their_evidence_survive_a_state_round_trip():
    memory = splitting()
    step(memory, [cells(0, 6) + cells(10, 13)], index=0)
    for index in range(1, 3):
        step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=index)
    state = memory.state()
    assert state["part_evidence"].tolist() == [[1, 2, 0, 1]]
    back = SceneMemory.from_state(state, memory.config, "test")
    assert back._parts.next_part == memory._parts.next_part == 3
    for index in (3, 4):
        for m in (memory, back):
            step(m, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=index)
        assert back.alive_ids().tolist() == memory.alive_ids().tolist() == ([1] if index == 3 else [1, 2])
    old = {k: v for k, v in state.items() if k not in ("part_evidence", "voxel_part")}  # a version-4 state
    loaded = SceneMemory.from_state(old, memory.config, "test")
    assert loaded._voxels.table["part"].tolist() == [0] * 9 and loaded._parts.counts == {}
    with pytest.raises(ValueError, match="part_evidence"):
        SceneMemory.from_state({**state, "part_evidence": np.array([[0, 2, 1, 1]])}, memory.config, "test")


def test_split_settings_are_checked():
    with pytest.raises(ValueError, match="split_ratio"):
        ConsolidationConfig(split_ratio=1.5)
    with pytest.raises(ValueError, match="split_min_views"):
        ConsolidationConfig(split_min_views=-1)


def test_oversegment_pieces_are_not_split_unless_configured():
    from samosaic3d_core.memory import MemoryConfig, memory_config_for_masks

    config = MemoryConfig(consolidation=ConsolidationConfig(split_min_views=3))
    assert memory_config_for_masks(config, "sim").consolidation.split_min_views == 3
    assert memory_config_for_masks(config, "fastsam") is config
    assert memory_config_for_masks(config, "oversegment").consolidation.split_min_views == 0
    same = MemoryConfig(consolidation=ConsolidationConfig(split_min_views=3, oversegment_split_min_views=None))
    assert memory_config_for_masks(same, "oversegment").consolidation.split_min_views == 3
    with pytest.raises(ValueError, match="oversegment_split_min_views"):
        ConsolidationConfig(oversegment_split_min_views=-2)


def test_oversegment_pieces_keep_no_outlines_on_walls_unless_configured():
    from samosaic3d_core.memory import MemoryConfig, memory_config_for_masks
    from samosaic3d_core.memory_structure import StructureConfig

    config = MemoryConfig()
    assert memory_config_for_masks(config, "sim").structure.enclosed
    assert not memory_config_for_masks(config, "oversegment").structure.enclosed
    same = MemoryConfig(structure=StructureConfig(oversegment_enclosed=None))
    assert memory_config_for_masks(same, "oversegment").structure.enclosed


def test_the_segmenter_builds_its_memory_for_its_mask_source():
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    for source, views, enclosed in (("oversegment", 0, False), ("sim", 3, True)):
        config = SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": source})
        memory = OnlineSegmenter.from_config(config).memory.config
        assert memory.consolidation.split_min_views == views and memory.structure.enclosed == enclosed


def test_splitting_and_merging_back_again_and_again_keeps_the_counts_bounded():
    memory = splitting()
    step(memory, [cells(0, 6) + cells(10, 13)], index=0)
    for index in range(1, 5):
        step(memory, [cells(0, 6), cells(10, 13)], matches=[1, 1], index=index)
    assert memory.alive_ids().tolist() == [1, 2]
    inst = memory._inst
    weight, piece = inst["feat_weight"][:2].sum(), 2
    for _ in range(80):  # each merge back and split again used to double the frame counts
        memory.merge(1, piece)
        assert memory.alive_ids().tolist() == [1]
        assert inst["obs_count"][0] <= 5 and inst["seen_frames"][0] <= 5
        assert inst["given_frames"][0] <= inst["seen_frames"][0]
        np.testing.assert_allclose(inst["feat_weight"][0], weight)
        piece = memory._split_off(1, np.flatnonzero(np.floor(memory._voxels.table["xyz"][:, 0] / 0.1) >= 10))
        assert memory.alive_ids().tolist() == [1, piece]
    assert inst["obs_count"][[0, piece - 1]].tolist() == [5, 5]
