import json

import numpy as np
import pytest
import torch
from torch import nn

from samosaic3d_core.losses import LossConfig, f2i_loss, make_target
from samosaic3d_core.model.assembly import AssemblyConfig
from samosaic3d_core.model.backbone import BackboneConfig
from samosaic3d_core.model.checkpoint import load_f2i, read_f2i_config, save_f2i
from samosaic3d_core.model.decoder import DecoderConfig
from samosaic3d_core.model.f2i import F2IConfig, F2IInput, F2IModel, F2IPrediction
from samosaic3d_core.model.frame_model import F2IFrameConfig, F2IFrameModel
from samosaic3d_core.model.heads import LayerPrediction
from samosaic3d_core.types import Fragments, FramePoints
from test.core.f2i_fixtures import one_torch_thread, synthetic_frame  # noqa: F401  (autouse fixture)

TINY = F2IConfig(
    backbone=BackboneConfig(voxel_size=0.05, channels=(8, 16), decoder_channels=(16,), out_channels=16),
    assembly=AssemblyConfig(max_instances=8, hidden=32),
    decoder=DecoderConfig(num_layers=2, num_heads=2, max_context_points=256),
)


def _model(config: F2IConfig = TINY) -> F2IModel:
    torch.manual_seed(0)
    return F2IModel.from_config(config)


def test_forward_shapes_for_a_batch_of_two_frames():
    (pa, ma, _), (pb, mb, _) = synthetic_frame(seed=0), synthetic_frame(num_objects=2, fragments_per_object=3, seed=1)
    preds = _model()([F2IInput.from_points(pa, ma), F2IInput.from_points(pb, mb)], num_active=[3, 2])
    for pred, points, m, n_hat in ((preds[0], pa, ma, 3), (preds[1], pb, mb, 2)):
        n = len(points.xyz)
        assert pred.num_active == n_hat and len(pred.layers) == 2
        assert pred.final.mask_logits.shape == (n_hat, n)
        assert pred.final.boxes.shape == (n_hat, 6) and pred.final.objectness.shape == (n_hat,)
        assert pred.count_logits.shape == (8,) and pred.assign.shape == (m, 8) and pred.affinity.shape == (m, m)
        assert pred.queries.shape == (n_hat, 16)
        assert (pred.assign[:, n_hat:] == 0).all()


def _points(n: int, fragment: np.ndarray) -> FramePoints:
    rng = np.random.default_rng(0)
    return FramePoints(rng.uniform(0, 1, (n, 3)).astype(np.float32), rng.integers(0, 255, (n, 3)).astype(np.uint8),
                       np.arange(n), fragment.astype(np.int32))


def test_zero_fragments_predicts_nothing_and_trains_without_nan():
    model = _model()
    points = _points(50, np.full(50, -1))
    pred = model([F2IInput.from_points(points, 0)])[0]
    assert pred.num_active == 0 and pred.final.mask_logits.shape == (0, 50) and pred.assign.shape == (0, 8)
    loss = f2i_loss([pred], [make_target(np.zeros(50), points.fragment, 0, points.xyz, LossConfig())], LossConfig())
    assert loss.total.item() == 0.0
    loss.total.backward()


def test_one_fragment_gives_one_finite_instance():
    model = _model()
    points = _points(60, np.r_[np.zeros(40), np.full(20, -1)])
    pred = model([F2IInput.from_points(points, 1)])[0]
    assert pred.num_active == 1 and pred.assign[0, 0] == 1.0 and pred.affinity.tolist() == [[1.0]]
    ids = np.r_[np.ones(40), np.zeros(20)]
    loss = f2i_loss([pred], [make_target(ids, points.fragment, 1, points.xyz, LossConfig())], LossConfig())
    assert torch.isfinite(loss.total)
    loss.total.backward()


def test_input_rejects_fragment_ids_beyond_count():
    with pytest.raises(ValueError, match="fragment 2"):
        F2IInput.from_points(_points(5, np.array([0, 1, 2, -1, 0])), 2)


def test_config_json_round_trip_and_unknown_keys():
    config = F2IConfig(backbone=BackboneConfig(channels=(8, 16, 24), decoder_channels=(8, 16)))
    again = F2IConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and isinstance(again.backbone.channels, tuple)
    with pytest.raises(ValueError, match=r"F2IConfig.decoder: unknown config keys \['layers'\]"):
        F2IConfig.from_dict({"decoder": {"layers": 3}})


