import numpy as np
import pytest
import torch

import spconv.pytorch.ops as spconv_ops
from samosaic3d_core.model.backbone import (
    NUM_INPUT_FEATURES,
    BackboneConfig,
    SpUNet,
    point_input_features,
    voxelize,
)
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)

TINY = BackboneConfig(voxel_size=0.1, channels=(8, 16, 16), decoder_channels=(8, 16), out_channels=16)


def _cloud(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=g) * 2.0, torch.rand(n, 3, generator=g)


def test_voxelize_groups_points_per_frame():
    xyz = torch.tensor([[0.1, 0.1, 0.1], [0.9, 0.2, 0.3], [1.5, 0.0, 0.0], [3.2, 0.2, 0.2], [4.1, 0.0, 0.0]])
    batch = torch.tensor([0, 0, 0, 1, 1])
    coords, inverse, shape = voxelize(xyz, batch, 1.0)
    assert shape == [2, 1, 1]
    assert coords.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]]  # frame 1 starts at x=3
    assert inverse.tolist() == [0, 0, 1, 2, 3]
    assert coords.dtype == torch.int32
    assert voxelize(xyz, batch, 1.0, multiple=8)[2] == [8, 8, 8]  # padded to the U-Net's total stride


def test_flat_frame_one_voxel_thick_runs_through_the_unet():
    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(300, 3, generator=g) * 1.0
    xyz[:, 2] = 0.5  # the camera sees only the floor
    model = SpUNet(BackboneConfig())
    feats = model(xyz, torch.rand(300, 3, generator=g), torch.zeros(300, dtype=torch.long), 1)
    assert feats.shape[0] == 300 and torch.isfinite(feats).all()


def test_point_input_features_values():
    xyz = torch.tensor([[0.0, 0.0, 1.0], [2.0, 0.0, 3.0]])
    rgb = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
    feats = point_input_features(xyz, rgb, torch.tensor([0, 0]), 1, height_scale=1.0)
    assert feats.shape == (2, NUM_INPUT_FEATURES)
    np.testing.assert_allclose(feats[0].numpy(), [-1, 0, 1, 1.0, -1, 0, -1])
    np.testing.assert_allclose(feats[1].numpy(), [1, 1, 1, 3.0, 1, 0, 1])


def test_spconv_forward_backward_on_cpu():
    if not torch.cuda.is_available():  # the patch the backbone module installs
        assert spconv_ops.get_current_stream() == 0
    torch.manual_seed(0)
    net = SpUNet(TINY)
    xyz, rgb = _cloud(400, 0)
    out = net(xyz, rgb, torch.zeros(400, dtype=torch.long), 1)
    assert out.shape == (400, 16)
    out.square().mean().backward()
    stem_grad = net.stem[0].weight.grad
    assert stem_grad is not None and torch.isfinite(stem_grad).all() and stem_grad.abs().sum() > 0
    assert net.up[0][0].weight.grad.abs().sum() > 0  # through the inverse convolution


def test_batched_frames_match_separate_frames_in_eval():
    torch.manual_seed(0)
    net = SpUNet(TINY).eval()
    (xa, ca), (xb, cb) = _cloud(300, 1), _cloud(200, 2)
    xb = xb + torch.tensor([5.13, -2.71, 0.35])  # another place: grids must align per frame
    with torch.no_grad():
        both = net(torch.cat([xa, xb]), torch.cat([ca, cb]), torch.tensor([0] * 300 + [1] * 200), 2)
        alone_a = net(xa, ca, torch.zeros(300, dtype=torch.long), 1)
        alone_b = net(xb, cb, torch.zeros(200, dtype=torch.long), 1)
    torch.testing.assert_close(both[:300], alone_a, atol=5e-4, rtol=1e-3)  # sum order differs
    torch.testing.assert_close(both[300:], alone_b, atol=5e-4, rtol=1e-3)  # sum order differs


def test_config_rejects_inconsistent_levels():
    with pytest.raises(ValueError, match="decoder_channels"):
        BackboneConfig(channels=(8, 16, 32), decoder_channels=(8,))
    with pytest.raises(ValueError, match="voxel_size"):
        BackboneConfig(voxel_size=0.0)


def test_sparse_conv_matches_dense_conv_with_two_threads():
    # spconv's CPU convolution is wrong for a few outputs with > 1 thread unless the backbone's fix is in place
    import torch.nn.functional as F
    import spconv.pytorch as spconv

    import samosaic3d_core.model.backbone  # noqa: F401  (installs the fix)

    torch.manual_seed(0)
    coords = torch.unique(torch.randint(0, 30, (3000, 3)), dim=0)
    feats = torch.randn(len(coords), 16, requires_grad=True)
    indices = torch.cat([torch.zeros(len(coords), 1, dtype=torch.long), coords], 1).int()
    conv = spconv.SubMConv3d(16, 16, 3, padding=1, bias=False)
    dense = torch.zeros(1, 16, 30, 30, 30)
    dense[0, :, coords[:, 0], coords[:, 1], coords[:, 2]] = feats.T
    ref = F.conv3d(dense, conv.weight.permute(0, 4, 1, 2, 3), padding=1)[0][:, coords[:, 0], coords[:, 1], coords[:, 2]].T
    weights = torch.randn_like(ref)
    (grad_ref,) = torch.autograd.grad((ref * weights).sum(), feats)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for _ in range(3):
            out = conv(spconv.SparseConvTensor(feats, indices, [30, 30, 30], 1)).features
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
            (grad,) = torch.autograd.grad((out * weights).sum(), feats)
            torch.testing.assert_close(grad, grad_ref, atol=1e-5, rtol=1e-5)
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(threads)
