"""Map consolidation: view-consensus merges, pruning, label fill and smoothing, evidence persistence."""

import numpy as np
import pytest

from samosaic3d_core.memory import SceneMemory
from samosaic3d_core.memory_consolidation import ConsolidationConfig, PairEvidence, frame_grouping, mode_labels
from test.core.test_memory import cells, memory_with, step


def consolidating(**overrides):
    """A memory that consolidates after every frame, with only the parts named in ``overrides`` on."""
    parts = {"every": 1, "merge_min_views": 0, "prune_min_frames": 0, "fill_passes": 0, "min_voxels": 1, **overrides}
    return memory_with(consolidation=ConsolidationConfig(**parts))


def test_frame_grouping_takes_the_majority_target_of_each_observed_instance():
    owner = np.array([1, 1, 1, 2, 2, 3, 0, 0])
    target = np.array([5, 5, 6, 5, 0, 7, 5, 0])
    observed, into = frame_grouping(owner, target, min_share=0.5, min_voxels=1)
    assert observed.tolist() == [1, 2, 3] and into.tolist() == [5, 5, 7]
    # id 1 has 2 of 3 voxels in 5: below a 0.7 share it gives no evidence; too few voxels neither
    observed, _ = frame_grouping(owner, target, min_share=0.7, min_voxels=1)
    assert observed.tolist() == [2, 3]
    assert frame_grouping(owner, target, 0.5, min_voxels=2)[0].tolist() == [1]


def test_pair_evidence_counts_views_that_group_or_separate():
    evidence = PairEvidence()
    evidence.observe(np.array([1, 2, 3]), np.array([1, 1, 3]))  # 1 and 2 grouped, 3 apart (not kept: never grouped)
    assert evidence.counts == {(1, 2): [1, 0]}
    evidence.observe(np.array([1, 2]), np.array([4, 4]))  # both absorbed into 4: (1,2), (1,4), (2,4) together
    evidence.observe(np.array([1, 2]), np.array([1, 2]))  # kept apart once
    assert evidence.counts[(1, 2)] == [2, 1] and evidence.counts[(1, 4)] == [1, 0]
    assert evidence.merges(min_views=2, ratio=0.6) == [(1, 2)]
    assert evidence.merges(min_views=2, ratio=0.7) == []
    assert evidence.merges(min_views=0, ratio=0.0) == []
    evidence.merge_ids(keep=1, gone=2)  # (2, 4) is added to (1, 4), (1, 2) disappears
    assert evidence.counts == {(1, 4): [2, 0]}
    back = PairEvidence.from_state(evidence.state(), num_ids=4, source="test")
    assert back.counts == evidence.counts
    with pytest.raises(ValueError, match="outside 1..3"):
        PairEvidence.from_state(evidence.state(), num_ids=3, source="test")


def test_pair_evidence_can_count_every_frame_that_kept_a_pair_apart():
    frames = [([1, 2, 3], [1, 2, 3]), ([1, 2, 3], [1, 2, 3]), ([1, 2], [1, 1])]  # apart twice, then grouped
    late, every = PairEvidence(), PairEvidence("all")
    for observed, into in frames:
        for evidence in (late, every):
            evidence.observe(np.array(observed), np.array(into))
    assert late.counts == {(1, 2): [1, 0]}  # only frames after the first grouping count
    assert every.counts == {(1, 2): [1, 2], (1, 3): [0, 2], (2, 3): [0, 2]}
    assert late.merges(min_views=1, ratio=0.5) == [(1, 2)] and every.merges(min_views=1, ratio=0.5) == []
    assert every.merges(min_views=1, ratio=0.3) == [(1, 2)]
    back = PairEvidence.from_state(every.state(), num_ids=3, source="test", count_apart="all")
    back.observe(np.array([2, 3]), np.array([2, 3]))
    assert back.count_apart == "all" and back.counts[(2, 3)] == [0, 3]


def test_mode_labels_fills_unlabelled_voxels_and_smooths_outvoted_ones():
    labels = np.array([0, 1, 1, 2, 0])
    neighbours = np.array([[1, 2, 3], [0, 2, 4], [0, 1, 3]])  # of rows 0, 1, 2
    rows = np.array([0, 1, 2])
    filled = mode_labels(labels, neighbours, rows, passes=1, fill_only=True)
    assert filled.tolist() == [1, 1, 1, 2, 0]  # row 0 sees 1, 1, 2
    smoothed = mode_labels(np.array([1, 2, 1, 1, 0]), np.array([[1, 2, 3]]), np.array([1]), passes=1, fill_only=False)
    assert smoothed.tolist() == [1, 1, 1, 1, 0]
    # unlabelled neighbours outvote: nothing changes
    assert mode_labels(np.array([0, 1, 0, 0]), np.array([[1, 2, 3]]), np.array([0]), 1, True).tolist() == [0, 1, 0, 0]


def test_a_revisit_that_started_a_new_instance_is_merged_into_the_old_one():
    memory = consolidating(merge_min_views=2, merge_ratio=0.6)
    for index in range(3):
        step(memory, [cells(0, 6)], matches=[index and 1], index=index)  # id 1, confidently owned
    step(memory, [cells(0, 6)], matches=[0], index=3)  # association missed it: id 2 votes on 1's voxels
    assert memory.alive_ids().tolist() == [1, 2] or memory.alive_ids().tolist() == [1]
    assert memory.num_ids == 2
    step(memory, [cells(0, 6)], matches=[2], index=4)
    assert memory.alive_ids().tolist() == [1]  # the older id survives
    assert memory.instances().num_points.tolist() == [6]
    assert memory.scene_map().instance_ids.tolist() == [1] * 6
    assert memory._inst["obs_count"][0] == 5


