"""The weights that ship with the package: they load, `auto` picks them, and on generated scenes
they beat the heuristic baseline by a margin, and a broken frame model falls clearly below them."""

import numpy as np
import pytest
import torch

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.eval import EvalConfig, evaluate_scenes, scene_eval_input
from samosaic3d_core.model.checkpoint import load_samosaic3d, save_samosaic3d, shipped_checkpoint
from samosaic3d_core.model.f2i import F2IModel
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig, resolve_pipeline

SCENE_SEEDS = (900, 901)
"""Scenes no training or validation run used (those are make-data seeds 100, 200 and 210)."""
MARGIN = 0.03
"""AP the shipped model must gain over the baseline: the issue's target."""


@pytest.fixture(scope="module")
def scenes():
    return [list(generate_scene(SynthConfig(frames=30, width=320, height=240), seed=s)) for s in SCENE_SEEDS]


def pooled_ap(scenes, config: SegmenterConfig) -> float:
    torch.set_num_threads(2)
    inputs = []
    for k, frames in enumerate(scenes):
        segmenter = OnlineSegmenter.from_config(config)
        for frame in frames:
            segmenter.step(frame)
        inputs.append(scene_eval_input(frames, segmenter.map(), EvalConfig(), f"scene{k}"))
    return evaluate_scenes(inputs).ap


def sim_config(pipeline: str, checkpoint: str = "") -> SegmenterConfig:
    """Sim masks; map consolidation off, so that the scores compare the learned parts with the
    heuristic ones and not the map-level revision both pipelines share."""
    return SegmenterConfig.from_flat({"pipeline": pipeline, "checkpoint": checkpoint, "masks.source": "sim",
                                      "masks.sim.seed": 12345, "memory.consolidation.every": 0})


def test_the_shipped_checkpoint_loads_and_auto_uses_it():
    path = shipped_checkpoint()
    assert path is not None, "samosaic3d_core/checkpoints/samosaic3d_synth.safetensors is missing"
    f2i, f2i_config, merger, i2s_config = load_samosaic3d(path)
    assert f2i.pair is not None and i2s_config.feat_dim == f2i_config.backbone.out_channels
    resolved = resolve_pipeline(SegmenterConfig(pipeline="auto"))
    assert resolved.pipeline == "learned" and resolved.checkpoint == str(path)


def test_auto_takes_the_weights_of_its_mask_source(monkeypatch, tmp_path):
    from samosaic3d_core.model import checkpoint

    def resolved(source: str) -> str:
        return resolve_pipeline(SegmenterConfig.from_flat({"pipeline": "auto", "masks.source": source})).checkpoint

    assert shipped_checkpoint("sim") == checkpoint.SHIPPED_SAM_CHECKPOINT != checkpoint.SHIPPED_CHECKPOINT
    for source in ("sim", "fastsam", "oracle"):
        assert resolved(source) == str(checkpoint.SHIPPED_SAM_CHECKPOINT)
    assert resolved("oversegment") == str(checkpoint.SHIPPED_CHECKPOINT) == str(shipped_checkpoint())
    # a given checkpoint wins; an installation without the second file uses the first for every source
    given = resolve_pipeline(SegmenterConfig.from_flat({"masks.source": "sim", "checkpoint": "mine.safetensors"}))
    assert given.checkpoint == "mine.safetensors"
    monkeypatch.setattr(checkpoint, "SHIPPED_SAM_CHECKPOINT", tmp_path / "absent.safetensors")
    assert resolved("sim") == str(checkpoint.SHIPPED_CHECKPOINT)


def test_the_two_shipped_files_differ_only_in_the_pair_head():
    from safetensors import safe_open

    from samosaic3d_core.model import checkpoint

    with safe_open(str(checkpoint.SHIPPED_CHECKPOINT), "np") as a, \
            safe_open(str(checkpoint.SHIPPED_SAM_CHECKPOINT), "np") as b:
        assert set(a.keys()) == set(b.keys())
        same = {k: np.array_equal(a.get_tensor(k), b.get_tensor(k)) for k in a.keys()}
    assert all(same[k] for k in same if not k.startswith("f2i.pair.")), [k for k in same if not same[k]]
    assert not all(same[k] for k in same if k.startswith("f2i.pair.mlp"))


@pytest.mark.parametrize("source", ["oversegment", "sim"], ids=["main file", "sam file"])
def test_shipped_model_beats_the_baseline_and_a_broken_model_does_not(scenes, tmp_path, source):
    baseline = pooled_ap(scenes, sim_config("baseline"))
    shipped = pooled_ap(scenes, sim_config("learned", str(shipped_checkpoint(source))))
    assert shipped >= baseline + MARGIN, (shipped, baseline)
    # broken: the same files with the frame model's weights re-drawn at random (the merger kept)
    _, f2i_config, merger, i2s_config = load_samosaic3d(shipped_checkpoint(source))
    torch.manual_seed(0)
    broken_path = save_samosaic3d(tmp_path / "broken.safetensors", F2IModel.from_config(f2i_config), f2i_config,
                                  merger, i2s_config)
    broken = pooled_ap(scenes, sim_config("learned", str(broken_path)))
    assert broken < shipped - MARGIN, (broken, baseline, shipped)
    assert np.isfinite([baseline, shipped, broken]).all()
