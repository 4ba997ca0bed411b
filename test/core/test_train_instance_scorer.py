"""scripts/train_instance_scorer.py: fit the learned instance confidence to saved maps, end to end."""

import sys
from pathlib import Path

import pytest

from samosaic3d_core.cli.main import main as cli
from samosaic3d_core.instance_scorer import SCORER_FEATURES, load_scorer
from test.core.f2i_fixtures import tiny_scene

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import train_instance_scorer  # noqa: E402


def test_the_script_fits_a_scorer_the_memory_reads_and_scores_validation_maps(tmp_path, capsys):
    scene = tiny_scene(tmp_path, frames=6, seed=3)
    maps = tmp_path / "maps"
    assert cli(["run", "--data", str(scene.parent), "--out", str(maps), "--masks", "sim", "--pipeline", "baseline",
                "--set", "memory.confidence=support"]) == 0
    out = tmp_path / "scorer.json"
    pair = f"{maps}={scene.parent}"
    assert train_instance_scorer.main(["--maps", pair, "--val", pair, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fitted on" in printed and "re-ranked" in printed and f"wrote {out}" in printed
    scorer = load_scorer(out)
    assert scorer.weights.shape == (len(SCORER_FEATURES),)
    assert cli(["run", "--data", str(scene.parent), "--out", str(tmp_path / "learned"), "--masks", "sim",
                "--pipeline", "baseline", "--set", f"memory.confidence_scorer={out}"]) == 0


def test_the_script_refuses_a_pair_without_its_scenes(tmp_path):
    with pytest.raises(SystemExit, match="RUN=DATA"):
        train_instance_scorer.main(["--maps", str(tmp_path)])
    with pytest.raises(SystemExit, match="no maps"):
        train_instance_scorer.main(["--maps", f"{tmp_path}={tmp_path}"])
