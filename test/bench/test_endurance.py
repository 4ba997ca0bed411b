"""bench/endurance.py: the scan played there and back, and a short run's table, CSVs and plot."""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import endurance  # noqa: E402


def test_there_and_back_revisits_without_repeating_the_ends():
    order = [frame for _, frame in endurance.there_and_back(list("abcd"), 9)]
    assert order == list("abcdcbabc")


def test_a_short_run_reports_time_and_memory(tmp_path, capsys):
    from samosaic3d_core.data.synth import SynthConfig, generate_scene, write_scene

    write_scene(generate_scene(SynthConfig(frames=6, width=96, height=72), seed=5), tmp_path / "data", progress=False)
    out = tmp_path / "out"
    assert endurance.main(["--data", str(tmp_path / "data"), "--frames", "12", "--window", "5", "--every", "4",
                           "--out", str(out)]) == 0
    with open(out / "endurance.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["frames"]) for row in rows] == [4, 8, 12]
    assert all(float(row["rss_mib"]) > 0 and int(row["map_voxels"]) > 0 for row in rows)
    assert len((out / "steps.csv").read_text().splitlines()) == 1 + 12
    assert (out / "endurance.png").read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    assert "| last / first |" in text and "| RSS growth per 100k map voxels added (MiB) |" in text


def test_too_few_frames_for_two_windows_is_refused(tmp_path):
    import pytest

    with pytest.raises(SystemExit):
        endurance.main(["--data", str(tmp_path), "--frames", "10", "--window", "6"])
