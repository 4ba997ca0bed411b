"""Fragment-snapped readout of the learned frame model, on hand-made predictions."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from samosaic3d_core.model.frame_model import F2IFrameConfig, label_fragments


def prediction(mask_logits, objectness):
    final = SimpleNamespace(mask_logits=torch.tensor(mask_logits, dtype=torch.float32),
                            objectness=torch.tensor(objectness, dtype=torch.float32))
    return SimpleNamespace(final=final)


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
