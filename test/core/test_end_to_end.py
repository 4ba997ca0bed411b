"""A tiny generated scene through the whole core: data -> masks -> pipeline -> evaluator."""

import json

import numpy as np
import pytest

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.eval import EvalConfig, evaluate_scenes, scene_eval_input
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig
from test.core.f2i_fixtures import tiny_scene


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


@pytest.fixture
def tiny_dataset(tmp_path):
    """One generated scene (10 frames, 160x120) in the ScanNet frames layout under ``tmp_path/data``."""

    scene_dir = tiny_scene(tmp_path, 10, 5)
    return scene_dir


def scored_objects(scene_dir) -> int:
    """Ground-truth instances of the scene that the protocol scores (>= 100 scene points)."""
    from samosaic3d_core.data.scannet import SceneReader
    from samosaic3d_core.eval import build_scene_points

    gt = build_scene_points(SceneReader(scene_dir)).gt_instance
    return int((np.unique(gt[gt > 0], return_counts=True)[1] >= 100).sum())


def run_metrics(tmp_path, masks: str, capsys) -> tuple[dict, list[str]]:
    from samosaic3d_core.cli.main import main

    out = tmp_path / f"out_{masks}"
    assert main(["run", "--data", str(tmp_path / "data"), "--out", str(out), "--masks", masks,
                 "--pipeline", "baseline"]) == 0
    return json.loads((out / "metrics.json").read_text()), capsys.readouterr().out.strip().splitlines()


def test_run_writes_map_quality_and_ap_to_metrics_json(tiny_dataset, tmp_path, capsys):
    objects = scored_objects(tiny_dataset)
    assert objects >= 5
    noise = {}
    for masks in ("oracle", "sim"):
        metrics, lines = run_metrics(tmp_path, masks, capsys)
        assert lines[-1] == f"AP={metrics['AP']:.4f} AP50={metrics['AP50']:.4f} AP25={metrics['AP25']:.4f}"
        scene = metrics["scenes"][tiny_dataset.name]
        assert scene["frames"] == 10 and scene["objects"] == objects and metrics["mean"]["objects"] == objects
        assert all(isinstance(scene[k], int) for k in ("map_instances", "object_instances", "objects"))
        assert 0.0 <= scene["label_noise"] <= 1.0 and scene["object_instances"] <= scene["map_instances"]
        assert metrics["mean"]["label_noise"] == scene["label_noise"]
        noise[masks] = scene["label_noise"]
        if masks == "oracle":  # one map instance per object, clean labels
            assert scene["object_instances"] == objects and scene["label_noise"] < 0.05 and metrics["AP"] > 0.9
        else:  # sim masks split objects into parts that stay apart, with speckled borders
            assert scene["object_instances"] > objects and scene["label_noise"] > 2 * noise["oracle"]


def test_run_without_ground_truth_writes_label_noise_only(tiny_dataset, tmp_path, capsys):
    import shutil

    shutil.rmtree(tiny_dataset / "instance")
    metrics, lines = run_metrics(tmp_path, "oversegment", capsys)
    assert not any(line.startswith("AP=") for line in lines) and "AP" not in metrics
    scene = metrics["scenes"][tiny_dataset.name]
    assert scene["map_instances"] > 0 and 0.0 <= scene["label_noise"] <= 1.0 and "objects" not in scene
    assert {k: metrics["mean"][k] for k in ("map_instances", "label_noise")} == {
        "map_instances": scene["map_instances"], "label_noise": scene["label_noise"]}
    assert "objects" not in metrics["mean"]
    assert metrics["mean"]["ate_tracker"] == scene["ate_tracker"] == 0.0  # pose_true/ is still there: exact poses
