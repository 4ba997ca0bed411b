"""Temporal (I2S) stage: memory entries, frame records, combined checkpoints, a smoke run."""

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.losses import LossConfig, make_target
from samosaic3d_core.masks import make_mask_source
from samosaic3d_core.model.checkpoint import (
    is_samosaic3d_checkpoint, load_f2i, load_samosaic3d, save_f2i, save_samosaic3d,
)
from samosaic3d_core.model.f2i import F2IInput, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
from samosaic3d_core.train.dataset import Sample
from samosaic3d_core.train.loop import TrainConfig, train
from samosaic3d_core.train.temporal import (
    FrameRecord, SequenceDataset, TemporalConfig, frame_record, memory_entries, sequence_terms, train_temporal,
)
from samosaic3d_core.types import CameraIntrinsics, Frame, Instances, MaskResult
from test.core.f2i_fixtures import one_torch_thread, synthetic_frame  # noqa: F401  (autouse fixture)
from test.core.test_model_f2i import TINY


def _record(ids, boxes, feats, points):
    return FrameRecord(torch.tensor(feats, dtype=torch.float32), torch.tensor(boxes, dtype=torch.float32),
                       torch.tensor(ids), torch.tensor(points, dtype=torch.float32))


def test_memory_entries_fuse_earlier_instances_of_one_object():
    first = _record([1, 0], [[0, 0, 0, 1, 1, 1], [5, 5, 0, 6, 6, 1]], [[1.0, 0], [0, 1.0]], [10, 5])
    second = _record([1, 2, 0], [[0.5, 0, 0, 2, 1, 1], [3, 0, 0, 4, 1, 1], [8, 0, 0, 9, 1, 1]],
                     [[0.0, 1], [1, 1], [0, 2]], [30, 7, 1])
    mem = memory_entries([first, second], capacity=10)
    # oldest last-seen first: the id-0 instance of frame 0, then object 1 (fused), object 2, id 0 of frame 1
    assert mem.gt_ids.tolist() == [0, 1, 2, 0]
    torch.testing.assert_close(mem.boxes[1], torch.tensor([0.0, 0, 0, 2, 1, 1]))
    torch.testing.assert_close(mem.feats[1], torch.tensor([10 / 40, 30 / 40]))  # point-weighted mean
    assert mem.num_points.tolist() == [5, 40, 7, 1]
    assert memory_entries([first, second], capacity=2).gt_ids.tolist() == [2, 0]


def test_frame_record_labels_instances_with_their_majority_ground_truth_id():
    k = CameraIntrinsics(10.0, 10.0, 4.0, 3.0, 8, 6)
    inst = np.zeros((6, 8), np.int32)
    inst[:, :3], inst[:, 3:6] = 7, 9  # columns 0-2: object 7, 3-5: object 9, 6-7: none
    frame = Frame(np.zeros((6, 8, 3), np.uint8), np.full((6, 8), 2.0, np.float32), np.eye(4), k, instance_gt=inst)
    masks = MaskResult(np.ones((1, 6, 8), bool), np.ones(1, np.float32), np.zeros((6, 8), np.int32))

    def frame_model(frame, points, fragments):  # instance 1: columns 0-3, instance 2: columns 4-7
        local = np.where(points.pixel % 8 < 4, 1, 2)
        xyz = points.xyz
        boxes = [xyz[local == i] for i in (1, 2)]
        return Instances(np.array([1, 2]), np.ones(2, np.float32), np.stack([b.min(0) for b in boxes]),
                         np.stack([b.max(0) for b in boxes]), np.bincount(local)[1:], np.eye(2, dtype=np.float32)), local

    rec = frame_record(frame, masks, frame_model, LiftConfig(voxel_size=0.0, point_budget=0, min_fragment_points=1))
    assert rec.gt_ids.tolist() == [7, 0]  # 3 of 4 columns are 7; 9 and none tie 2:2, the smaller label wins
    assert rec.num_points.tolist() == [24, 24] and rec.feats.shape == (2, 2)


# ----------------------------------------------------------------- checkpoints
def _tiny_f2i():
    torch.manual_seed(0)
    return F2IModel.from_config(TINY).eval()


