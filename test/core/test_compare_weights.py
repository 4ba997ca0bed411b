"""scripts/compare_weights.py: whether a retrain reproduces the shipped weights, tensor by tensor."""

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import compare_weights  # noqa: E402


def _weights(path: Path, pair_bias: float) -> Path:
    save_file({"f2i.pair.mlp.0.bias": torch.full((4,), pair_bias), "f2i.backbone.conv.weight": torch.ones(2, 3),
               "i2s.scale": torch.tensor([2.0])}, str(path))
    return path


def test_identical_files_pass_and_a_changed_group_is_named(tmp_path, capsys):
    shipped = _weights(tmp_path / "shipped.safetensors", 0.5)
    assert compare_weights.main([str(_weights(tmp_path / "same.safetensors", 0.5)), str(shipped)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "identical"
    # one float32 step away: the size of difference that gave another pair head
    nudged = float(torch.nextafter(torch.tensor(0.5), torch.tensor(1.0)))
    assert compare_weights.main([str(_weights(tmp_path / "retrained.safetensors", nudged)), str(shipped)]) == 1
    printed = capsys.readouterr().out
    assert "f2i.pair: 1 of 1 tensors differ, largest difference 5.96e-08" in printed
    assert "f2i.backbone: 0 of 1 tensors differ" in printed and "i2s: 0 of 1 tensors differ" in printed
    assert printed.strip().splitlines()[-1] == "different"


def test_files_with_other_tensors_or_no_file_are_refused(tmp_path, capsys):
    shipped = _weights(tmp_path / "shipped.safetensors", 0.5)
    other = tmp_path / "other.safetensors"
    save_file({"f2i.pair.mlp.0.bias": torch.zeros(4)}, str(other))
    assert compare_weights.main([str(other), str(shipped)]) == 2
    assert "other tensors" in capsys.readouterr().out
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a weights file")
    assert compare_weights.main([str(broken), str(shipped)]) == 2
    assert "broken.safetensors: not a readable safetensors checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare_weights.main([str(tmp_path / "missing.safetensors"), str(shipped)])
    assert "no weights file" in capsys.readouterr().err
