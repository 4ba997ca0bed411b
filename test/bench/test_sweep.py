"""bench/sweep.py: every value runs once per mask seed and lift seed; the row is their mean and range."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import sweep  # noqa: E402
from common import Row  # noqa: E402


def fake_bench(monkeypatch, tmp_path):
    calls, generated = [], []

    def fake_run(name, config, data, out, score_on=None):
        calls.append((config.memory.structure.band, config.masks.sim.seed, config.lift.seed))
        generated.append(("scored on", score_on))
        return Row(name, config.masks.sim.seed / 100, 0.5, 0.6, 2.0, 60)

    monkeypatch.setattr(sweep, "run_variant", fake_run)
    monkeypatch.setattr(sweep, "ensure_scenes", lambda *args: generated.append(args[-1]) or tmp_path)
    return calls, generated


def test_every_value_runs_once_per_mask_seed(monkeypatch, tmp_path):
    calls, generated = fake_bench(monkeypatch, tmp_path)
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "memory.structure.band", "--values", "0.015", "0.03",
                       "--mask-seeds", "10", "30", "--style", "hard", "--out", str(tmp_path)]) == 0
    assert calls == [(0.015, 10, 0), (0.015, 30, 0), (0.03, 10, 0), (0.03, 30, 0)]
    assert generated[0] == ["--style", "hard"] and generated[1:] == [("scored on", None)] * 4
    text = (tmp_path / "memory.structure.band.md").read_text()
    assert "seeds 10, 30" in text and "--style hard" in text
    assert "| memory.structure.band=0.015 | 20.0 (10.0-30.0) |" in text


def test_one_run_per_value_keeps_the_plain_row(monkeypatch, tmp_path):
    calls, generated = fake_bench(monkeypatch, tmp_path)
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "memory.structure.band", "--values", "0.03",
                       "--out", str(tmp_path)]) == 0
    assert calls == [(0.03, sweep.MASK_SEED, 0)] and generated == [[], ("scored on", None)]
    assert "| memory.structure.band=0.03 | 12345.0 |" in (tmp_path / "memory.structure.band.md").read_text()


def test_maps_can_be_scored_on_other_scenes(monkeypatch, tmp_path):
    calls, generated = fake_bench(monkeypatch, tmp_path)
    clean = tmp_path / "clean"
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "memory.structure.band", "--values", "0.03",
                       "--score-on", str(clean), "--out", str(tmp_path)]) == 0
    assert generated[1:] == [("scored on", clean)]
    assert f"scored on {clean}" in (tmp_path / "memory.structure.band.md").read_text()


def test_fixed_settings_hold_under_every_value(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(sweep, "run_variant", lambda name, config, data, out, score_on=None: seen.append(
        (config.memory.structure.band, config.memory.structure.behind, config.lift.max_depth_noise))
        or Row(name, 0.1, 0.5, 0.6, 2.0, 60))
    monkeypatch.setattr(sweep, "ensure_scenes", lambda *args: tmp_path)
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "memory.structure.band", "--values", "0.02", "0.03",
                       "--set", "memory.structure.behind=0.06", "--set", "lift.max_depth_noise=0.04",
                       "--out", str(tmp_path)]) == 0
    assert seen == [(0.02, 0.06, 0.04), (0.03, 0.06, 0.04)]
    assert "memory.structure.behind=0.06, lift.max_depth_noise=0.04" in (tmp_path / "memory.structure.band.md").read_text()


def test_integer_and_word_settings_are_swept_with_their_own_type(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(sweep, "run_variant", lambda name, config, data, out, score_on=None: seen.append(
        (name, config.lift.min_fragment_points, config.lift.budget_sampling)) or Row(name, 0.1, 0.5, 0.6, 2.0, 60))
    monkeypatch.setattr(sweep, "ensure_scenes", lambda *args: tmp_path)
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "lift.min_fragment_points", "--values", "20", "10",
                       "--out", str(tmp_path)]) == 0
    assert seen == [("lift.min_fragment_points=20", 20, "voxel"), ("lift.min_fragment_points=10", 10, "voxel")]
    assert sweep.main(["--checkpoint", "w.safetensors", "--param", "lift.budget_sampling", "--values", "random",
                       "--out", str(tmp_path)]) == 0
    assert seen[-1] == ("lift.budget_sampling=random", 10, "random")