def test_combined_checkpoint_round_trip_and_clear_errors(tmp_path):
    f2i, i2s_config = _tiny_f2i(), I2SConfig(feat_dim=16)
    merger = I2SMerger(i2s_config)
    with torch.no_grad():
        merger.bias.fill_(-3.5)
    path = save_samosaic3d(tmp_path / "model.safetensors", f2i, TINY, merger, i2s_config)
    assert is_samosaic3d_checkpoint(path) and json.loads((tmp_path / "model.json").read_text())["i2s"]["feat_dim"] == 16
    f2i2, config, merger2, i2s_config2 = load_samosaic3d(path)
    assert config == TINY and i2s_config2 == i2s_config and float(merger2.bias.detach()) == -3.5
    assert all(torch.equal(v, f2i2.state_dict()[k]) for k, v in f2i.state_dict().items())
    only_f2i, _ = load_f2i(path)  # the F2I part of a combined file
    assert all(torch.equal(v, only_f2i.state_dict()[k]) for k, v in f2i.state_dict().items())

    f2i_file = save_f2i(tmp_path / "f2i.safetensors", f2i, TINY)
    assert not is_samosaic3d_checkpoint(f2i_file)
    with pytest.raises(ValueError, match=r"f2i\.safetensors: no 'i2s_config'.*not a SAMosaic3D checkpoint"):
        load_samosaic3d(f2i_file)
    wide = I2SConfig(feat_dim=32)
    save_samosaic3d(tmp_path / "wide.safetensors", f2i, TINY, I2SMerger(wide), wide)
    with pytest.raises(ValueError, match=r"wide\.safetensors: the I2S merger reads 32-d features but the F2I queries are 16-d"):
        load_samosaic3d(tmp_path / "wide.safetensors")
    tensors = load_file(str(path))
    tensors["i2s.query.weight"] = torch.zeros(3, 3)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(tmp_path / "edited.safetensors"), metadata=metadata)
    with pytest.raises(ValueError, match=r"edited\.safetensors: the I2S weights do not fit"):
        load_samosaic3d(tmp_path / "edited.safetensors")
    with pytest.raises(FileNotFoundError):
        load_samosaic3d(tmp_path / "missing.safetensors")


# ----------------------------------------------------------------- smoke run
@pytest.fixture(scope="module")
def tiny_f2i_weights(tmp_path_factory):
    """A tiny F2I model after a few training steps (the temporal stage starts from one)."""
    samples = []
    for seed in range(2):
        points, m, ids = synthetic_frame(points_per_object=80, floor_points=80, seed=seed)
        samples.append(Sample(F2IInput.from_points(points, m), make_target(ids, points.fragment, m, points.xyz, LossConfig())))
    out = tmp_path_factory.mktemp("f2i")
    return train(TrainConfig(out_dir=str(out), steps=2, warmup_steps=1, checkpoint_every=2, device="cpu"),
                 TINY, LossConfig(), samples, progress=False)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_temporal_smoke_run_lowers_the_loss_and_resumes(tmp_path, tiny_f2i_weights):
    f2i, f2i_config = load_f2i(tiny_f2i_weights)
    frames = list(generate_scene(SynthConfig(frames=7, width=160, height=120), seed=3))
    frame_model = F2IFrameModel(f2i, F2IFrameConfig(score_threshold=0.0, min_points=5))
    temporal = TemporalConfig(window=3, frame_gap=2)
    data = SequenceDataset([frames], lambda seed: make_mask_source("sim", seed=seed), frame_model,
                           LiftConfig(point_budget=1500), temporal)
    assert len(data) == 2 and data.frames() == [(0, 0), (0, 2), (0, 4), (0, 6)]
    windows = [data[i] for i in range(len(data))]
    assert sum(len(r.gt_ids) for r in windows[0]) > 0 and any(bool((r.gt_ids > 0).any()) for r in windows[0])
    i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels)

    def loss_of(merger):
        with torch.no_grad():
            return float(np.mean([float(sequence_terms(merger, w, temporal, "cpu")[0]) for w in windows]))

    before = loss_of(I2SMerger(i2s_config))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=12, batch_size=2, lr=0.02, warmup_steps=1, log_every=6,
                      checkpoint_every=6, keep_checkpoints=1, val_frames=2, device="cpu")
    final = train_temporal(cfg, temporal, f2i, f2i_config, i2s_config, data, val_dataset=data, progress=False)
    run = tmp_path / "run"
    assert final == run / "model.safetensors" and (run / "model.json").is_file()
    assert [r["step"] for r in _rows(run / "metrics.csv")] == ["6", "12"]
    assert [r["step"] for r in _rows(run / "val_metrics.csv")] == ["6", "12"]
    f2i_loaded, config, merger, i2s_loaded = load_samosaic3d(final)
    assert config == f2i_config and i2s_loaded == i2s_config
    assert all(torch.equal(v, f2i_loaded.state_dict()[k]) for k, v in f2i.state_dict().items())  # F2I frozen
    after = loss_of(merger)
    assert after < before, (before, after)
    # resume: four more steps continue from step 12
    train_temporal(TrainConfig(**{**cfg.__dict__, "steps": 16, "log_every": 4}), temporal, f2i, f2i_config,
                   i2s_config, data, progress=False)
    assert [r["step"] for r in _rows(run / "metrics.csv")] == ["6", "12", "16"]
    assert json.loads((run / "latest.json").read_text())["step"] == 16
    with pytest.raises(ValueError, match="feat_dim is 8"):
        train_temporal(cfg, temporal, f2i, f2i_config, I2SConfig(feat_dim=8), data, progress=False)


