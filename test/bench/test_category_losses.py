"""bench/category_losses.py: each object's best IoU and where its points went, per category."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import category_losses  # noqa: E402


def test_an_object_in_two_instances_and_partly_unlabelled():
    gt = np.array([1] * 10 + [2] * 5 + [0] * 5)
    masks = np.zeros((2, 20), bool)
    masks[0, :6] = True  # 6 of object 1
    masks[1, 6:8] = True  # 2 more of object 1; 2 of its points are in no instance
    masks[1, 10:15] = True  # and all of object 2
    masks[1, 15:17] = True  # and 2 points of no object
    chair, box = category_losses.object_losses(gt, masks, {1: "chair", 2: "box"}, min_points=1)
    assert chair.best_iou == pytest.approx(6 / 10) and chair.in_best == pytest.approx(0.6)
    assert chair.in_others == pytest.approx(0.2) and chair.unlabelled == pytest.approx(0.2)
    assert box.best_iou == pytest.approx(5 / 9) and box.in_best == 1.0 and box.unlabelled == 0.0
    assert [o.category for o in category_losses.object_losses(gt, masks, {1: "chair", 2: "box"}, 6)] == ["chair"]
    assert category_losses.object_losses(gt, masks, {3: "cup"}, 1) == [], "an object with no scored points"


def test_no_instance_leaves_an_object_unlabelled():
    (loss,) = category_losses.object_losses(np.array([1, 1, 0]), np.zeros((0, 3), bool), {1: "cup"}, 1)
    assert (loss.best_iou, loss.in_best, loss.in_others, loss.unlabelled) == (0.0, 0.0, 0.0, 1.0)


def test_the_table_has_a_row_per_category_most_objects_first():
    losses = [category_losses.ObjectLoss("chair", 0.4, 0.5, 0.3, 0.2),
              category_losses.ObjectLoss("box", 0.9, 0.9, 0.1, 0.0),
              category_losses.ObjectLoss("box", 0.5, 0.6, 0.2, 0.2)]
    header, rule, box, chair = category_losses.category_table(losses)
    assert header.startswith("| category | objects |") and rule.startswith("|---|")
    assert box == "| box | 2 | 0.70 | 100 % | 0.75 | 0.15 | 0.10 |"
    assert chair == "| chair | 1 | 0.40 | 0 % | 0.50 | 0.30 | 0.20 |"


def test_pieces_are_object_instances_that_do_not_hold_most_of_their_object():
    gt = np.array([1] * 6 + [2] * 4 + [0] * 4)
    xyz = np.zeros((14, 3))
    xyz[:, 2] = np.arange(14) / 10
    masks = np.zeros((4, 14), bool)
    masks[0, :4] = True  # most of object 1: its own
    masks[1, 4:6] = True  # the rest of object 1: a piece
    masks[1, 10:11] = True  # and one point of no object
    masks[2, 6:10] = True  # all of object 2
    masks[3, 11:14] = True  # no object's points: not an object instance
    (piece,) = category_losses.find_pieces(gt, masks, xyz, {1: "shelf", 2: "box"}, min_points=1)
    assert (piece.instance, piece.points, piece.category, piece.object_id) == (1, 3, "shelf", 1)
    assert piece.share == pytest.approx(2 / 6) and piece.z_range == pytest.approx((0.4, 1.0))
    assert category_losses.find_pieces(gt, masks, xyz, {1: "shelf"}, min_points=4) == [], "too small"
