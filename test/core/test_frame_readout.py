"""Fragment-snapped readouts (affinity, fragments) of the learned frame model, on hand-made predictions."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from samosaic3d_core.model.f2i import W_GROUP_THRESHOLD
from samosaic3d_core.model.frame_model import (
    F2IFrameConfig, group_by_affinity, instance_linkage, label_affinity, label_fragments,
)


def prediction(mask_logits, objectness, assign=None):
    final = SimpleNamespace(mask_logits=torch.tensor(mask_logits, dtype=torch.float32),
                            objectness=torch.tensor(objectness, dtype=torch.float32))
    if assign is None:
        return SimpleNamespace(final=final)
    assign = torch.tensor(assign, dtype=torch.float32)
    affinity = assign @ assign.T
    return SimpleNamespace(final=final, assign=assign, active_assign=assign, affinity=affinity,
                           grouping_affinity=affinity)


def test_group_by_affinity_is_average_linkage_cut_at_the_threshold():
    affinity = np.array([
        [1.0, 0.9, 0.6, 0.0],
        [0.9, 1.0, 0.2, 0.0],
        [0.6, 0.2, 1.0, 0.1],
        [0.0, 0.0, 0.1, 1.0],
    ])
    # 0-1 join at 0.9; {0, 1}-2 has mean affinity (0.6 + 0.2) / 2 = 0.4
    assert group_by_affinity(affinity, 0.5).tolist() == [0, 0, 1, 2]
    assert group_by_affinity(affinity, 0.35).tolist() == [0, 0, 0, 1]
    assert group_by_affinity(affinity, 0.4).tolist() == [0, 0, 1, 2]  # exactly at the threshold: apart
    assert group_by_affinity(affinity, 0.95).tolist() == [0, 1, 2, 3]
    assert group_by_affinity(np.ones((1, 1)), 0.5).tolist() == [0] and len(group_by_affinity(np.ones((0, 0)), 0.5)) == 0


def test_affinity_readout_groups_fragments_and_scores_them_by_their_query():
    fragment = np.array([0, 0, 1, 1, 2, 2, -1])
    assign = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]  # W01 = 0.9, W02 = 0, W12 = 0.1
    masks = [[5, 5, 5, 5, -5, -5, 0], [-5, -5, -5, -5, 0, 0, 0]]
    pred = prediction(masks, [5.0, 2.0], assign)
    labels, source, scores = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=0.5, fill_unassigned=False))
    assert labels.tolist() == [1, 1, 1, 1, 2, 2, 0] and source.tolist() == [0, 1]
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(scores, [sig(5.0) * sig(5.0), sig(2.0) * 0.5], rtol=1e-5)
    labels, source, _ = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=0.95))
    assert sorted(source.tolist()) == [0, 0, 1] and len(set(labels[:6].tolist())) == 3


def test_instance_linkage_is_the_mean_affinity_between_the_fragments_of_two_instances():
    affinity = np.array([
        [1.0, 0.9, 0.3, 0.0],
        [0.9, 1.0, 0.1, 0.2],
        [0.5, 0.1, 1.0, 0.0],  # asymmetric entry 2-0: read as (0.3 + 0.5) / 2
        [0.0, 0.2, 0.0, 1.0],
    ])
    fragment = np.array([0, 0, 1, 2, 2, 3, -1])
    labels = np.array([2, 2, 2, 1, 1, 3, 0])  # instances {2}, {0, 1}, {3} as local ids 1, 2, 3
    linkage = instance_linkage(affinity, fragment, labels, 3)
    assert linkage.dtype == np.float32 and linkage.shape == (3, 3)
    np.testing.assert_allclose(linkage, [[1, 0.25, 0.0], [0.25, 1, 0.1], [0.0, 0.1, 1]], atol=1e-6)
    # a fragment in no instance (local id 0) counts for none
    np.testing.assert_allclose(instance_linkage(affinity, fragment, np.where(fragment == 3, 0, labels), 2),
                               [[1, 0.25], [0.25, 1]], atol=1e-6)


def test_affinity_readout_fills_points_outside_fragments_from_the_group_masks():
    fragment = np.array([0, 0, 1, 1, -1, -1, -1])
    assign = [[1.0, 0.0], [0.0, 1.0]]
    masks = [[5, 5, -5, -5, 3, -5, 0], [-5, -5, 5, 5, -5, 4, 0]]  # point 6: p = 0.5 for both, not above 0.5
    pred = prediction(masks, [1.0, 1.0], assign)
    xyz = np.array([[0, 0, 0], [0.2, 0, 0], [1, 0, 0], [1.2, 0, 0], [0.22, 0, 0], [1.22, 0, 0], [0.5, 0, 0]], float)
    labels, _, _ = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD), xyz)
    assert labels[:4].tolist() in ([1, 1, 2, 2], [2, 2, 1, 1])
    assert labels[4] == labels[0] and labels[5] == labels[2] and labels[6] == 0
    far = xyz.copy()
    far[4] = [0.25, 0, 0]  # 5 cm beyond its group's box, outside the default 3 cm: not filled however sure the mask is
    labels, _, _ = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD), far)
    assert labels[4] == 0 and labels[5] == labels[2]
    labels, _, _ = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD, fill_margin=0.1), far)
    assert labels[4] == labels[0]  # within a wider margin
    no_xyz = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD))[0]
    assert no_xyz[4:].tolist() == [0, 0, 0]  # no xyz: no filling
    with pytest.raises(ValueError, match="group_threshold is None"):
        label_affinity(pred, fragment, F2IFrameConfig(group_threshold=None))


def test_nearest_fill_gives_a_border_point_to_the_fragment_beside_it_not_to_an_enclosing_group():
    # group 1: a shelf's two sides (x = 0 and x = 1), whose box encloses group 2: a book at x = 0.5
    fragment = np.array([0, 0, 1, 1, -1, -1, -1])
    assign = [[1.0, 0.0], [0.0, 1.0]]
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0.5, 0, 0], [0.5, 0.02, 0],
                    [0.52, 0, 0],    # the book's border, inside the shelf's box
                    [0.3, 0, 0],     # 20 cm from every fragment point
                    [0.48, 0, 0]], float)  # beside the book, but the book's mask does not hold it
    masks = [[5, 5, -5, -5, 4, 4, 4], [-5, -5, 5, 5, 1, 4, -2]]  # the shelf's mask is surer of the border
    pred = prediction(masks, [1.0, 1.0], assign)
    box = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD, fill_by="box"), xyz)[0]
    shelf, book = box[0], box[2]
    assert shelf != book and box[4] == shelf and box[5] == shelf  # the box fill: to the surest mask in the box
    nearest = label_affinity(pred, fragment, F2IFrameConfig(group_threshold=W_GROUP_THRESHOLD, fill_by="nearest"), xyz)[0]
    assert nearest[:4].tolist() == box[:4].tolist()
    assert nearest[4] == book  # the nearest fragment point is the book's
    assert nearest[5] == 0  # no fragment point within fill_margin
    assert nearest[6] == 0  # the nearest group's mask does not hold it: left out, not given to another group
    with pytest.raises(ValueError, match="fill_by"):
        F2IFrameConfig(fill_by="closest")


def test_fragments_covered_by_an_instance_join_it_the_rest_stay_alone():
    fragment = np.array([0, 0, 1, 1, 2, 2, -1])  # the last point belongs to no fragment
    pred = prediction([[5, 5, 5, 5, -5, -5, 5]], [5.0])  # one instance covering fragments 0 and 1
    labels, source, scores, alone = label_fragments(pred, fragment, np.array([0.9, 0.8, 0.9]), F2IFrameConfig())
    assert labels.tolist() == [1, 1, 1, 1, 2, 2, 0]
    assert source.tolist() == [0, -3] and alone.tolist() == [False, False, True]
    assert scores[0] == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item() ** 2, rel=1e-5)
    assert scores[1] == pytest.approx(0.5 * 0.9)  # singleton_score x the fragment's own score


def test_low_scoring_instances_do_not_claim_fragments():
    fragment = np.array([0, 0, 1, 1])
    pred = prediction([[5, 5, 5, 5]], [-5.0])  # covers everything but objectness ~0.007 < 0.3
    labels, source, scores, alone = label_fragments(pred, fragment, np.array([0.6, 0.7]), F2IFrameConfig())
    assert alone.tolist() == [True, True] and sorted(source.tolist()) == [-2, -1]
    assert labels.tolist() == [2, 2, 1, 1]  # ordered by score: fragment 1 (0.35) before fragment 0 (0.3)


def test_no_active_instances_leaves_every_fragment_alone():
    pred = prediction(np.zeros((0, 4)), np.zeros(0))
    labels, source, scores, alone = label_fragments(pred, np.array([0, 0, 1, 1]), np.array([0.8, 0.8]), F2IFrameConfig())
    assert alone.all() and len(source) == 2 and set(labels.tolist()) == {1, 2}


def test_readout_name_is_checked():
    with pytest.raises(ValueError, match="readout"):
        F2IFrameConfig(readout="voxels")