def test_instances_kept_apart_by_most_views_are_not_merged():
    memory = consolidating(merge_min_views=2, merge_ratio=0.6)
    step(memory, [cells(0, 4), cells(10, 14)], index=0)  # ids 1 and 2
    step(memory, [cells(0, 4) + cells(10, 14)], matches=[1], index=1)  # one frame groups them
    for index in range(2, 6):
        step(memory, [cells(0, 4), cells(10, 14)], matches=[1, 2], index=index)
    assert memory.alive_ids().tolist() == [1, 2]


def test_an_instance_seen_in_one_frame_is_dissolved_and_its_voxels_unlabelled():
    memory = consolidating(prune_min_frames=2, prune_after=2)
    step(memory, [cells(0, 4), cells(20, 22)], index=0)  # id 2 is never seen again
    for index in range(1, 5):
        step(memory, [cells(0, 4)], matches=[1], index=index)
    assert memory.alive_ids().tolist() == [1]
    ids = memory.scene_map().instance_ids
    assert sorted(ids.tolist()) == [0, 0, 1, 1, 1, 1]
    assert memory.instances().num_points.tolist() == [4]


def test_a_small_instance_is_dissolved_once_unseen_a_large_one_stays():
    memory = consolidating(prune_min_voxels=3, prune_after=2)
    step(memory, [cells(0, 4), cells(20, 22), cells(30, 34)], index=0)  # ids 1-3; 2 is small
    for index in range(1, 5):  # only id 1 is seen again
        step(memory, [cells(0, 4)], matches=[1], index=index)
    assert memory.alive_ids().tolist() == [1, 3]  # 3 is as unseen as 2, but holds 4 voxels
    assert sorted(memory.scene_map().instance_ids.tolist()) == [0, 0] + [1] * 4 + [3] * 4
    memory = consolidating(prune_min_voxels=3, prune_after=2)
    for index in range(5):  # seen in every frame: a small instance stays while it is in view
        step(memory, [cells(20, 22)], matches=[index and 1], index=index)
    assert memory.alive_ids().tolist() == [1]


def test_fill_labels_a_hole_inside_an_instance_but_not_open_surroundings():
    memory = consolidating(fill_passes=2)
    hole = (2, 2, 0)
    plane = [(x, y, 0) for x in range(5) for y in range(5) if (x, y, 0) != hole]
    step_with_unlabelled(memory, plane, [hole] + [(x, 9, 0) for x in range(5)])
    labels = dict(zip(map(tuple, np.floor(memory.scene_map().xyz / 0.1).astype(int).tolist()),
                      memory.scene_map().instance_ids.tolist()))
    assert labels[hole] == 1  # surrounded by id 1
    assert all(labels[(x, 9, 0)] == 0 for x in range(5))  # a row of unlabelled voxels away from it stays
    assert memory.instances().num_points.tolist() == [25]


def step_with_unlabelled(memory, labelled, unlabelled, index=0):
    """One frame: one instance on ``labelled`` cells, points of no instance on ``unlabelled`` cells."""
    from samosaic3d_core.types import FramePoints, Instances

    coords = np.array(labelled + unlabelled, np.float64)
    local = np.r_[np.ones(len(labelled)), np.zeros(len(unlabelled))].astype(np.int64)
    xyz = ((coords + 0.5) * 0.1).astype(np.float32)
    points = FramePoints(xyz, np.full((len(xyz), 3), 100, np.uint8), np.arange(len(xyz)), local.astype(np.int32) - 1)
    sel = xyz[local == 1]
    instances = Instances(ids=np.array([1]), scores=np.array([0.5], np.float32), box_min=sel.min(0, keepdims=True),
                          box_max=sel.max(0, keepdims=True), num_points=np.array([len(labelled)]),
                          feats=np.ones((1, 2), np.float32))
    return memory.integrate(memory.observe(points, instances, local, index, 0.0), np.zeros(1, np.int64))


def test_evidence_survives_a_state_round_trip():
    memory = consolidating(merge_min_views=3)
    for index in range(3):
        step(memory, [cells(0, 6)], matches=[index and 1], index=index)
    step(memory, [cells(0, 6)], matches=[0], index=3)
    step(memory, [cells(0, 6)], matches=[2], index=4)
    state = memory.state()
    assert state["pair_evidence"].tolist() == [[1, 2, 2, 0]]
    back = SceneMemory.from_state(state, memory.config, "test")
    for m in (memory, back):
        step(m, [cells(0, 6)], matches=[2], index=5)
    assert back.alive_ids().tolist() == memory.alive_ids().tolist() == [1]
    del state["pair_evidence"]  # a state written before consolidation existed
    assert len(SceneMemory.from_state(state, memory.config, "test")._evidence) == 0


def test_the_memory_counts_apart_frames_as_configured_and_after_a_reload():
    memory = consolidating(merge_min_views=3, count_apart="all")
    step(memory, [cells(0, 3), cells(3, 6)], matches=[0, 0], index=0)  # two instances, kept apart
    step(memory, [cells(0, 3), cells(3, 6)], matches=[1, 2], index=1)
    assert memory.state()["pair_evidence"].tolist() == [[1, 2, 0, 1]]
    back = SceneMemory.from_state(memory.state(), memory.config, "test")
    assert back._evidence.count_apart == "all" and back._evidence.counts == {(1, 2): [0, 1]}


def test_consolidation_settings_are_checked():
    with pytest.raises(ValueError, match="merge_ratio"):
        ConsolidationConfig(merge_ratio=1.5)
    with pytest.raises(ValueError, match="every"):
        ConsolidationConfig(every=-1)
    with pytest.raises(ValueError, match="count_apart"):
        ConsolidationConfig(count_apart="never")
