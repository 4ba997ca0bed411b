"""Pair cues, the pair head, its checkpoint, its use in the affinity readout, and the pair stage."""

import json

import numpy as np
import pytest
import torch

from samosaic3d_core.model.checkpoint import load_f2i, save_f2i
from samosaic3d_core.model.f2i import W_GROUP_THRESHOLD, F2IConfig, F2IInput, F2IModel
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.model.pair_cues import (
    NUM_PAIR_CUES, PAIR_CUES, PairCueConfig, _spread_sample, pair_cues, pixel_uv,
)
from samosaic3d_core.model.pair_head import PairHead, PairHeadConfig
from samosaic3d_core.train.pair import (
    PairSet, PairTrainConfig, average_precision, fit_pair_head, grouping_precision_recall, pair_metrics,
)
from samosaic3d_core.types import Fragments, Frame, CameraIntrinsics
from test.core.f2i_fixtures import full_weights, one_torch_thread, synthetic_frame, tiny_scene  # noqa: F401  (autouse fixture)
from test.core.test_model_f2i import TINY

CUE = {name: k for k, name in enumerate(PAIR_CUES)}


def _three_fragments():
    """Fragments 0 and 1 touch (2 cm apart, red and green), fragment 2 (red) lies 2 m away."""
    xyz = torch.tensor([[0, 0, 0], [0.01, 0, 0], [0.03, 0, 0], [0.05, 0, 0], [2, 0, 0], [2.01, 0, 0]])
    rgb = torch.tensor([[1.0, 0, 0]] * 2 + [[0, 1.0, 0]] * 2 + [[1.0, 0, 0]] * 2)
    uv = torch.tensor([[0.0, 0], [1, 0], [3, 0], [5, 0], [100, 0], [101, 0]])
    return xyz, rgb, uv, torch.tensor([0, 0, 1, 1, 2, 2])


def test_pair_cues_of_touching_and_distant_fragments():
    xyz, rgb, uv, frag = _three_fragments()
    affinity = torch.tensor([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])
    cues = pair_cues(xyz, rgb, uv, frag, 3, affinity)
    assert cues.shape == (3, 3, NUM_PAIR_CUES)
    torch.testing.assert_close(cues, cues.transpose(0, 1))
    near, far = cues[0, 1], cues[0, 2]
    assert near[CUE["affinity"]] == pytest.approx(0.8) and far[CUE["affinity"]] == pytest.approx(0.1)
    assert near[CUE["distance"]] == pytest.approx(0.02) and near[CUE["box_gap"]] == pytest.approx(0.02)
    assert far[CUE["distance"]] == pytest.approx(0.5) and far[CUE["box_gap"]] == pytest.approx(0.5)  # clipped
    assert near[CUE["pixel_distance"]] == pytest.approx(0.2) and far[CUE["pixel_distance"]] == pytest.approx(5.0)
    assert near[CUE["contact"]] == 1.0 and far[CUE["contact"]] == 0.0
    assert near[CUE["color_distance"]] == pytest.approx(2 ** 0.5) and far[CUE["color_distance"]] == 0.0
    assert near[CUE["contact_color"]] == pytest.approx(2.0)  # red against green where they touch
    assert near[CUE["log_size_small"]] == near[CUE["log_size_large"]] == pytest.approx(np.log(2))
    assert far[CUE["ground_distance"]] == pytest.approx(2.0, abs=0.01) and far[CUE["height_gap"]] == 0.0


def test_pair_cues_read_the_smaller_fragments_contact():
    # fragment 0: 1 point touching fragment 1 (10 points, 9 of them far from fragment 0)
    xyz = torch.tensor([[0.0, 0, 0]] + [[0.02 + 0.1 * k, 0, 0] for k in range(10)])
    frag = torch.tensor([0] + [1] * 10)
    cues = pair_cues(xyz, torch.zeros(11, 3), torch.zeros(11, 2), frag, 2, torch.eye(2))
    assert cues[0, 1, CUE["contact"]] == cues[1, 0, CUE["contact"]] == 1.0


def _box_on_a_board():
    """Fragment 0: a board (z = 0.3); 1: the front face of a box standing on it (x = 0.5, facing
    the camera at x = -2); 2: the box's top (z = 0.5)."""
    rng = np.random.default_rng(0)
    board = np.c_[rng.uniform(0, 1, 300), rng.uniform(0, 1, 300), np.full(300, 0.3)]
    front = np.c_[np.full(150, 0.5), rng.uniform(0.4, 0.6, 150), rng.uniform(0.3, 0.5, 150)]
    top = np.c_[rng.uniform(0.5, 0.7, 150), rng.uniform(0.4, 0.6, 150), np.full(150, 0.5)]
    xyz = torch.tensor(np.r_[board, front, top], dtype=torch.float32)
    return xyz, torch.tensor([0] * 300 + [1] * 150 + [2] * 150)


