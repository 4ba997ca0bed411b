"""``evaluate_directory``, the dump files and ``samosaic3d evaluate`` on tiny in-memory scenes."""

import importlib
import re
import sys
import types

import numpy as np
import pytest

from samosaic3d_core.cli.main import main
from samosaic3d_core.eval import DUMP_KEYS, EvalConfig, evaluate_directory, read_eval_dump, write_eval_dump
from samosaic3d_core.eval.instance_ap import SceneEvalInput
from samosaic3d_core.geometry import backproject
from samosaic3d_core.io.scene_map import write_scene_map
from samosaic3d_core.types import CameraIntrinsics, Frame, SceneMap

# 20x20 pixels at 1 m, 0.1 m apart: with 0.05 m voxels every pixel is its own scene point
INTRINSICS = CameraIntrinsics(fx=10.0, fy=10.0, cx=0.0, cy=0.0, width=20, height=20)
POSE = np.eye(4)


def rows(ranges):
    """(20, 20) int32 image with value v on the rows [start, stop) of each (start, stop, v)."""
    image = np.zeros((20, 20), np.int32)
    for start, stop, value in ranges:
        image[start:stop] = value
    return image


# scene_a: gt 1 (200 points) predicted perfectly (0.8);
# scene_b: gt 1 predicted perfectly (0.6), gt 2 half covered (IoU 0.5, score 0.7)
SCENES = {
    "scene_a": (rows([(0, 10, 1)]), rows([(0, 10, 1)]), {1: 0.8}),
    "scene_b": (rows([(0, 10, 1), (10, 20, 2)]), rows([(0, 10, 4), (10, 15, 5)]), {4: 0.6, 5: 0.7}),
}


def make_frame(gt):
    return Frame(np.zeros((20, 20, 3), np.uint8), np.ones((20, 20), np.float32), POSE, INTRINSICS, instance_gt=gt)


def write_map(path, pred_image, scores):
    xyz, pixel = backproject(np.ones((20, 20), np.float32), INTRINSICS, POSE)
    ids = pred_image.reshape(-1)[pixel]
    point_scores = np.array([scores.get(int(i), 0.0) for i in ids], np.float32)
    write_scene_map(path, SceneMap(xyz, np.zeros((len(xyz), 3), np.uint8), ids.astype(np.int32), point_scores))


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """data/<scene>/ folders read through a stand-in for samosaic3d_core.data.scannet; pred/<scene>.npz maps."""
    data, pred = tmp_path / "data", tmp_path / "pred"
    for name, (gt, pred_image, scores) in SCENES.items():
        (data / name).mkdir(parents=True)
        write_map(pred / f"{name}.npz", pred_image, scores)

    reader = types.ModuleType("samosaic3d_core.data.scannet")
    reader.list_scenes = lambda root: sorted(p for p in root.iterdir() if p.is_dir())
    reader.SceneReader = lambda scene_dir: [make_frame(SCENES[scene_dir.name][0])]
    try:
        importlib.import_module("samosaic3d_core.data")
    except ImportError:
        monkeypatch.setitem(sys.modules, "samosaic3d_core.data", types.ModuleType("samosaic3d_core.data"))
    monkeypatch.setitem(sys.modules, "samosaic3d_core.data.scannet", reader)
    return data, pred


def test_evaluate_directory_pools_scenes_and_dumps_what_was_scored(dataset, tmp_path):
    data, pred = dataset
    seen = {}
    result = evaluate_directory(data, pred, EvalConfig(voxel_size=0.05), tmp_path / "dump",
                                on_scene=lambda name, r: seen.update({name: (r.ap, r.ap50, r.ap25)}))
    assert seen == {"scene_a": (1.0, 1.0, 1.0), "scene_b": (0.125, 0.125, 1.0)}
    assert result.ap == pytest.approx(19 / 36, abs=1e-15)  # pooled, see test_eval_ap
    assert result.ap25 == pytest.approx(1.0, abs=1e-15)

    with np.load(tmp_path / "dump" / "scene_b.npz", allow_pickle=False) as dump:
        assert sorted(dump.files) == sorted(DUMP_KEYS) == ["gt_instance", "pred_masks", "pred_scores"]
        assert dump["gt_instance"].dtype == np.int64 and dump["gt_instance"].shape == (400,)
        assert dump["pred_masks"].dtype == np.bool_ and dump["pred_masks"].shape == (2, 400)
        assert dump["pred_scores"].dtype == np.float64
        np.testing.assert_array_equal(np.bincount(dump["gt_instance"]), [0, 200, 200])
        np.testing.assert_array_equal(dump["pred_masks"].sum(1), [200, 100])
        np.testing.assert_array_equal(dump["pred_scores"], np.float32([0.6, 0.7]).astype(np.float64))


def test_cli_prints_scene_lines_then_the_ap_line(dataset, tmp_path, capsys):
    data, pred = dataset
    code = main(["evaluate", "--data", str(data), "--pred", str(pred), "--voxel", "0.05",
                 "--dump", str(tmp_path / "d")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert lines == [
        "scene_a  gt=1  pred=1  AP=1.0000 AP50=1.0000 AP25=1.0000",
        "scene_b  gt=2  pred=2  AP=0.1250 AP50=0.1250 AP25=1.0000",
        "AP=0.5278 AP50=0.5278 AP25=1.0000",
    ]
    assert re.fullmatch(r"AP=\d\.\d{4} AP50=\d\.\d{4} AP25=\d\.\d{4}", lines[-1])
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["scene_a.npz", "scene_b.npz"]


def test_missing_map_fails_naming_the_scene_unless_skipped(dataset, capsys):
    data, pred = dataset
    (pred / "scene_b.npz").unlink()
    assert main(["evaluate", "--data", str(data), "--pred", str(pred), "--voxel", "0.05"]) == 1
    assert "no map for scene scene_b" in capsys.readouterr().err

    assert main(["evaluate", "--data", str(data), "--pred", str(pred), "--voxel", "0.05", "--skip-missing"]) == 0
    out = capsys.readouterr()
    assert "skipping scene scene_b" in out.err
    assert out.out.strip().splitlines()[-1] == "AP=1.0000 AP50=1.0000 AP25=1.0000"


def test_dump_round_trip_and_rejection(tmp_path):
    scene = SceneEvalInput(np.array([0, 1, 1]), np.array([[False, True, True]]), np.array([0.5]))
    write_eval_dump(tmp_path / "s.npz", scene)
    back = read_eval_dump(tmp_path / "s.npz")
    for name in DUMP_KEYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(scene, name))
    np.savez(tmp_path / "other.npz", gt_instance=np.zeros(3, int))
    with pytest.raises(ValueError, match="other.npz: not an evaluation dump"):
        read_eval_dump(tmp_path / "other.npz")
