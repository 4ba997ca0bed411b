import numpy as np
import pytest

from samosaic3d_core.types import FramePoints, Fragments, Instances, MaskResult, SceneMap


def _instances(feats: bool = True) -> Instances:
    return Instances(
        ids=np.array([3, 5, 7], np.int64),
        scores=np.array([0.9, 0.2, 0.6], np.float32),
        box_min=np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]], np.float32),
        box_max=np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3]], np.float32),
        num_points=np.array([10, 20, 30], np.int64),
        feats=np.arange(6, dtype=np.float32).reshape(3, 2) if feats else None,
    )


def test_boolean_selection_keeps_rows_of_every_field():
    inst = _instances()
    kept = inst[inst.scores > 0.5]
    assert len(kept) == 2
    np.testing.assert_array_equal(kept.ids, [3, 7])
    np.testing.assert_array_equal(kept.num_points, [10, 30])
    np.testing.assert_array_equal(kept.box_min, [[0, 0, 0], [2, 2, 2]])
    np.testing.assert_array_equal(kept.feats, [[0, 1], [4, 5]])
    assert kept.centroid is None and kept.tier is None  # absent fields stay absent


def test_index_array_slice_and_integer_selection():
    inst = _instances()
    np.testing.assert_array_equal(inst[np.array([2, 0])].ids, [7, 3])
    np.testing.assert_array_equal(inst[[1, 1]].scores, np.array([0.2, 0.2], np.float32))
    np.testing.assert_array_equal(inst[1:].ids, [5, 7])
    one = inst[-1]
    assert len(one) == 1 and one.ids.tolist() == [7] and one.feats.tolist() == [[4, 5]]
    assert len(inst[[]]) == 0 and inst[[]].feats.shape == (0, 2)
    assert len(inst[np.zeros(3, bool)]) == 0


def test_selection_picks_rows_and_columns_of_the_pairwise_linkage():
    inst = _instances()
    inst.linkage = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.testing.assert_array_equal(inst[np.array([2, 0])].linkage, [[8, 6], [2, 0]])
    np.testing.assert_array_equal(inst[inst.scores > 0.5].linkage, [[0, 2], [6, 8]])
    np.testing.assert_array_equal(inst[1:].linkage, [[4, 5], [7, 8]])
    assert inst[1].linkage.tolist() == [[4]] and inst[[]].linkage.shape == (0, 0)
    inst.concave = np.eye(3, dtype=bool)[[1, 2, 0]]  # 0-1, 1-2, 2-0 (one way round)
    assert inst[np.array([2, 0])].concave.tolist() == [[False, True], [False, False]]
    with pytest.raises(ValueError, match="linkage"):
        inst.linkage = np.zeros((2, 2), np.float32)


def test_selection_errors_name_the_problem():
    inst = _instances()
    with pytest.raises(IndexError, match="index 3 out of range for 3 elements"):
        inst[3]
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) for 3 elements"):
        inst[np.array([True, False])]


def test_unequal_lengths_are_rejected_naming_the_fields():
    with pytest.raises(ValueError, match="Instances: .*lengths ids 3, scores 2, box_min 3"):
        Instances(np.arange(3), np.zeros(2, np.float32), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="feats 4"):
        Instances(np.arange(3), np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros(3), feats=np.zeros((4, 2)))


def test_reassigning_a_field_checks_its_length():
    inst = _instances()
    inst.ids = np.array([1, 2, 3])  # same length: fine
    inst.feats = None  # fields may be absent
    with pytest.raises(ValueError, match=r"Instances.feats: got 2 entries, the other fields \(ids, ...\) have 3"):
        inst.feats = np.zeros((2, 4))
    np.testing.assert_array_equal(inst.ids, [1, 2, 3])
    assert inst.feats is None


def test_len_of_each_container():
    assert len(Instances.empty(4)) == 0
    points = FramePoints(np.zeros((4, 3), np.float32), np.zeros((4, 3), np.uint8), np.arange(4), np.full(4, -1, np.int32))
    assert len(points) == 4
    members = points[np.array([True, False, True, False])]
    np.testing.assert_array_equal(members.pixel, [0, 2])
    frags = Fragments(np.arange(2), np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3)), np.array([5, 6]), np.ones(2))
    assert len(frags) == 2 and frags[[1]].num_points.tolist() == [6]
    scene_map = SceneMap(np.zeros((5, 3), np.float32), None, np.arange(5, dtype=np.int32), np.zeros(5, np.float32))
    assert len(scene_map) == 5 and scene_map[scene_map.instance_ids > 2].instance_ids.tolist() == [3, 4]
    with pytest.raises(ValueError, match="SceneMap: .*xyz 5, instance_ids 4"):
        SceneMap(np.zeros((5, 3)), None, np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="FramePoints: .*pixel 3"):
        FramePoints(np.zeros((4, 3)), np.zeros((4, 3)), np.arange(3), np.zeros(4))


def test_mask_result_needs_one_score_per_mask():
    assert len(MaskResult(np.zeros((2, 3, 4), bool), np.ones(2, np.float32), np.full((3, 4), -1))) == 2
    with pytest.raises(ValueError, match="2 masks but 1 scores"):
        MaskResult(np.zeros((2, 3, 4), bool), np.ones(1, np.float32), np.full((3, 4), -1))


def test_mask_result_without_masks_builds_them_from_the_fragment_map():
    fragment_map = np.array([[0, 0, 1, -1], [2, 2, 1, -1], [2, -1, -1, -1]], np.int32)
    result = MaskResult(None, np.array([0.9, 0.8, 0.7], np.float32), fragment_map)
    assert len(result) == 3
    assert result.masks.shape == (3, 3, 4)
    for k in range(3):
        np.testing.assert_array_equal(result.masks[k], fragment_map == k)
    assert not result.masks.any(axis=0)[fragment_map < 0].any()
    with pytest.raises(ValueError, match="indexes mask 2 but there are 2 scores"):
        MaskResult(None, np.ones(2, np.float32), fragment_map)