def test_convexity_cues_tell_a_box_on_its_board_from_two_faces_of_the_box():
    xyz, frag = _box_on_a_board()
    config = PairCueConfig(convexity=True)
    assert config.names[:NUM_PAIR_CUES] == PAIR_CUES and config.count == NUM_PAIR_CUES + 2
    cues = pair_cues(xyz, torch.rand(len(xyz), 3), torch.rand(len(xyz), 2), frag, 3, torch.eye(3), config,
                     viewpoint=torch.tensor([-2.0, 0.5, 1.5]))
    assert cues.shape == (3, 3, config.count)
    torch.testing.assert_close(cues, cues.transpose(0, 1))
    for cue in (-2, -1):  # whole fragments and where they touch
        assert cues[0, 1, cue] < -0.3  # the box meets its board at a concave angle
        assert cues[1, 2, cue] > 0.3  # its front and top meet at a convex one
    # a scene and its camera moved together give the same angles
    shift = torch.tensor([3.0, -1.0, 0.5])
    moved = pair_cues(xyz + shift, torch.rand(len(xyz), 3), torch.rand(len(xyz), 2), frag, 3, torch.eye(3), config,
                      viewpoint=torch.tensor([-2.0, 0.5, 1.5]) + shift)
    torch.testing.assert_close(moved[..., -2:], cues[..., -2:], atol=1e-4, rtol=1e-4)


def test_convexity_cues_are_zero_without_a_viewpoint_and_absent_by_default():
    xyz, frag = _box_on_a_board()
    assert pair_cues(xyz, torch.rand(len(xyz), 3), torch.rand(len(xyz), 2), frag, 3, torch.eye(3)).shape[-1] \
        == NUM_PAIR_CUES
    blind = pair_cues(xyz, torch.rand(len(xyz), 3), torch.rand(len(xyz), 2), frag, 3, torch.eye(3),
                      PairCueConfig(convexity=True))
    assert torch.all(blind[..., -2:] == 0)


def test_spread_sample_bounds_each_fragment_and_keeps_every_fragment():
    fragment = torch.tensor([0] * 100 + [-1] * 5 + [1] * 3 + [2] * 47)
    picked = _spread_sample(fragment, 3, 10)
    counts = torch.bincount(fragment[picked], minlength=3).tolist()
    assert counts == [10, 3, 10] and (fragment[picked] >= 0).all()


def test_pixel_uv_inverts_flat_indices():
    np.testing.assert_array_equal(pixel_uv(np.array([0, 7, 8, 23]), 8), [[0, 0], [7, 0], [0, 1], [7, 2]])


def test_pair_head_affinity_is_a_symmetric_probability_with_unit_diagonal():
    torch.manual_seed(0)
    head = PairHead(PairHeadConfig(enabled=True))
    cues = torch.rand(5, 5, NUM_PAIR_CUES)
    affinity = head.affinity(cues)
    torch.testing.assert_close(affinity, affinity.T)
    assert torch.all(affinity.diagonal() == 1) and torch.all((affinity >= 0) & (affinity <= 1))


def test_pair_head_config_rejects_a_threshold_outside_0_1():
    with pytest.raises(ValueError, match="group_threshold"):
        PairHeadConfig(group_threshold=1.5)


@pytest.mark.parametrize("convexity", [False, True])
def test_checkpoint_with_pair_head_round_trips_and_old_configs_have_none(tmp_path, convexity):
    config = F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True, "hidden": 8, "group_threshold": 0.4,
                                                             "cues": {"convexity": convexity}}})
    torch.manual_seed(0)
    model = F2IModel.from_config(config)
    model.pair.set_cue_statistics(torch.rand(20, config.pair.cues.count))
    loaded, loaded_config = load_f2i(save_f2i(tmp_path / "m.safetensors", model, config))
    assert loaded_config.pair.enabled and loaded_config.pair.group_threshold == 0.4
    assert loaded_config.pair.cues.convexity == convexity and loaded.pair.mlp[0].in_features == config.pair.cues.count
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    assert any(k.startswith("pair.") for k in model.state_dict())
    old = TINY.to_dict()
    old.pop("pair")
    assert F2IModel.from_config(F2IConfig.from_dict(old)).pair is None


