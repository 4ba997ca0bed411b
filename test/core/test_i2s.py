"""I2S merger, the learned two-stage associator and the merge loss targets."""

import math

import numpy as np
import pytest
import torch

from samosaic3d_core.i2s_association import (
    LearnedAssociationConfig, LearnedAssociator, association_config_for_masks, best_above, join_apart,
)
from samosaic3d_core.losses import merge_loss, merge_targets
from samosaic3d_core.memory import MemoryConfig, SceneMemory
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger, box_pair_features
from samosaic3d_core.types import FramePoints, Instances
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)

E = np.eye(4, dtype=np.float32)


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_merge_matrix_shape_range_and_empty_inputs():
    torch.manual_seed(0)
    merger = I2SMerger(I2SConfig(feat_dim=8, color_dim=3))
    lo = torch.rand(7, 3) * 3
    boxes = torch.cat([lo, lo + 0.2 + torch.rand(7, 3)], dim=1)
    feats = torch.rand(7, 11)
    overlap = torch.rand(3, 4, 2)
    merge = merger.merge_matrix(feats[:3], boxes[:3], feats[3:], boxes[3:], overlap)
    assert merge.shape == (3, 4) and bool(((merge >= 0) & (merge <= 1)).all())
    assert merger(feats[:0], boxes[:0], feats[3:], boxes[3:]).shape == (0, 4)
    assert merger(feats[:3], boxes[:3], feats[:0], boxes[:0]).shape == (3, 0)
    assert merger(feats[:0], boxes[:0], feats[:0], boxes[:0]).shape == (0, 0)
    with pytest.raises(ValueError, match=r"11 wide \(query 8 \+ colour 3\), got 8 and 11"):
        merger(feats[:3, :8], boxes[:3], feats[3:], boxes[3:])


def test_box_pair_features_exact():
    frame = _boxes([0, 0, 0, 1, 1, 1])
    memory = _boxes([0.5, 0, 0, 1.5, 1, 1], [2, 0, 0, 3, 1, 1], [2, 2, 0, 3, 3, 1])
    iou, gap, dist = box_pair_features(frame, memory)
    torch.testing.assert_close(iou, torch.tensor([[1 / 3, 0.0, 0.0]]))
    torch.testing.assert_close(gap, torch.tensor([[0.0, 1.0, math.sqrt(2)]]))
    torch.testing.assert_close(dist, torch.tensor([[0.5, 2.0, math.sqrt(8)]]))


@pytest.mark.parametrize("perturb", [False, True])
def test_farther_boxes_merge_less(perturb):
    """All else equal (features, box sizes, overlap), moving the memory box away lowers M, trained or not."""
    merger = I2SMerger(I2SConfig(feat_dim=4, color_dim=2))
    if perturb:  # any weights: the linear weights stay >= 0 and the pair MLP sees no distances
        torch.manual_seed(1)
        with torch.no_grad():
            for p in merger.parameters():
                p.add_(torch.randn_like(p))
    feats = torch.tensor([[1.0, 0.5, 0.0, 0.0, 0.3, 0.7]])
    shifts = torch.tensor([0.0, 0.3, 0.8, 1.5, 3.0])
    memory = torch.stack([torch.tensor([s, 0, 0, s + 1, 1, 1.0]) for s in shifts])
    overlap = torch.full((1, len(shifts), 2), 0.4)
    merge = merger.merge_matrix(feats, _boxes([0, 0, 0, 1, 1, 1]), feats.expand(len(shifts), 6), memory, overlap)[0]
    assert bool((merge[1:] < merge[:-1]).all()), merge
    assert bool((merger.spatial_weights() >= 0).all())
    assert all(float(w.detach()) >= 0 for w in merger.linear_weights().values())


def test_untrained_merger_is_the_hand_set_prior():
    """Initial weights are deterministic: 2 cos_q + 2 cos_colour + 3 IoU + 5 containment + 1 owned
    - 20 gap - 0.5 dist - 5 (the pair MLP starts at 0)."""
    config = I2SConfig(feat_dim=4, color_dim=2)
    a, b = I2SMerger(config), I2SMerger(config)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    feats = torch.tensor([[1.0, 0, 0, 0, 1, 0], [0.6, 0.8, 0, 0, 0, 1]])
    overlap = torch.tensor([[[0.5, 0.25], [0.0, 0.0]]])
    logits = a(feats[:1], _boxes([0, 0, 0, 1, 1, 1]), feats, _boxes([0.5, 0, 0, 1.5, 1, 1], [2, 0, 0, 3, 1, 1]), overlap)
    expected = torch.tensor([[2 + 2 + 3 / 3 + 5 * 0.5 + 0.25 - 0.25 - 5, 2 * 0.6 + 0 - 20 - 1.0 - 5]])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_merge_targets_and_loss_exact():
    target = merge_targets(torch.tensor([3, 0, 5]), torch.tensor([5, 3, 0, 3]))
    assert target.tolist() == [[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]]
    loss = merge_loss(torch.zeros(1, 4), torch.tensor([[1.0, 0, 0, 0]]), pos_weight=3.0)
    assert float(loss) == pytest.approx(math.log(2) * (3 + 1 + 1 + 1) / 4)
    empty = merge_loss(torch.zeros(0, 4, requires_grad=True), torch.zeros(0, 4))
    assert float(empty.detach()) == 0.0 and empty.requires_grad


