"""Temporal (I2S) stage: teacher-forced replay, combined checkpoints, a smoke run."""

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from samosaic3d_core.data.synth import SynthConfig, generate_scene
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.masks import make_mask_source
from samosaic3d_core.model.checkpoint import (
    is_samosaic3d_checkpoint, load_f2i, load_samosaic3d, save_f2i, save_samosaic3d,
)
from samosaic3d_core.model.f2i import F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.model.i2s import I2SConfig, I2SMerger
from samosaic3d_core.train.loop import TrainConfig
from samosaic3d_core.memory import MemoryConfig
from samosaic3d_core.train.temporal import (
    MergeDataset, MergeProblem, TeacherForcedReplay, TemporalConfig, instance_gt_ids, problem_terms, train_temporal,
)
from samosaic3d_core.types import CameraIntrinsics, Frame, Instances, MaskResult
from test.core.f2i_fixtures import one_torch_thread, tiny_scene  # noqa: F401  (autouse fixture)
from test.core.test_model_f2i import TINY


K8x6 = CameraIntrinsics(10.0, 10.0, 4.0, 3.0, 8, 6)
LIFT_ALL = LiftConfig(voxel_size=0.0, point_budget=0, min_fragment_points=1)


def _columns_frame(index):
    """An 8 x 6 frame 2 m away: columns 0-2 show object 7, 3-5 object 9, 6-7 no object."""
    inst = np.zeros((6, 8), np.int32)
    inst[:, :3], inst[:, 3:6] = 7, 9
    return Frame(np.zeros((6, 8, 3), np.uint8), np.full((6, 8), 2.0, np.float32), np.eye(4), K8x6, index=index,
                 timestamp=float(index), instance_gt=inst)


ONE_MASK = MaskResult(np.ones((1, 6, 8), bool), np.ones(1, np.float32), np.zeros((6, 8), np.int32))


def _column_model(edges):
    """Frame model: instance k covers the columns edges[k - 1] <= column < edges[k]; feature e_k."""
    def frame_model(frame, points, fragments):
        local = np.searchsorted(np.asarray(edges[1:]), points.pixel % 8, side="right") + 1
        xyz, k = points.xyz, len(edges) - 1
        parts = [xyz[local == i] for i in range(1, k + 1)]
        return Instances(np.arange(1, k + 1), np.ones(k, np.float32), np.stack([p.min(0) for p in parts]),
                         np.stack([p.max(0) for p in parts]), np.bincount(local)[1:], np.eye(k, 4, dtype=np.float32)), local
    return frame_model


def test_instance_gt_ids_are_majority_ground_truth_ids():
    frame = _columns_frame(0)
    points = lift_points(frame)
    local = np.where(points.pixel % 8 < 4, 1, 2)
    assert instance_gt_ids(frame, points, local, 2).tolist() == [7, 0]  # 9 and none tie 2:2, the smaller wins


def lift_points(frame):
    from samosaic3d_core.lift import lift_frame

    return lift_frame(frame, ONE_MASK, LIFT_ALL)[0]


def test_teacher_forced_replay_poses_the_run_time_problem_and_follows_ground_truth():
    replay = TeacherForcedReplay(_column_model([0, 3, 6, 8]), LIFT_ALL, MemoryConfig(short_term_size=5))
    assert replay.step(_columns_frame(0), ONE_MASK) is None  # empty memory: nothing to merge
    assert replay.gt_of_map == {1: 7, 2: 9, 3: 0} and replay.map_of_gt == {7: 1, 9: 2}
    problem = replay.step(_columns_frame(1), ONE_MASK)
    assert problem.target.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert problem.counted.tolist() == [[True, True, True], [True, True, True], [True, True, False]]
    torch.testing.assert_close(problem.overlap[..., 0].diagonal(), torch.ones(3))  # each lies on its own instance
    assert problem.frame_feats.shape == problem.memory_feats.shape == (3, 4)
    assert replay.memory.num_ids == 3  # the objects joined theirs, the wall piece joined the wall instance
    # a frame cut differently: object 7 in two pieces, both join map instance 1
    replay.frame_model = _column_model([0, 1, 3, 6, 8])
    problem = replay.step(_columns_frame(2), ONE_MASK)
    assert problem.target[:, 0].tolist() == [1, 1, 0, 0] and replay.memory.num_ids == 3