def _frame_for(points):
    width = int(points.pixel.max()) + 1
    return Frame(np.zeros((1, width, 3), np.uint8), np.ones((1, width), np.float32), np.eye(4),
                 CameraIntrinsics(1.0, 1.0, 0.0, 0.0, width, 1))


def _fragments(m):
    zeros = np.zeros((m, 3), np.float32)
    return Fragments(np.arange(m), zeros, zeros, zeros, np.ones(m, np.int64), np.ones(m, np.float32))


@pytest.mark.parametrize("bias, groups", [(20.0, 1), (-20.0, 7)])
def test_affinity_readout_groups_by_the_pair_head(bias, groups):
    points, m, _ = synthetic_frame()
    torch.manual_seed(0)
    model = F2IModel.from_config(F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True}}))
    last = model.pair.mlp[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, bias)  # join every pair / no pair
    frame_model = F2IFrameModel(model, F2IFrameConfig(score_threshold=0.0, min_points=1, fill_unassigned=False))
    instances, labels = frame_model(_frame_for(points), points, _fragments(m))
    assert len(instances) == groups
    assert len(np.unique(labels[points.fragment >= 0])) == groups


def test_frame_model_gives_the_convexity_cues_the_camera_position(monkeypatch):
    import samosaic3d_core.model.f2i as f2i

    seen = []

    def recording(*args, **kwargs):
        seen.append(args[7].tolist())
        return pair_cues(*args, **kwargs)

    monkeypatch.setattr(f2i, "pair_cues", recording)
    points, m, _ = synthetic_frame()
    torch.manual_seed(0)
    model = F2IModel.from_config(F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True,
                                                                                 "cues": {"convexity": True}}}))
    frame = _frame_for(points)
    frame.pose[:3, 3] = [1.0, 2.0, 3.0]
    F2IFrameModel(model, F2IFrameConfig(score_threshold=0.0, min_points=1))(frame, points, _fragments(m))
    assert seen == [[1.0, 2.0, 3.0]]


