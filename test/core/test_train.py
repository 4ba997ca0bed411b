import csv
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.losses import LossConfig, make_target
from safetensors.torch import load_file

from samosaic3d_core.model.checkpoint import load_f2i
from samosaic3d_core.model.f2i import F2IInput
from samosaic3d_core.train.dataset import AugmentConfig, Sample, augment_points, make_sample
from samosaic3d_core.train.loop import TrainConfig, epoch_order, lr_factor, train
from samosaic3d_core.train.metrics import instance_ious
from samosaic3d_core.types import CameraIntrinsics, Frame, MaskResult
from test.core.f2i_fixtures import one_torch_thread, synthetic_frame  # noqa: F401  (autouse fixture)
from test.core.test_model_f2i import TINY


def _samples(n: int) -> list[Sample]:
    out = []
    for seed in range(n):
        points, m, ids = synthetic_frame(points_per_object=80, floor_points=80, seed=seed)
        out.append(Sample(F2IInput.from_points(points, m), make_target(ids, points.fragment, m, points.xyz, LossConfig())))
    return out


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_train_writes_checkpoints_and_resumes(tmp_path):
    data = _samples(4)
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=4, log_every=2, checkpoint_every=2, warmup_steps=2,
                      keep_checkpoints=1, val_frames=2, device="cpu")
    final = train(cfg, TINY, LossConfig(), data, val_dataset=data, progress=False)
    run = tmp_path / "run"
    assert final == run / "model.safetensors" and final.is_file() and (run / "model.json").is_file()
    assert [r["step"] for r in _rows(run / "metrics.csv")] == ["2", "4"]
    assert [r["step"] for r in _rows(run / "val_metrics.csv")] == ["2", "4"]
    assert json.loads((run / "latest.json").read_text())["step"] == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step_0000004.json", "step_0000004.safetensors", "step_0000004.state.safetensors"]  # older one removed
    assert json.loads((run / "config.json").read_text())["model"]["decoder"]["num_layers"] == 2
    model, config = load_f2i(final)
    assert config == TINY
    # resume: two more steps continue from step 4
    train(TrainConfig(**{**cfg.__dict__, "steps": 6}), TINY, LossConfig(), data, progress=False)
    assert [r["step"] for r in _rows(run / "metrics.csv")] == ["2", "4", "6"]
    with pytest.raises(ValueError, match="different model config"):
        other = TINY.from_dict({**TINY.to_dict(), "assembly": {**TINY.to_dict()["assembly"], "max_instances": 9}})
        train(TrainConfig(**{**cfg.__dict__, "steps": 8}), other, LossConfig(), data, progress=False)


def test_resumed_run_matches_an_uninterrupted_run(tmp_path):
    data, common = _samples(4), dict(log_every=2, checkpoint_every=2, warmup_steps=2, device="cpu")
    straight = train(TrainConfig(out_dir=str(tmp_path / "a"), steps=4, **common), TINY, LossConfig(), data, progress=False)
    train(TrainConfig(out_dir=str(tmp_path / "b"), steps=2, **common), TINY, LossConfig(), data, progress=False)
    resumed = train(TrainConfig(out_dir=str(tmp_path / "b"), steps=4, **common), TINY, LossConfig(), data, progress=False)
    a, b = load_file(str(straight)), load_file(str(resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           str(root / "test/core/ddp_train_script.py"), str(tmp_path / "run")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(tmp_path / "run" / "metrics.csv")
    assert [r["step"] for r in rows] == ["2", "4"]
    assert float(rows[0]["frames_per_s"]) > 0 and (tmp_path / "run" / "model.safetensors").is_file()


def test_epoch_order_is_a_seeded_split_of_a_permutation():
    a, b = epoch_order(10, 0, 1, 0, 2), epoch_order(10, 0, 1, 1, 2)
    assert len(a) == len(b) == 5 and sorted(np.r_[a, b].tolist()) == list(range(10))
    assert epoch_order(10, 0, 1, 0, 2).tolist() == a.tolist()
    assert epoch_order(10, 1, 1, 0, 2).tolist() != a.tolist()


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0) and lr_factor(60, cfg) == pytest.approx(0.55)
    assert lr_factor(110, cfg) == pytest.approx(0.1)


def test_make_sample_reads_instance_ids_at_the_points_pixels():
    k = CameraIntrinsics(10.0, 10.0, 4.0, 3.0, 8, 6)
    depth = np.full((6, 8), 2.0, np.float32)
    inst = np.zeros((6, 8), np.int32)
    inst[:, :4] = 7
    fmap = np.full((6, 8), -1, np.int32)
    fmap[:3, :4], fmap[3:, :4], fmap[:, 4:] = 0, 1, 2
    frame = Frame(np.zeros((6, 8, 3), np.uint8), depth, np.eye(4), k, instance_gt=inst)
    masks = MaskResult(np.stack([fmap == i for i in range(3)]), np.ones(3, np.float32), fmap)
    lift = LiftConfig(voxel_size=0.0, point_budget=0, min_fragment_points=1)
    sample = make_sample(frame, masks, lift, LossConfig(min_gt_points=1))
    assert sample.input.num_fragments == 3 and sample.target.ids.tolist() == [7]
    assert sample.target.masks.sum().item() == 24  # the left half
    frame.instance_gt = None
    with pytest.raises(ValueError, match="instance_gt"):
        make_sample(frame, masks, lift, LossConfig())


def test_augmentation_keeps_heights_and_shapes():
    points, _, _ = synthetic_frame()
    out = augment_points(points, np.random.default_rng(0), AugmentConfig(scale=(1.0, 1.0)))
    np.testing.assert_allclose(out.xyz[:, 2], points.xyz[:, 2], atol=1e-5)
    d_in = np.linalg.norm(points.xyz[1:] - points.xyz[:-1], axis=1)
    d_out = np.linalg.norm(out.xyz[1:] - out.xyz[:-1], axis=1)
    np.testing.assert_allclose(d_out, d_in, atol=1e-4)  # rigid
    assert out.fragment is points.fragment


def test_instance_ious_exact():
    labels = np.array([1, 1, 2, 0])
    gt = np.array([[1, 1, 1, 0], [0, 0, 0, 1]], bool)
    np.testing.assert_allclose(instance_ious(labels, 2, gt), [[2 / 3, 1 / 3], [0, 0]])


def test_smoke_training_lowers_the_loss_and_the_checkpoint_round_trips(tmp_path):
    data = _samples(1) * 8  # one frame, seen again and again
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=24, log_every=4, checkpoint_every=24, warmup_steps=2,
                      lr=3e-3, device="cpu")
    final = train(cfg, TINY, LossConfig(), data, progress=False)
    totals = [float(r["total"]) for r in _rows(tmp_path / "run" / "metrics.csv")]
    assert len(totals) == 6 and totals[-1] < 0.8 * totals[0], totals  # seeded: 7.67 -> 5.63 here
    model, _ = load_f2i(final)
    saved = load_file(str(final))
    assert saved.keys() == model.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("stage, name", [("f2i", "train_f2i"), ("f2i", "train_f2i_finetune"), ("pair", "train_pair"), ("pair", "train_pair_hard"),
                                         ("temporal", "train_temporal")])
