import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from samosaic3d_core.losses import (
    F2ITarget,
    LossConfig,
    box_giou,
    f2i_loss,
    frame_losses,
    hungarian_match,
    make_target,
    pairwise_dice,
    pairwise_mask_bce,
    query_losses,
)
from samosaic3d_core.model.f2i import F2IPrediction
from samosaic3d_core.model.heads import LayerPrediction
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)

BIG = 30.0  # logit that makes a probability 1 (or 0) in float32


def _prediction(mask_logits, boxes, objectness, assign, n_max=4) -> F2IPrediction:
    assign = torch.as_tensor(assign, dtype=torch.float32)
    full = torch.zeros(assign.shape[0], n_max)
    full[:, : assign.shape[1]] = assign
    layer = LayerPrediction(torch.as_tensor(mask_logits, dtype=torch.float32), torch.as_tensor(boxes, dtype=torch.float32),
                            torch.as_tensor(objectness, dtype=torch.float32))
    return F2IPrediction([layer], torch.zeros(n_max), full, full @ full.T, assign.shape[1], torch.zeros(assign.shape[1], 2),
                         torch.zeros(3), torch.ones(3))


def _target(masks, boxes=None) -> F2ITarget:
    masks = torch.as_tensor(masks, dtype=torch.float32)
    boxes = torch.full((len(masks), 6), 0.5) if boxes is None else torch.as_tensor(boxes, dtype=torch.float32)
    return F2ITarget(torch.arange(1, len(masks) + 1), masks, torch.ones(masks.shape[1], dtype=torch.bool), boxes)


