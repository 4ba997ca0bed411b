"""A tiny generated scene through the whole core: data -> masks -> pipeline -> evaluator."""

import pytest

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.eval import EvalConfig, evaluate_scenes, scene_eval_input
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig


@pytest.fixture(scope="module")
def frames():
    return list(generate_scene(SynthConfig(frames=15, width=320, height=240), seed=3))


def score(frames, masks):
    segmenter = OnlineSegmenter.from_config(SegmenterConfig.from_flat({"pipeline": "baseline", "masks.source": masks}))
    for frame in frames:
        segmenter.step(frame)
    return evaluate_scenes([scene_eval_input(frames, segmenter.map(), EvalConfig(), "tiny")])


def test_oracle_masks_give_near_perfect_ap(frames):
    # every stage must work for this: lifting, fusion across frames, map transfer and AP
    result = score(frames, "oracle")
    assert result.num_gt >= 5
    assert result.ap >= 0.9 and result.ap50 >= 0.95


def test_sim_masks_score_below_oracle_but_above_chance(frames):
    result = score(frames, "sim")
    assert 0.2 <= result.ap25 and result.ap < 0.9  # parts are separate fragments: far from the oracle