def test_teacher_forced_replay_keeps_the_teachers_ids_when_the_memory_would_split_them():
    """Object 7, seen whole once, then comes in two pieces in every frame, which the teacher sends to
    its one map instance; a consolidating memory would split them into an id the teacher never
    matched."""
    splitting = MemoryConfig(short_term_size=5, map_voxel_size=0.05, confidence="support")
    splitting.consolidation = dataclasses.replace(splitting.consolidation, every=1, split_min_views=1,
                                                  split_ratio=0.5, split_min_voxels=1, min_voxels=1)
    replay = TeacherForcedReplay(_column_model([0, 3, 6, 8]), LIFT_ALL, splitting)
    replay.step(_columns_frame(0), ONE_MASK)  # whole: map instances 1 (object 7), 2 (object 9), 3 (wall)
    replay.frame_model = _column_model([0, 1, 3, 6, 8])
    for index in range(1, 6):
        replay.step(_columns_frame(index), ONE_MASK)
    assert set(replay.memory.alive_ids().tolist()) == set(replay.gt_of_map) == {1, 2, 3}
    assert replay.map_of_gt == {7: 1, 9: 2}


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
def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _learned_features(f2i):
    """[query, colour] features of a frame model that keeps several instances per frame even
    untrained (an untrained affinity readout groups everything into one)."""
    from samosaic3d_core.baseline import ColorFeatures

    return ColorFeatures(F2IFrameModel(f2i, F2IFrameConfig(readout="fragments", score_threshold=0.0)), append=True)


def test_temporal_smoke_run_lowers_the_loss_and_resumes(tmp_path, tiny_f2i_weights):
    f2i, f2i_config = load_f2i(tiny_f2i_weights)
    frames = list(generate_scene(SynthConfig(frames=9, width=160, height=120), seed=3))
    i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels, color_dim=27)
    temporal = TemporalConfig(frame_gap=2)
    data = MergeDataset([frames], lambda seed: make_mask_source("sim", seed=seed), _learned_features(f2i),
                        LiftConfig(point_budget=1500), temporal)
    assert data.frames(0) == [0, 2, 4, 6, 8] and 1 <= len(data) <= 4
    problems = [data[i] for i in range(len(data))]
    assert all(p.frame_feats.shape[1] == p.memory_feats.shape[1] == 16 + 27 for p in problems)
    assert sum(int(p.target.sum()) for p in problems) > 0

    def loss_of(merger):
        with torch.no_grad():
            return float(np.mean([float(problem_terms(merger, p, temporal, "cpu")[0]) for p in problems]))

    before = loss_of(I2SMerger(i2s_config))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=12, batch_size=1, lr=0.02, warmup_steps=1, log_every=6,
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


class _Problems:
    """Merge problems of 5 objects seen again: features = the object's direction + noise, boxes
    jittered, the cell overlap of a pair high for the same object and random otherwise (neighbours
    touch); some instances cover no object. What a replay hands the merger."""

    def __init__(self, config: TemporalConfig, num: int = 16, seed: int = 0):
        rng = np.random.default_rng(seed)
        objects = rng.normal(size=(5, 16))
        lows = np.c_[np.arange(5) * 0.9, rng.uniform(0, 0.3, (5, 2))]
        self.config, self.problems = config, []
        for _ in range(num):
            boxes = []
            for _ in range(2):
                lo = lows + rng.normal(scale=0.05, size=lows.shape)
                boxes.append(torch.tensor(np.c_[lo, lo + 0.6], dtype=torch.float32))
            feats = [torch.tensor(objects + rng.normal(scale=0.8, size=objects.shape), dtype=torch.float32)
                     for _ in range(2)]
            same = np.eye(5, dtype=bool)
            overlap = np.where(same[..., None], rng.uniform(0.3, 0.9, (5, 5, 2)), rng.uniform(0.0, 0.5, (5, 5, 2)))
            ids = np.arange(1, 6)
            ids[rng.random(5) < 0.2] = 0
            target = torch.tensor(same & (ids[:, None] > 0), dtype=torch.float32)
            counted = torch.tensor((ids[:, None] > 0) | (ids[None, :] > 0))
            self.problems.append(MergeProblem(feats[0], boxes[0], feats[1], boxes[1],
                                              torch.tensor(overlap, dtype=torch.float32), target, counted))

    def __len__(self):
        return len(self.problems)

    def __getitem__(self, i):
        return self.problems[i]

    def prepare(self, progress=False):
        pass


