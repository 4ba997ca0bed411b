"""The learned instance confidence: its features, its file, its fit, and its use by the memory."""

import json

import numpy as np
import pytest

from samosaic3d_core.errors import ModelFileError, ModelFileMissing
from samosaic3d_core.instance_scorer import (
    SCORER_FEATURES, SHIPPED_SCORER, InstanceScorer, fit_scorer, instance_features, load_scorer,
)
from samosaic3d_core.memory import MemoryConfig, SceneMemory
from test.core.test_memory import VOXEL, cells, memory_with, step

FEATURE = {name: k for k, name in enumerate(SCORER_FEATURES)}


def _block(x0, x1, y1, z1, voxel=0.02):
    """Voxel centres of the box [x0, x1) x [0, y1) x [0, z1) (in voxels)."""
    grid = np.stack(np.meshgrid(np.arange(x0, x1), np.arange(y1), np.arange(z1), indexing="ij"), -1).reshape(-1, 3)
    return (grid + 0.5) * voxel


def test_features_tell_shape_borders_and_neighbours():
    cube, board, far = _block(0, 5, 5, 5), _block(5, 15, 10, 1), _block(40, 45, 5, 5)  # 2 touches 1; 3 alone
    xyz = np.concatenate([cube, board, far])
    owner = np.repeat([1, 2, 3], [len(cube), len(board), len(far)])
    features = instance_features(xyz, owner, 4, 0.02, np.array([0.5, 0.25, 1.0, 0.5]))  # id 4 owns nothing
    assert features.shape == (4, len(SCORER_FEATURES)) and np.all(np.isfinite(features))
    np.testing.assert_allclose(features[:3, FEATURE["log_voxels"]], np.log([125, 100, 125]))
    np.testing.assert_allclose(features[:3, FEATURE["log_support"]], np.log([0.5, 0.25, 1.0]))
    extents = features[:, [FEATURE["log_extent_1"], FEATURE["log_extent_2"], FEATURE["log_extent_3"]]]
    assert np.all(np.diff(extents[:3], axis=1) <= 1e-9)  # largest first
    np.testing.assert_allclose(extents[0], extents[0, 0])  # a cube: three equal extents
    assert extents[1, 2] == pytest.approx(0.5 * np.log(1e-6))  # a one-voxel-thick board: the floor of 1 mm
    # the board (z = 0) touches the cube's face x = 4 where z <= 1, and the cube the board's column
    # x = 5 where y <= 5 (y = 5 diagonally)
    assert features[0, FEATURE["border_share"]] == pytest.approx(10 / 125)
    assert features[1, FEATURE["border_share"]] == pytest.approx(6 / 100)
    assert features[2, FEATURE["border_share"]] == 0
    np.testing.assert_allclose(features[:3, FEATURE["log_neighbours"]], np.log1p([1, 1, 0]))


def test_features_do_not_depend_on_where_the_map_lies_or_the_order_of_voxels():
    xyz = np.concatenate([_block(0, 4, 4, 4), _block(4, 9, 3, 2)])
    owner = np.repeat([1, 2], [64, 30])
    support = np.array([0.3, 0.6])
    base = instance_features(xyz, owner, 2, 0.02, support)
    order = np.random.default_rng(0).permutation(len(xyz))
    np.testing.assert_allclose(instance_features(xyz[order] + [3.0, -7.0, 1.5], owner[order], 2, 0.02, support), base,
                               atol=1e-9)
    assert instance_features(np.zeros((0, 3)), np.zeros(0, np.int64), 2, 0.02, support).shape == (2, 7)


def _scorer(weights):
    n = len(SCORER_FEATURES)
    return InstanceScorer(np.zeros(n), np.ones(n), np.asarray(weights, np.float64), 0.0)