def _pairs(n_frames=150, m=6, seed=0):
    """Pair sets in which 'same object' is 'closer than 10 cm', and W is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_frames):
        pos = rng.uniform(0, 1, m)
        i, j = np.triu_indices(m, 1)
        cues = rng.uniform(0, 1, (len(i), NUM_PAIR_CUES)).astype(np.float32)
        cues[:, CUE["distance"]] = np.abs(pos[i] - pos[j])
        rows.append((cues, np.abs(pos[i] - pos[j]) < 0.1, np.full(len(i), f), i, j))
    return PairSet(*(np.concatenate(c) for c in zip(*rows)))


def test_fitting_the_pair_head_learns_what_w_misses():
    train, val = _pairs(seed=0), _pairs(seed=1)
    head = PairHead(PairHeadConfig(enabled=True, hidden=16))
    fit_pair_head(head, train, PairTrainConfig(steps=800, lr=0.01, log_every=400), "cpu")
    metrics = pair_metrics(head, val, "cpu")
    assert metrics["pair_ap"] > 0.9 > 0.5 > metrics["pair_ap_w"]
    assert metrics["group_precision"] > 0.8 and metrics["group_recall"] > 0.8


def test_average_precision_and_grouping_precision_recall_exact():
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True])) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(average_precision(np.array([0.5]), np.array([False])))
    # one frame of 3 fragments: 0-1 join (0.9), 2 stays alone; truth: 0-1 and 1-2 are the same object
    pairs = PairSet(np.zeros((3, NUM_PAIR_CUES), np.float32), np.array([True, False, True]), np.zeros(3, np.int64),
                    np.array([0, 0, 1]), np.array([1, 2, 2]))
    precision, recall = grouping_precision_recall(pairs, np.array([0.9, 0.1, 0.2]), 0.5)
    assert (precision, recall) == (1.0, 0.5)


def test_cli_pair_stage_writes_a_model_with_its_head_and_reuses_its_pairs(tmp_path, capsys, tiny_f2i_weights):
    from samosaic3d_core.cli.main import main

    init = tiny_f2i_weights
    scene = tiny_scene(tmp_path, 4, 4)
    config = tmp_path / "pair.yaml"
    config.write_text("data: {lift: {point_budget: 1500}}\npair: {frame_stride: 1, val_frame_stride: 1, steps: 20, threads: 1}\n"
                      "pair_head: {hidden: 8, group_threshold: 0.6}\n")
    out = tmp_path / "run"
    args = ["train", "--stage", "pair", "--init", str(init), "--config", str(config), "--data", str(scene),
            "--val-data", str(scene), "--out", str(out), "--device", "cpu"]
    assert main(args) == 0
    model, model_config = load_f2i(out / "model.safetensors")
    assert model.pair is not None and model_config.pair.hidden == 8 and model_config.pair.group_threshold == 0.6
    metrics = json.loads((out / "val_metrics.json").read_text())
    assert metrics["val_pairs"] > 0 and 0.0 <= metrics["val_group_precision"] <= 1.0
    capsys.readouterr()
    assert main(args) == 0
    assert "reusing" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="give --init"):
        main(["train", "--stage", "pair", "--config", str(config), "--data", str(scene)])
    config.write_text("temporal: {}\n")
    with pytest.raises(SystemExit, match="unknown key 'temporal'"):
        main(["train", "--stage", "pair", "--init", str(init), "--config", str(config), "--data", str(scene)])


def test_cli_pair_stage_on_a_full_model_keeps_its_merger(tmp_path, tiny_f2i_weights):
    """Retraining a full model's pair head gives a full model: the new head, the same F2I and merger."""
    from samosaic3d_core.cli.main import main
    from samosaic3d_core.model.checkpoint import is_samosaic3d_checkpoint, load_samosaic3d

    init = full_weights(tiny_f2i_weights, tmp_path / "full.safetensors", -2.5)
    f2i, _, _, i2s_config = load_samosaic3d(init)
    scene = tiny_scene(tmp_path, 3, 5)
    config = tmp_path / "pair.yaml"
    config.write_text("data: {lift: {point_budget: 1500}}\npair: {frame_stride: 1, steps: 10, threads: 1}\n"
                      "pair_head: {hidden: 8}\n")
    out = tmp_path / "run"
    assert main(["train", "--stage", "pair", "--init", str(init), "--config", str(config), "--data", str(scene),
                 "--out", str(out), "--device", "cpu"]) == 0
    assert is_samosaic3d_checkpoint(out / "model.safetensors")
    f2i2, f2i_config2, merger2, i2s_config2 = load_samosaic3d(out / "model.safetensors")
    assert f2i_config2.pair.hidden == 8 and i2s_config2 == i2s_config and float(merger2.bias.detach()) == -2.5
    frozen = {k: v for k, v in f2i.state_dict().items() if not k.startswith("pair.")}
    assert all(torch.equal(v, f2i2.state_dict()[k]) for k, v in frozen.items())
    # an F2I-only init still gives an F2I-only file
    assert main(["train", "--stage", "pair", "--init", str(tiny_f2i_weights), "--config", str(config), "--data",
                 str(scene), "--out", str(tmp_path / "run2"), "--device", "cpu"]) == 0
    assert not is_samosaic3d_checkpoint(tmp_path / "run2" / "model.safetensors")


def test_pair_cues_stay_finite_for_a_fragment_without_points():
    xyz, rgb, uv, frag = _three_fragments()
    cues = pair_cues(xyz, rgb, uv, frag, 4, torch.eye(4))  # fragment 3 has no point
    assert torch.isfinite(cues).all()
    assert cues[0, 3, CUE["distance"]] == 0.5 and cues[0, 3, CUE["contact"]] == 0.0


def test_a_checkpoint_whose_pair_head_tensors_are_missing_fails_naming_the_file(tmp_path):
    from safetensors.torch import load_file, safe_open, save_file

    config = F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True}})
    path = save_f2i(tmp_path / "m.safetensors", F2IModel.from_config(config), config)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file({k: v for k, v in load_file(str(path)).items() if not k.startswith("pair.")}, str(path), metadata)
    with pytest.raises(ValueError, match="m.safetensors.*do not fit"):
        load_f2i(path)


def test_the_refined_affinity_is_a_prediction_of_forward():
    points, m, _ = synthetic_frame()
    torch.manual_seed(0)
    model = F2IModel.from_config(F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True}})).eval()
    width = int(points.pixel.max()) + 1
    with torch.no_grad():
        pred = model([F2IInput.from_points(points, m, image_width=width)])[0]
        expected = model.pair.affinity(pair_cues(
            torch.as_tensor(points.xyz), torch.as_tensor(points.rgb / 255.0, dtype=torch.float32),
            torch.as_tensor(pixel_uv(points.pixel, width)), torch.as_tensor(points.fragment, dtype=torch.int64), m,
            pred.affinity))
        without_uv = model([F2IInput.from_points(points, m)])[0]
    assert pred.pair_affinity.shape == (m, m)
    torch.testing.assert_close(pred.pair_affinity, expected, rtol=0, atol=0)
    assert pred.grouping_affinity is pred.pair_affinity
    assert without_uv.pair_affinity is None and without_uv.grouping_affinity is without_uv.affinity