def test_temporal_training_learns_the_merge_matrix(tmp_path):
    temporal = TemporalConfig()
    data, i2s_config = _Problems(temporal), I2SConfig(feat_dim=16)

    def terms_of(merger):
        with torch.no_grad():
            return np.nanmean([problem_terms(merger, data[i], temporal, "cpu")[1].numpy() for i in range(len(data))], 0)

    before = terms_of(I2SMerger(i2s_config))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), steps=80, batch_size=2, lr=0.01, warmup_steps=1, log_every=40,
                      checkpoint_every=80, device="cpu")
    final = train_temporal(cfg, temporal, _tiny_f2i(), TINY, i2s_config, data, progress=False)
    after = terms_of(load_samosaic3d(final)[2])
    merge, mean_pos, mean_neg = 0, 1, 2
    assert after[merge] < 0.7 * before[merge], (before, after)
    assert after[mean_pos] - after[mean_neg] > before[mean_pos] - before[mean_neg], (before, after)


def test_cli_temporal_stage(tmp_path, tiny_f2i_weights):
    from samosaic3d_core.cli.main import main

    scene = tiny_scene(tmp_path, 5, 4)
    config = tmp_path / "temporal.yaml"
    config.write_text("data: {lift: {point_budget: 1500}}\ntemporal: {frame_gap: 1, frame_model: {readout: fragments}}\n"
                      "train: {steps: 2, batch_size: 1, checkpoint_every: 2, log_every: 1, threads: 1}\n")
    out = tmp_path / "run"
    assert main(["train", "--stage", "temporal", "--init", str(tiny_f2i_weights), "--config", str(config),
                 "--data", str(scene), "--out", str(out), "--device", "cpu"]) == 0
    f2i, f2i_config, _, i2s_config = load_samosaic3d(out / "model.safetensors")
    assert i2s_config.feat_dim == f2i_config.backbone.out_channels == 16
    saved = json.loads((out / "config.json").read_text())
    assert saved["init"] == str(tiny_f2i_weights) and saved["temporal"]["frame_model"]["readout"] == "fragments"
    with pytest.raises(SystemExit, match="give --init"):
        main(["train", "--stage", "temporal", "--config", str(config), "--data", str(scene), "--out", str(out)])
    with pytest.raises(SystemExit, match="unknown key 'model'"):
        config.write_text("model: {}\n")
        main(["train", "--stage", "temporal", "--init", str(tiny_f2i_weights), "--config", str(config),
              "--data", str(scene)])


def test_cli_f2i_stage_fine_tunes_from_init_into_the_config_out_dir(tmp_path, tiny_f2i_weights, monkeypatch):
    from samosaic3d_core.cli.main import main

    scene = tiny_scene(tmp_path, 3, 4)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "finetune.yaml"
    config.write_text("data: {lift: {point_budget: 1500}}\nloss: {affinity: 3.0, affinity_near_gap: 0.1}\n"
                      "train: {out_dir: ft, steps: 2, warmup_steps: 1, checkpoint_every: 2, val_frames: 1, threads: 1}\n")
    assert main(["train", "--stage", "f2i", "--init", str(tiny_f2i_weights), "--config", str(config),
                 "--data", str(scene), "--device", "cpu"]) == 0
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())  # train.out_dir, not the runs/f2i default
    assert saved["init"] == str(tiny_f2i_weights) and saved["loss"]["affinity_near_gap"] == 0.1
    tuned, tuned_config = load_f2i(tmp_path / "ft" / "model.safetensors")
    start, start_config = load_f2i(tiny_f2i_weights)
    assert tuned_config == start_config
    assert any(not torch.equal(v, start.state_dict()[k]) for k, v in tuned.state_dict().items())
    config.write_text("model: {backbone: {out_channels: 8}}\n")
    with pytest.raises(SystemExit, match="model section differs from the model of --init"):
        main(["train", "--stage", "f2i", "--init", str(tiny_f2i_weights), "--config", str(config), "--data", str(scene)])