# ----------------------------------------------------------------- associator on a real memory
def _frame(boxes, feats):
    """Frame instances filling the given boxes with a 0.1 m grid of points."""
    xyz, local = [], []
    for k, (lo, hi) in enumerate(boxes):
        axes = [np.arange(lo[a] + 0.05, hi[a], 0.1) for a in range(3)]
        pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        xyz.append(pts)
        local.append(np.full(len(pts), k + 1))
    xyz = np.concatenate(xyz).astype(np.float32)
    local = np.concatenate(local).astype(np.int64)
    points = FramePoints(xyz, np.full((len(xyz), 3), 100, np.uint8), np.arange(len(xyz)), local.astype(np.int32) - 1)
    k = len(boxes)
    instances = Instances(
        ids=np.arange(1, k + 1), scores=np.ones(k, np.float32),
        box_min=np.array([b[0] for b in boxes], np.float32), box_max=np.array([b[1] for b in boxes], np.float32),
        num_points=np.bincount(local, minlength=k + 1)[1:], feats=np.asarray(feats, np.float32),
        centroid=np.array([(np.add(*b)) / 2 for b in boxes], np.float32),
    )
    return points, instances, local


def _step(memory, associator, boxes, feats, index, linkage=None, concave=None):
    points, instances, local = _frame(boxes, feats)
    instances.linkage = None if linkage is None else np.asarray(linkage, np.float32)
    instances.concave = None if concave is None else np.asarray(concave, bool)
    obs = memory.observe(points, instances, local, index, float(index))
    matches = associator(obs, memory)
    memory.integrate(obs, matches)
    return matches.tolist()


A, B, FAR = ((0, 0, 0), (1, 1, 1)), ((3, 0, 0), (4, 1, 1)), ((7, 0, 0), (8, 1, 1))


def test_stage_one_merges_by_place_and_lets_pieces_join_one_instance():
    memory = SceneMemory(MemoryConfig(short_term_size=5))
    associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)))
    assert _step(memory, associator, [A, B], E[[0, 1]], 0) == [0, 0]  # ids 1, 2
    halves = [((0, 0, 0), (0.5, 1, 1)), ((0.5, 0, 0), (1, 1, 1))]
    # A seen again in two pieces (both join 1), and a new object far away
    assert _step(memory, associator, [*halves, FAR], E[[0, 0, 2]], 1) == [1, 1, 0]
    assert memory.short_term_ids() == [2, 1, 3]
    # next to B but not on it (0.3 m gap) with B's feature: the gap keeps them apart
    assert _step(memory, associator, [((4.3, 0, 0), (5, 1, 1))], E[[1]], 2) == [0]


def test_stage_one_uses_the_trained_threshold():
    memory = SceneMemory(MemoryConfig(short_term_size=5))
    strict = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)), LearnedAssociationConfig(i2s_merge_threshold=0.9999))
    assert _step(memory, strict, [A], E[[0]], 0) == [0]
    assert _step(memory, strict, [((0, 0, 0), (0.5, 1, 1))], E[[3]], 1) == [0]  # M ~ 0.99 < 0.9999


def test_stage_two_rescues_a_long_term_instance_and_promotes_it():
    memory = SceneMemory(MemoryConfig(short_term_size=1))
    associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)), LearnedAssociationConfig(long_term_iou=0.25))
    assert _step(memory, associator, [A], E[[0]], 0) == [0]
    assert _step(memory, associator, [B], E[[1]], 1) == [0]
    assert memory.short_term_ids() == [2] and memory.long_term_ids() == [1]
    # A again with a feature stage 1 would not accept: found in long-term by box IoU, promoted back
    assert _step(memory, associator, [((0, 0, 0), (1, 1, 0.8)), FAR], E[[2, 3]], 2) == [1, 0]
    assert memory.short_term_ids() == [3] and memory.long_term_ids() == [1, 2]  # FIFO of 1: 3 is newest
    assert memory.instances(np.array([1])).tier.tolist() == [1]