def test_pairwise_bce_known_value():
    logits = torch.tensor([[0.0, 0.0], [BIG, -BIG]])
    targets = torch.tensor([[1.0, 0.0]])
    cost = pairwise_mask_bce(logits, targets)
    torch.testing.assert_close(cost[0, 0], torch.tensor(math.log(2.0)))
    assert cost[1, 0] < 1e-6
    ref = F.binary_cross_entropy_with_logits(torch.tensor([0.3, -1.2]), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(pairwise_mask_bce(torch.tensor([[0.3, -1.2]]), targets)[0, 0], ref)


def test_dice_perfect_is_zero_and_disjoint_is_near_one():
    targets = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    perfect = torch.tensor([[BIG, BIG, -BIG, -BIG]])
    disjoint = torch.tensor([[-BIG, -BIG, BIG, BIG]])
    assert pairwise_dice(perfect, targets).item() == pytest.approx(0.0, abs=1e-6)
    assert pairwise_dice(disjoint, targets).item() == pytest.approx(1 - 1 / 5, abs=1e-6)  # 1 - (0 + 1) / (2 + 2 + 1)


def test_hungarian_picks_the_right_pairing():
    gt = [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    order = [2, 0, 1]  # query j predicts gt order[j]
    logits = (torch.tensor(gt, dtype=torch.float32)[order] * 2 - 1) * BIG
    layer = LayerPrediction(logits, torch.full((3, 6), 0.5), torch.zeros(3))
    rows, cols = hungarian_match(layer, _target(gt), LossConfig())
    assert dict(zip(rows.tolist(), cols.tolist())) == {0: 2, 1: 0, 2: 1}


def test_perfect_prediction_has_only_objectness_loss_left():
    gt = [[1, 1, 0, 0], [0, 0, 1, 1]]
    logits = (torch.tensor(gt, dtype=torch.float32) * 2 - 1) * BIG
    boxes = [[0.2, 0.3, 0.4, 0.1, 0.1, 0.1], [0.6, 0.6, 0.6, 0.2, 0.2, 0.2]]
    pred = _prediction(logits, boxes, [BIG, BIG], [[1, 0], [0, 1]])
    terms = frame_losses(pred, _target(gt, boxes), LossConfig())
    for name in ("mask_bce", "mask_dice", "box", "objectness"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-5), name


def test_unmatched_query_gets_objectness_target_zero():
    gt = [[1, 1, 0, 0]]
    logits = torch.tensor([[BIG, BIG, -BIG, -BIG], [0.0, 0.0, 0.0, 0.0]])
    layer = LayerPrediction(logits, torch.full((2, 6), 0.5), torch.tensor([0.0, 0.0]))
    losses = query_losses(layer, _target(gt), LossConfig(objectness=1.0))
    torch.testing.assert_close(losses["objectness"], torch.full((2,), math.log(2.0)))  # BCE(0 logit) either way
    assert losses["mask_bce"][1] == 0 and losses["box"][1] == 0  # the unmatched query has no mask/box loss
    layer = LayerPrediction(logits, torch.full((2, 6), 0.5), torch.tensor([BIG, -BIG]))
    assert query_losses(layer, _target(gt), LossConfig())["objectness"].sum().item() == pytest.approx(0.0, abs=1e-6)


def test_assignment_weights_are_max_over_fragments():
    gt = [[1, 1, 0, 0], [0, 0, 1, 1]]
    logits = torch.tensor([[BIG, BIG, -BIG, -BIG], [0.0, 0.0, 0.0, 0.0]])  # query 0 perfect, query 1 unsure
    assign = [[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]]  # w = [1.0, 0.5]
    cfg = LossConfig(box_l1=0.0, objectness=0.0, count=0.0)
    pred = _prediction(logits, torch.full((2, 6), 0.5), [0.0, 0.0], assign)
    per_query = query_losses(pred.final, _target(gt), cfg)
    l0 = per_query["mask_bce"][0] + per_query["mask_dice"][0]
    l1 = per_query["mask_bce"][1] + per_query["mask_dice"][1]
    total = frame_losses(pred, _target(gt), cfg)["total"]
    torch.testing.assert_close(total, (1.0 * l0 + 0.5 * l1) / 1.5)
    unweighted = frame_losses(pred, _target(gt), LossConfig(box_l1=0.0, objectness=0.0, count=0.0, assignment_weighting=False))
    torch.testing.assert_close(unweighted["total"], (l0 + l1) / 2)


def test_weights_pass_gradient_to_assignment_only_when_not_detached():
    gt = [[1, 1, 0, 0]]
    for detach in (True, False):
        assign = torch.tensor([[0.6, 0.4], [0.3, 0.7]], requires_grad=True)
        pred = _prediction(torch.zeros(2, 4), torch.full((2, 6), 0.5), [0.0, 0.0], assign)
        pred.final.mask_logits.requires_grad_(True)
        frame_losses(pred, _target(gt), LossConfig(detach_weights=detach))["instance"].backward()
        assert (assign.grad is None or assign.grad.abs().sum() == 0) == detach


def test_count_loss_is_cross_entropy_over_one_to_n_max():
    pred = _prediction(torch.zeros(1, 2), torch.full((1, 6), 0.5), [0.0], [[1.0]], n_max=4)
    pred.count_logits = torch.tensor([0.0, 1.0, 2.0, 3.0])
    cfg = LossConfig()
    two = frame_losses(pred, _target([[1, 0], [0, 1]]), cfg)["count"]
    torch.testing.assert_close(two, F.cross_entropy(pred.count_logits[None], torch.tensor([1])))
    none = frame_losses(pred, _target(np.zeros((0, 2))), cfg)["count"]  # no instance -> class "1"
    torch.testing.assert_close(none, F.cross_entropy(pred.count_logits[None], torch.tensor([0])))


def test_frame_without_fragments_has_zero_loss_and_a_graph():
    pred = _prediction(torch.zeros(0, 5), torch.zeros(0, 6), torch.zeros(0), torch.zeros(0, 0))
    pred.count_logits = torch.zeros(4, requires_grad=True)
    terms = f2i_loss([pred], [_target(np.zeros((0, 5)))], LossConfig())
    assert terms.total.item() == 0.0
    terms.total.backward()  # does not raise


def test_make_target_keeps_instances_that_own_a_fragment():
    point_ids = np.array([1, 1, 1, 2, 2, 2, 0, 0, 3, 3])
    fragment = np.array([0, 0, 1, 1, 1, 1, 2, 2, -1, -1])  # frag 1: ids 1,2,2,2 -> 2; frag 2: unlabeled
    xyz = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 0, 0], [2, 1, 1], [3, 1, 1],
                    [0, 2, 0], [3, 2, 1], [0, 0, 1], [1, 1, 1]], np.float32)
    target = make_target(point_ids, fragment, 3, xyz, LossConfig(min_gt_points=1))
    assert target.ids.tolist() == [1, 2]  # 3 has no fragment
    assert target.masks.tolist() == [[1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]]
    assert target.valid.all()
    # frame box: origin (0,0,0), extent (3,2,1); instance 1 spans x 0..1, y 0..1, z 0..0
    torch.testing.assert_close(target.boxes[0], torch.tensor([0.5 / 3, 0.25, 0.0, 1 / 3, 0.5, 0.0]))
    assert make_target(point_ids, fragment, 3, xyz, LossConfig(min_gt_points=4)).ids.tolist() == []
    ignore = make_target(point_ids, fragment, 3, xyz, LossConfig(min_gt_points=1, unlabeled="ignore"))
    assert ignore.valid.tolist() == [True] * 6 + [False] * 2 + [True] * 2
    with pytest.raises(ValueError, match="differ"):
        make_target(point_ids[:-1], fragment, 3, xyz, LossConfig())