def test_the_grouping_threshold_is_the_configs_or_with_none_the_models_own():
    with_head = F2IModel.from_config(F2IConfig.from_dict({**TINY.to_dict(), "pair": {"enabled": True,
                                                                                      "group_threshold": 0.4}}))
    without_head = F2IModel.from_config(TINY)
    own = F2IFrameConfig(group_threshold=None)
    assert F2IFrameModel(with_head, own).config.group_threshold == 0.4
    assert F2IFrameModel(without_head, own).config.group_threshold == W_GROUP_THRESHOLD == 0.7
    assert F2IFrameModel(with_head).config.group_threshold == F2IFrameConfig().group_threshold == 0.7
    assert F2IFrameModel(with_head, F2IFrameConfig(group_threshold=0.9)).config.group_threshold == 0.9


def _brute_force_distances(xyz, uv, frag, m, radius):
    """Every sample against every sample, in float64: closest 3D and image distance per fragment
    pair, and how many samples of i lie within ``radius`` of j."""
    sample = _spread_sample(frag, m, 48)
    f, p, q = frag[sample], xyz[sample].double(), uv[sample].double()
    distance = torch.full((m, m), float("inf"), dtype=torch.float64)
    pixels, touching = distance.clone(), torch.zeros(m, m, dtype=torch.float64)
    for i in range(m):
        for j in range(m):
            if (f == i).any() and (f == j).any():
                d = torch.cdist(p[f == i], p[f == j], compute_mode="donot_use_mm_for_euclid_dist")
                distance[i, j] = d.min()
                pixels[i, j] = torch.cdist(q[f == i], q[f == j], compute_mode="donot_use_mm_for_euclid_dist").min()
                touching[i, j] = (d.amin(1) < radius).sum()
    return distance, pixels, touching


def test_pair_cues_measure_only_near_pairs_and_agree_with_every_sample_against_every_sample():
    # 12 fragments scattered over a 6 m room far from the origin (large coordinates), some touching,
    # some near in the image only, one without points; fragments of up to 300 points (sampled to 48)
    g = torch.Generator().manual_seed(3)
    centres = torch.rand(12, 3, generator=g) * torch.tensor([6.0, 6.0, 2.0]) + torch.tensor([40.0, -30.0, 0.0])
    centres[1] = centres[0] + torch.tensor([0.12, 0.0, 0.0])  # touching 0
    sizes = torch.randint(25, 300, (12,), generator=g)
    sizes[5] = 0
    frag = torch.cat([torch.full((int(n),), k) for k, n in enumerate(sizes)])
    xyz = centres[frag] + (torch.rand(len(frag), 3, generator=g) - 0.5) * 0.2
    uv = torch.rand(12, 2, generator=g)[frag] * 300 + torch.rand(len(frag), 2, generator=g) * 30
    uv[frag == 7] = uv[frag == 6][:1] + 5  # image neighbours of 6, whatever their 3D distance
    rgb = torch.rand(len(frag), 3, generator=g)
    config = PairCueConfig()
    cues = pair_cues(xyz, rgb, uv, frag, 12, torch.eye(12), config)

    distance, pixels, touching = _brute_force_distances(xyz, uv, frag, 12, config.contact_radius)
    off = ~torch.eye(12, dtype=torch.bool)
    torch.testing.assert_close(cues[..., CUE["distance"]][off].double(),
                               distance.clamp(max=config.max_distance)[off], atol=1e-5, rtol=0)
    torch.testing.assert_close(cues[..., CUE["pixel_distance"]][off].double(),
                               pixels.clamp(max=config.max_pixels)[off] / 10.0, atol=1e-4, rtol=0)
    assert cues[0, 1, CUE["distance"]] < 0.04 and cues[0, 1, CUE["contact"]] > 0
    s_count = torch.bincount(frag[_spread_sample(frag, 12, 48)], minlength=12).double()
    of = touching / s_count.clamp(min=1)[:, None]
    smaller_reads = torch.where(sizes[:, None] < sizes[None, :], of, of.T)
    equal = sizes[:, None] == sizes[None, :]
    expected = torch.where(equal, torch.maximum(of, of.T), smaller_reads)
    torch.testing.assert_close(cues[..., CUE["contact"]][off].double(), expected[off], atol=1e-6, rtol=0)
    assert (cues[5, :, CUE["distance"]][off[5]] == config.max_distance).all()  # the empty fragment
    assert cues[6, 7, CUE["pixel_distance"]] < 1.0