def test_stage_two_promotion_is_visible_before_the_next_new_instance():
    memory = SceneMemory(MemoryConfig(short_term_size=2))
    associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)))
    for index, (box, feat) in enumerate([(A, 0), (B, 1), (FAR, 2)]):
        assert _step(memory, associator, [box], E[[feat]], index) == [0]
    assert memory.long_term_ids() == [1]
    assert _step(memory, associator, [((0, 0, 0), (1, 0.9, 1))], E[[3]], 3) == [1]
    assert memory.short_term_ids() == [3, 1] and memory.long_term_ids() == [2]


def test_empty_frame_and_empty_memory():
    memory = SceneMemory()
    associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)))
    assert _step(memory, associator, [A, B], E[[0, 1]], 0) == [0, 0]
    points, _, _ = _frame([A], E[[0]])
    obs = memory.observe(points, Instances.empty(4), np.zeros(len(points.xyz), np.int64), 1, 1.0)
    assert associator(obs, memory).shape == (0,)


def test_join_apart_gives_the_second_of_two_apart_rows_its_next_best_column():
    score = np.array([[0.9, 0.6], [0.8, 0.7], [0.95, 0.1], [0.3, 0.2]])
    apart = np.zeros((4, 4), bool)
    assert join_apart(score, 0.5, apart).tolist() == [0, 0, 0, -1]  # nothing apart: best_above
    rows, cols = best_above(score, 0.5)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [0, 0, 0]
    apart[0, 1] = apart[1, 0] = True
    # row 2 (0.95) and row 0 (0.9) take column 0; row 1 may not join row 0 there: its next best
    assert join_apart(score, 0.5, apart).tolist() == [0, 1, 0, -1]
    apart[1, 2] = apart[2, 1] = True
    apart[0, 2] = apart[2, 0] = True
    # all three apart: row 2 (0.95) takes column 0, row 1 (0.7) column 1, row 0 has none left
    assert join_apart(score, 0.5, apart).tolist() == [-1, 1, 0, -1]


def test_frame_instances_the_frame_model_keeps_apart_do_not_join_one_map_instance():
    small = ((0.2, 0.2, 0.5), (0.5, 0.5, 0.9))  # a book inside A (a shelf)
    on_a = [((0, 0, 0), (1, 1, 1)), small]
    linkage = [[1.0, 0.01], [0.01, 1.0]]
    assert LearnedAssociationConfig().cannot_link == 0.05  # on by default
    for cannot_link, expected in ((0.0, [1, 1]), (0.05, [1, 0])):
        memory = SceneMemory(MemoryConfig(short_term_size=5))
        associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)), LearnedAssociationConfig(cannot_link=cannot_link))
        assert _step(memory, associator, [A], E[[0]], 0) == [0]
        # the book carries A's feature and lies in A's box: the merger alone sends both to map instance 1
        assert _step(memory, associator, on_a, E[[0, 0]], 1, linkage) == expected
    # a linkage above the setting, or none from the frame model, keeps today's association
    memory = SceneMemory(MemoryConfig(short_term_size=5))
    associator = LearnedAssociator(I2SMerger(I2SConfig(feat_dim=4)), LearnedAssociationConfig(cannot_link=0.05))
    assert _step(memory, associator, [A], E[[0]], 0) == [0]
    assert _step(memory, associator, on_a, E[[0, 0]], 1, [[1.0, 0.2], [0.2, 1.0]]) == [1, 1]
    assert _step(memory, associator, on_a, E[[0, 0]], 2) == [1, 1]
    # where the frame model tells the angle, only a concave meeting keeps them apart: two faces of
    # one counter meet at a convex one
    assert _step(memory, associator, on_a, E[[0, 0]], 3, linkage, [[False, False], [False, False]]) == [1, 1]
    assert _step(memory, associator, on_a, E[[0, 0]], 4, linkage, [[False, True], [True, False]])[0] == 1
    assert _step(memory, associator, on_a, E[[0, 0]], 5, linkage, [[False, True], [True, False]])[1] != 1


def test_cannot_link_has_its_own_value_for_oversegment_pieces():
    config = LearnedAssociationConfig(cannot_link=0.05)
    assert association_config_for_masks(config, "sim").cannot_link == 0.05
    assert association_config_for_masks(config, "oversegment").cannot_link == 0.0
    both = LearnedAssociationConfig(cannot_link=0.05, oversegment_cannot_link=None)
    assert association_config_for_masks(both, "oversegment").cannot_link == 0.05
    with pytest.raises(ValueError, match="cannot_link"):
        LearnedAssociationConfig(cannot_link=1.5)
