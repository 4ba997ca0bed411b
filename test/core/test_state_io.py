import json

import pytest
import torch

from samosaic3d_core.train.state_io import load_state, save_state


def test_optimizer_and_scheduler_state_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": 7,
             "torch_rng": torch.get_rng_state(), "pair": (1, None)}
    save_state(tmp_path / "s.safetensors", state)
    loaded = load_state(tmp_path / "s.safetensors")
    assert loaded["step"] == 7 and loaded["pair"] == (1, None)
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    assert list(loaded["optimizer"]["state"]) == [0, 1]  # int keys survive
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    fresh.load_state_dict(loaded["optimizer"])  # accepted by torch as is
    assert fresh.state_dict()["param_groups"] == state["optimizer"]["param_groups"]
    data = (tmp_path / "s.safetensors").read_bytes()
    assert not data.startswith(b"PK\x03\x04")  # not a torch zip/pickle
    header_size = int.from_bytes(data[:8], "little")  # safetensors: u64 header length, then a JSON header
    assert 2 <= header_size < len(data) and data[8:9] == b"{" and json.loads(data[8:8 + header_size])


def test_unstorable_values_and_bad_files(tmp_path):
    with pytest.raises(TypeError, match="'/x' holds a set"):
        save_state(tmp_path / "s.safetensors", {"x": {1, 2}})
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="bad.safetensors: not a training state file"):
        load_state(tmp_path / "bad.safetensors")