def test_box_giou_exact_values():
    a = torch.tensor([[0.5, 0.5, 0.5, 1.0, 1.0, 1.0]] * 2)
    b = torch.tensor([[0.5, 0.5, 0.5, 1.0, 1.0, 1.0], [2.5, 0.5, 0.5, 1.0, 1.0, 1.0]])
    # identical -> 1; disjoint unit cubes 1 m apart: IoU 0, hull 3, union 2 -> -(3 - 2) / 3
    torch.testing.assert_close(box_giou(a, b), torch.tensor([1.0, -1.0 / 3.0]))


def test_affinity_loss_exact_and_leaves_background_pairs_out():
    from samosaic3d_core.losses import affinity_loss

    ids = torch.tensor([3, 3, 5, 0, 0])
    w = torch.full((5, 5), 0.5)
    w[0, 1] = w[1, 0] = 0.8  # the one positive pair
    w[3, 4] = w[4, 3] = 0.99  # two background fragments: not counted
    # negatives: (0,2) (1,2) (0,3) (0,4) (1,3) (1,4) (2,3) (2,4), both ways, all at 0.5
    expected = 0.5 * (-np.log(0.8) - np.log(0.5))
    assert float(affinity_loss(w, ids)) == pytest.approx(expected, rel=1e-5)
    perfect = (ids[:, None] == ids[None, :]).float() * (ids[:, None] > 0)
    assert float(affinity_loss(perfect, ids)) < 1e-4
    w.requires_grad_(True)
    affinity_loss(w, ids).backward()
    assert float(w.grad[0, 1]) < 0 and float(w.grad[0, 2]) > 0 and float(w.grad[3, 4]) == 0.0
    assert float(affinity_loss(torch.zeros(2, 2), torch.tensor([0, 0]))) == 0.0


def test_affinity_loss_gives_near_negatives_their_own_group():
    from samosaic3d_core.losses import affinity_loss

    ids = torch.tensor([1, 1, 2, 3])
    w = torch.full((4, 4), 0.5)
    w[0, 1] = w[1, 0] = 0.8
    w[0, 2] = w[2, 0] = 0.9  # the one near negative pair (a box on a box), grouped by mistake
    near = torch.zeros(4, 4, dtype=torch.bool)
    near[0, 2] = near[2, 0] = True
    far_terms = -np.log(0.5)  # every far negative is at 0.5
    expected = (-np.log(0.8) - np.log(0.1) + far_terms) / 3
    assert float(affinity_loss(w, ids, near)) == pytest.approx(expected, rel=1e-5)
    # without the split, the near pair is one of 10 negative entries (both ways)
    pooled = (-np.log(0.8) + (2 * -np.log(0.1) + 8 * far_terms) / 10) / 2
    assert float(affinity_loss(w, ids)) == pytest.approx(pooled, rel=1e-5)


def test_fragment_box_gaps_exact():
    from samosaic3d_core.losses import fragment_box_gaps

    xyz = np.array([[0, 0, 0], [1, 1, 1], [1.5, 0, 0], [2, 1, 1], [4, 5, 1], [4, 5, 1]], float)
    gaps = fragment_box_gaps(xyz, np.array([0, 0, 1, 1, 2, 2]), 4)
    np.testing.assert_allclose(gaps[:3, :3], [[0, 0.5, np.hypot(3, 4)], [0.5, 0, np.hypot(2, 4)],
                                              [np.hypot(3, 4), np.hypot(2, 4), 0]])
    assert np.isinf(gaps[3]).all()  # a fragment without points


def test_make_target_gives_fragment_ids():
    point_ids = np.array([4, 4, 4, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9])
    fragment = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, -1])
    target = make_target(point_ids, fragment, 3, np.random.default_rng(0).random((16, 3)), LossConfig(min_gt_points=5))
    assert target.ids.tolist() == [9] and target.fragment_ids.tolist() == [0, 0, 9]  # 4 is too small a target
    assert target.fragment_near is None
    xyz = np.zeros((16, 3))
    xyz[5:15, 0] = 0.15  # fragment 2 lies 0.15 m from fragments 0 and 1
    near = make_target(point_ids, fragment, 3, xyz, LossConfig(min_gt_points=5, affinity_near_gap=0.1)).fragment_near
    assert near.tolist() == [[True, True, False], [True, True, False], [False, False, True]]


def test_loss_config_validation():
    with pytest.raises(ValueError, match="unlabeled"):
        LossConfig(unlabeled="drop")
