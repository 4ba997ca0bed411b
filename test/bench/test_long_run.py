"""bench/long_run.py: its curve rows and summary, and a short run of the script."""

import csv
import json
import sys
from pathlib import Path

import pytest

from samosaic3d_core.eval import ApResult

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import long_run  # noqa: E402

QUALITY = {"map_instances": 12, "label_noise": 0.05, "object_instances": 9, "objects": 6}


def ap(value: float) -> ApResult:
    return ApResult(ap=value, ap50=value + 0.1, ap25=value + 0.2, per_threshold={}, num_gt=6, num_pred=9)


def test_checkpoints_are_every_nth_frame_the_ap_frames_and_the_last():
    assert long_run.checkpoints(60, 20, [30, 60]) == [20, 30, 40, 60]
    assert long_run.checkpoints(55, 20, [5]) == [5, 20, 40, 55]
    with pytest.raises(ValueError, match="--ap-at"):
        long_run.checkpoints(60, 20, [300])


def test_curve_rows_and_summary():
    rows = [long_run.curve_row(20, 14, QUALITY, 81.234),
            long_run.curve_row(40, 12, {**QUALITY, "object_instances": 7}, 90.0, ap(0.4), id_changes=3)]
    assert list(rows[0]) == list(long_run.COLUMNS)
    assert rows[0] == {"frame": 20, "instances": 14, **QUALITY, "id_changes": 0, "ms_per_frame": 81.2, "AP": None,
                       "AP50": None, "AP25": None}
    assert rows[1]["AP"] == 0.4 and rows[1]["AP25"] == 0.6
    summary = long_run.summarize(rows, renamed=2)
    assert summary["frames"] == 40 and summary["instances"] == 12 and summary["object_instances"] == 7
    assert summary["ratio"] == round(7 / 6, 3) and summary["instances_per_object"] == 2.0
    assert summary["AP"] == {"40": {"AP": 0.4, "AP50": 0.5, "AP25": 0.6}}
    assert summary["id_changes"] == 3 and summary["objects_renamed"] == 2
    text = long_run.markdown(summary, "title")
    assert "| 40 | 12 | 7 | 6 | 1.167 | 0.0500 | 3 (2) |" in text and "| 40 | 40.0 | 50.0 | 60.0 |" in text


def test_an_owner_change_is_an_object_seen_before_now_held_by_another_id():
    # object 1 keeps id 4; object 2 moves from id 9 to id 4 (merged); object 3 is new; object 5 is not
    # held now (it keeps its last owner for the next row)
    assert long_run.owner_changes({1: 4, 2: 9, 5: 6}, {1: 4, 2: 4, 3: 8}) == [2]
    assert long_run.owner_changes({}, {1: 4}) == []


def test_a_short_run_writes_curve_summary_and_plot(tmp_path, capsys):
    from samosaic3d_core.data.synth import SynthConfig, generate_scene, write_scene

    scene = generate_scene(SynthConfig(frames=10, width=160, height=120), seed=5)
    write_scene(scene, tmp_path / "data", progress=False)
    out = tmp_path / "out"
    assert long_run.main(["--data", str(tmp_path / "data"), "--frames", "10", "--every", "4", "--ap-at", "10",
                          "--set", "pipeline=baseline", "--out", str(out)]) == 0
    with open(out / "curve.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["frame"]) for row in rows] == [4, 8, 10]
    assert rows[0]["AP"] == "" and 0 <= float(rows[-1]["AP25"]) <= 1
    assert all(0 <= float(row["label_noise"]) <= 1 and int(row["objects"]) >= 5 for row in rows)
    assert [int(row["id_changes"]) for row in rows] == sorted(int(row["id_changes"]) for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["pipeline"] == "baseline" and summary["config"]["masks"]["sim"]["seed"] == 12345
    assert summary["objects"] == int(rows[-1]["objects"]) and list(summary["AP"]) == ["10"]
    assert 0 <= summary["objects_renamed"] <= summary["id_changes"] == int(rows[-1]["id_changes"])
    assert (out / "instances_over_frames.png").read_bytes()[:4] == b"\x89PNG"
    from samosaic3d_core.io.scene_map import read_scene_map

    (last_map,) = out.glob("*.npz")
    assert last_map.stem == summary["scene"] and len(read_scene_map(last_map).xyz) > 0, "the last map, as run writes it"
    assert "| frame | AP | AP50 | AP25 |" in capsys.readouterr().out