def test_the_shipped_stage_configs_read_and_misspelt_keys_are_rejected(stage, name, tmp_path):
    from samosaic3d_core.train.stage_configs import read_stage_config

    path = Path(__file__).resolve().parents[2] / "config" / f"{name}.yaml"
    config, raw = read_stage_config(stage, path)
    assert config.data.lift.point_budget == 10000 and set(raw) <= {f.name for f in dataclasses.fields(config)}
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {lift: {point_budgt: 10}}\n")
    with pytest.raises(ValueError, match=r"unknown key 'data.lift.point_budgt'; did you mean 'data.lift.point_budget'"):
        read_stage_config(stage, bad)


def test_the_temporal_stage_reads_the_run_time_components_configs():
    from samosaic3d_core.train.stage_configs import read_stage_config

    config, _ = read_stage_config("temporal", Path(__file__).resolve().parents[2] / "config" / "train_temporal.yaml")
    temporal = config.temporal
    assert (temporal.frame_gap, temporal.pos_weight, temporal.memory.short_term_size) == (2, 2.0, 50)
    assert (temporal.frame_model.readout, temporal.frame_model.group_threshold) == ("affinity", None)
    assert (temporal.descriptor.color_bins, temporal.learned_association.i2s_merge_threshold) == (8, 0.5)
    assert (config.train.out_dir, config.train.steps, config.train.batch_size) == ("runs/temporal", 3000, 4)


def test_training_data_mixes_folders_and_mask_sources(tmp_path):
    from samosaic3d_core.cli.train import _mask_factory, _scenes
    from samosaic3d_core.masks.oversegment import OversegmentMasks
    from samosaic3d_core.masks.sim import SimMasks

    make = _mask_factory("sim+oversegment")
    kinds = {type(make(seed)) for seed in range(20)}
    assert kinds == {SimMasks, OversegmentMasks}
    assert all(type(make(3)) is type(make(3)) for _ in range(3)), "a seed always picks the same source"
    assert {type(_mask_factory("oversegment")(s)) for s in range(5)} == {OversegmentMasks}
    with pytest.raises(SystemExit, match="unknown mask source 'sam'"):
        _mask_factory("sim+sam")

    for root, count in (("a", 2), ("b", 1)):
        for i in range(count):
            for sub in ("color", "depth", "pose"):
                (tmp_path / root / f"scene{i}" / sub).mkdir(parents=True)
    scenes = _scenes(Path(f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"), "train")
    assert [s.parent.name for s in scenes] == ["a", "a", "b"]
    with pytest.raises(SystemExit, match="missing"):
        _scenes(Path(f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'missing'}"), "train")