def test_the_scorer_round_trips_and_bad_files_fail_naming_the_file(tmp_path):
    scorer = _scorer([1, 0, 0, 0, 0, -2, 0])
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(scorer.to_dict(trained_on=["x"])))
    back = load_scorer(path)
    features = np.random.default_rng(1).normal(size=(5, 7))
    np.testing.assert_allclose(back(features), scorer(features), rtol=1e-6)
    assert np.all((scorer(features) > 0) & (scorer(features) < 1))
    good = scorer.to_dict()
    for bad, message in [({**good, "format": "other"}, "not an instance scorer"),
                         ({**good, "features": ["log_voxels"]}, "this version reads"),
                         ({**good, "version": 2}, "this version reads"),
                         ({**good, "weights": [1.0] * 6}, "7 finite numbers"),
                         ({**good, "std": [0.0] * 7}, "std > 0"),
                         ({k: v for k, v in good.items() if k != "bias"}, "unreadable")]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ModelFileError, match=f"scorer.json.*{message}"):
            load_scorer(path)
    path.write_text("{not json")
    with pytest.raises(ModelFileError, match="scorer.json"):
        load_scorer(path)
    with pytest.raises(ModelFileMissing, match="absent.json"):
        load_scorer(tmp_path / "absent.json")
    assert load_scorer(None).to_dict() == load_scorer("").to_dict() and SHIPPED_SCORER.is_file()


def test_fitting_learns_which_instances_match_their_objects():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 7))
    iou = 1 / (1 + np.exp(-(2 * features[:, 0] - 3 * features[:, 5])))  # large, and not lying against others
    scorer = fit_scorer(features, iou, steps=800, lr=0.05)
    assert scorer.weights[0] > 1 and scorer.weights[5] < -1.5 and np.all(np.abs(scorer.weights[[1, 2, 3, 4, 6]]) < 0.5)
    held_out = rng.normal(size=(200, 7))
    target = 1 / (1 + np.exp(-(2 * held_out[:, 0] - 3 * held_out[:, 5])))
    assert np.corrcoef(scorer(held_out), target)[0, 1] > 0.95
    with pytest.raises(ValueError, match="features"):
        fit_scorer(features[:, :6], iou)


def test_the_memory_scores_by_the_scorer_and_follows_the_map(tmp_path):
    path = tmp_path / "scorer.json"
    scorer = _scorer([1, 0, 0, 0, 0, -2, 0])  # more voxels up, lying against others down
    path.write_text(json.dumps(scorer.to_dict()))
    memory = memory_with(confidence="learned", confidence_scorer=str(path))
    support = memory_with(confidence="support")
    for m in (memory, support):
        step(m, [cells(0, 20), cells(20, 30), cells(0, 5, y=5)])
    expected = scorer(instance_features(memory.scene_map().xyz, memory.scene_map().instance_ids, 3, VOXEL,
                                        support.instances().scores))
    np.testing.assert_allclose(memory.instances().scores, expected, rtol=1e-6)
    scene = memory.scene_map()
    np.testing.assert_allclose(scene.scores[scene.instance_ids == 2], expected[1], rtol=1e-6)
    assert expected[2] < expected[1] < expected[0]  # alone but small; touching; largest
    before = memory.instances().scores.copy()
    step(memory, [cells(30, 60)], matches=[2], index=1)  # 2 grows: its score follows at once
    assert memory.instances().scores[1] > before[1]
    step(memory, [cells(30, 60)], matches=[2], index=2)
    unscored = memory.instances(scored=False)  # what associators read: nothing computed for it
    assert memory._learned[0] != memory._revision and unscored.scores.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(unscored.feats, memory.instances().feats)


def test_the_default_confidence_is_learned_with_the_shipped_scorer_and_a_bad_one_fails_at_start(tmp_path):
    assert MemoryConfig().confidence == "learned"
    assert load_scorer(None).voxel_size == MemoryConfig().map_voxel_size
    with pytest.warns(UserWarning, match="fitted on 0.02 m map voxels, this map uses 0.1 m"):
        memory = SceneMemory(MemoryConfig(map_voxel_size=VOXEL, association_voxel_size=VOXEL))
    step(memory, [cells(0, 20)])
    assert 0 < memory.instances().scores[0] < 1
    with pytest.raises(ModelFileMissing, match="nowhere.json"):
        SceneMemory(MemoryConfig(confidence_scorer=str(tmp_path / "nowhere.json")))
    SceneMemory(MemoryConfig(confidence="support", confidence_scorer=str(tmp_path / "nowhere.json")))  # not read