def test_checkpoint_round_trip(tmp_path):
    model = _model().eval()
    path = save_f2i(tmp_path / "f2i.safetensors", model, TINY)
    assert read_f2i_config(path) == TINY and (tmp_path / "f2i.json").is_file()
    loaded, config = load_f2i(path)
    points, m, _ = synthetic_frame()
    inp = F2IInput.from_points(points, m)
    with torch.no_grad():
        a, b = model([inp])[0], loaded([inp])[0]
    torch.testing.assert_close(a.final.mask_logits, b.final.mask_logits, atol=5e-3, rtol=1e-3)  # spconv CPU sums in varying order
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(other))
    with pytest.raises(ValueError, match="not an F2I checkpoint"):
        load_f2i(other)


class _Stub(nn.Module):
    """Returns a fixed prediction for 6 points: instance 0 on points 0-2 (sure), 1 on points 3-4
    (low objectness), 2 on point 5 (too small)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.config = BackboneConfig(out_channels=2)
        self.group_threshold = 0.7

    def forward(self, frames, num_active=None):
        on = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 1]], dtype=torch.float32)
        layer = LayerPrediction(on * 20 - 10, torch.full((3, 6), 0.5), torch.tensor([5.0, -5.0, 5.0]))
        return [F2IPrediction([layer], torch.zeros(4), torch.eye(3, 4), torch.eye(3), 3,
                              torch.arange(6.0).view(3, 2), torch.zeros(3), torch.ones(3))]


def test_frame_model_keeps_confident_instances_with_enough_points():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [1, 2, 0], [5, 5, 5], [6, 5, 5], [9, 9, 9]], np.float32)
    points = FramePoints(xyz, np.zeros((6, 3), np.uint8), np.arange(6), np.array([0, 0, 0, 1, 1, 2], np.int32))
    fragments = Fragments(np.arange(3), np.zeros((3, 3), np.float32), np.zeros((3, 3), np.float32),
                          np.zeros((3, 3), np.float32), np.array([3, 2, 1]), np.ones(3, np.float32))
    frame_model = F2IFrameModel(_Stub(), F2IFrameConfig(score_threshold=0.5, min_points=2, readout="points"))
    instances, labels = frame_model(None, points, fragments)
    assert labels.tolist() == [1, 1, 1, 0, 0, 0] and labels.dtype == np.int32
    assert instances.ids.tolist() == [1] and instances.num_points.tolist() == [3]
    np.testing.assert_allclose(instances.box_min, [[0, 0, 0]])
    np.testing.assert_allclose(instances.box_max, [[1, 2, 0]])
    np.testing.assert_allclose(instances.centroid, [[2 / 3, 2 / 3, 0]], rtol=1e-6)
    np.testing.assert_allclose(instances.feats, [[0.0, 1.0]])
    assert 0.99 < instances.scores[0] <= 1.0  # sigmoid(5) x mean mask probability sigmoid(10)
    empty, none = frame_model(None, points, fragments[np.zeros(3, bool)])
    assert len(empty) == 0 and empty.feats.shape == (0, 2) and none.tolist() == [0] * 6
    # fragment readout: fragment 1 (claimed by a low-objectness instance) stays on its own, last by score
    snapped = F2IFrameModel(_Stub(), F2IFrameConfig(score_threshold=0.5, readout="fragments"))
    instances, labels = snapped(None, points, fragments)
    assert labels.tolist() == [1, 1, 1, 3, 3, 2]
    np.testing.assert_allclose(instances.feats, [[0.0, 1.0], [4.0, 5.0], [2.0, 3.0]])  # alone: the mean query


def test_tiny_model_overfits_one_frame():
    torch.manual_seed(0)
    model = F2IModel.from_config(TINY)
    points, m, ids = synthetic_frame(num_objects=3, fragments_per_object=3, points_per_object=150, floor_points=150)
    inp, config = F2IInput.from_points(points, m), LossConfig()
    target = make_target(ids, points.fragment, m, points.xyz, config)
    assert target.count == 3
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = f2i_loss(model([inp], num_active=[target.count]), [target], config)
        opt.zero_grad()
        loss.total.backward()
        opt.step()
        losses.append(loss.total.item())
    assert np.mean(losses[-5:]) < 0.4 * np.mean(losses[:3]), losses