class _RecordWindows:
    """Windows of synthetic frame records: 5 objects seen in every frame, features = the object's
    direction + noise, boxes jittered; what a frozen F2I model would hand the merger."""

    def __init__(self, config: TemporalConfig, num_windows: int = 8, seed: int = 0):
        rng = np.random.default_rng(seed)
        objects = rng.normal(size=(5, 16))
        lows = np.c_[np.arange(5) * 0.9, rng.uniform(0, 0.3, (5, 2))]  # neighbours 0.3 m apart
        self.config, self.windows = config, []
        for _ in range(num_windows):
            window = []
            for _ in range(config.window):
                lo = lows + rng.normal(scale=0.05, size=lows.shape)
                boxes = np.c_[lo, lo + 0.6]
                feats = objects + rng.normal(scale=0.8, size=objects.shape)
                ids = np.arange(1, 6)
                ids[rng.random(5) < 0.2] = 0  # some instances cover no object
                window.append(_record(ids.tolist(), boxes, feats, np.full(5, 50)))
            self.windows.append(window)

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, i):
        return self.windows[i]

    def prepare(self, progress=False):
        pass


def test_temporal_training_learns_the_merge_matrix(tmp_path):
    temporal = TemporalConfig(window=3, frame_gap=1)
    data, i2s_config = _RecordWindows(temporal), I2SConfig(feat_dim=16)

    def terms_of(merger):
        with torch.no_grad():
            return np.nanmean([sequence_terms(merger, data[i], temporal, "cpu")[1].numpy() for i in range(len(data))], 0)

    before = terms_of(I2SMerger(i2s_config))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=60, batch_size=2, lr=0.01, warmup_steps=1, log_every=30,
                      checkpoint_every=60, device="cpu")
    final = train_temporal(cfg, temporal, _tiny_f2i(), TINY, i2s_config, data, progress=False)
    after = terms_of(load_samosaic3d(final)[2])
    merge, mean_pos, mean_neg = 0, 1, 2
    assert after[merge] < 0.7 * before[merge], (before, after)
    assert after[mean_pos] - after[mean_neg] > before[mean_pos] - before[mean_neg], (before, after)


def test_cli_temporal_stage(tmp_path, tiny_f2i_weights):
    from samosaic3d_core.cli.main import main
    from samosaic3d_core.data.synth.writer import write_scene

    scene = write_scene(generate_scene(SynthConfig(frames=5, width=160, height=120), seed=4), tmp_path / "data",
                        progress=False)
    config = tmp_path / "temporal.yaml"
    config.write_text("data: {point_budget: 1500}\ntemporal: {window: 2, frame_gap: 2}\n"
                      "train: {steps: 2, batch_size: 1, checkpoint_every: 2, log_every: 1, threads: 1}\n")
    out = tmp_path / "run"
    assert main(["train", "--stage", "temporal", "--init", str(tiny_f2i_weights), "--config", str(config),
                 "--data", str(scene), "--out", str(out), "--device", "cpu"]) == 0
    f2i, f2i_config, _, i2s_config = load_samosaic3d(out / "model.safetensors")
    assert i2s_config.feat_dim == f2i_config.backbone.out_channels == 16
    saved = json.loads((out / "config.json").read_text())
    assert saved["init"] == str(tiny_f2i_weights) and saved["temporal"]["window"] == 2
    with pytest.raises(SystemExit, match="give --init"):
        main(["train", "--stage", "temporal", "--config", str(config), "--data", str(scene), "--out", str(out)])
    with pytest.raises(SystemExit, match="section 'model' belongs to the f2i stage"):
        config.write_text("model: {}\n")
        main(["train", "--stage", "temporal", "--init", str(tiny_f2i_weights), "--config", str(config),
              "--data", str(scene)])
