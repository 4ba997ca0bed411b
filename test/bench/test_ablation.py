"""bench/ablation.py: rows over several mask seeds are averaged, and oracle masks run once."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import ablation  # noqa: E402
from common import Row  # noqa: E402


def test_mean_row_averages_scores_and_adds_frames():
    row = ablation.mean_row([Row("full", 0.2, 0.4, 0.6, 10.0, 60), Row("full", 0.4, 0.6, 0.8, 8.0, 60)])
    assert row.name == "full" and row.frames == 120
    assert (round(row.ap, 6), round(row.ap50, 6), round(row.ap25, 6), row.fps) == (0.3, 0.5, 0.7, 9.0)


def test_every_mask_seed_reaches_the_sim_rows_only():
    seeded = [ablation.variants("f2i.safetensors", "full.safetensors", mask_seed=seed) for seed in (1, 2)]
    for name, config in seeded[0].items():
        other = seeded[1][name]
        if config.masks.source == "sim":
            assert (config.masks.sim.seed, other.masks.sim.seed) == (1, 2), name
        else:
            assert name.startswith("oracle") and config == other


def test_seeded_rows_run_oracle_masks_once(monkeypatch, tmp_path):
    calls = []

    def fake_run(name, config, data, out):
        calls.append((name, out))
        seed = config.masks.sim.seed if config.masks.source == "sim" else 0
        return Row(name, seed / 10, 0.0, 0.0, 1.0, 1)

    monkeypatch.setattr(ablation, "run_variant", fake_run)
    args = ablation.build_parser().parse_args(["--f2i", "a", "--full", "b", "--mask-seeds", "1", "3", "--out", str(tmp_path)])
    rows, per_seed = ablation.seeded_rows(args, tmp_path)
    names = [name for name, _ in calls]
    assert names.count("oracle masks (upper bound)") == 1 and names.count("full model") == 2
    assert {row.name: round(row.ap, 6) for row in rows}["full model"] == 0.2
    assert "full model: 10.0 / 30.0" in per_seed and "oracle" not in per_seed
    assert {out.name for name, out in calls if name == "full model"} == {"seed1", "seed3"}


def test_rows_keeps_only_the_named_rows(monkeypatch, tmp_path):
    calls = []

    def fake_run(name, config, data, out):
        calls.append(name)
        return Row(name, 0.1, 0.0, 0.0, 1.0, 1)

    monkeypatch.setattr(ablation, "run_variant", fake_run)
    args = ablation.build_parser().parse_args(["--f2i", "a", "--full", "b", "--mask-seeds", "1", "2", "--out", str(tmp_path),
                                               "--rows", "baseline", "full model"])
    rows, _ = ablation.seeded_rows(args, tmp_path)
    assert [row.name for row in rows] == ["baseline (ESAM-style)", "full model"]
    assert calls == ["baseline (ESAM-style)", "full model"] * 2


def test_style_reaches_scene_generation(monkeypatch, tmp_path):
    generated = []
    monkeypatch.setattr(ablation, "ensure_scenes", lambda *args: generated.append(args[-1]) or tmp_path)
    monkeypatch.setattr(ablation, "run_variant", lambda name, config, data, out: Row(name, 0.1, 0.0, 0.0, 1.0, 1))
    assert ablation.main(["--f2i", "a", "--full", "b", "--out", str(tmp_path), "--style", "hard", "--rows", "full"]) == 0
    assert generated == [["--style", "hard"]]
    assert "--style hard" in (tmp_path / "ablation.md").read_text()


def test_rows_that_match_nothing_are_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(ablation, "ensure_scenes", lambda *args: tmp_path)
    monkeypatch.setattr(ablation, "run_variant", lambda name, config, data, out: Row(name, 0.1, 0.0, 0.0, 1.0, 1))
    with pytest.raises(SystemExit, match="no row"):
        ablation.main(["--f2i", "a", "--full", "b", "--out", str(tmp_path), "--rows", "nothing"])
