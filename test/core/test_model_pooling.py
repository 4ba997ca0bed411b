import numpy as np
import torch

from samosaic3d_core.model.pooling import (
    NUM_GEOMETRY_FEATURES,
    FragmentPooling,
    PoolingConfig,
    fragment_geometry,
    scatter_max,
)
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)


def test_scatter_max_per_group_and_empty_group():
    values = torch.tensor([[1.0, -5.0], [3.0, -7.0], [-2.0, -1.0]])
    out = scatter_max(values, torch.tensor([0, 0, 2]), 3)
    assert out.tolist() == [[3.0, -5.0], [0.0, 0.0], [-2.0, -1.0]]  # negative maxima kept, empty group 0


def test_fragment_geometry_values():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 1.0], [4.0, 2.0, 2.0], [9.0, 9.0, 9.0]])
    fragment = torch.tensor([0, 0, 1, -1])
    rgb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.4, 0.6], [1.0, 1.0, 1.0]])
    geo = fragment_geometry(xyz, fragment, 2, rgb)
    assert geo.shape == (2, NUM_GEOMETRY_FEATURES)
    centre = xyz.mean(dim=0)  # over all frame points, fragment or not
    np.testing.assert_allclose(geo[0, :3], (torch.tensor([1.0, 0.0, 0.5]) - centre).numpy(), rtol=1e-6)
    np.testing.assert_allclose(geo[0, 3:6], [2.0, 0.0, 1.0])
    np.testing.assert_allclose(geo[1, 3:6], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(geo[:, 6], [0.5, 2.0])
    np.testing.assert_allclose(geo[:, 7], np.log1p([2.0, 1.0]) / 10, rtol=1e-6)
    np.testing.assert_allclose(geo[:, 8:], [[0.5, 0.0, 0.5], [0.2, 0.4, 0.6]], rtol=1e-6)  # mean colour


def test_pooling_takes_max_inside_each_fragment_only():
    pool = FragmentPooling(PoolingConfig(use_geometry=False), 2)
    pool.norm = torch.nn.Identity()  # look at the raw pooled values
    feats = torch.tensor([[1.0, 0.0], [0.0, 2.0], [100.0, 100.0], [5.0, 5.0]])
    fragment = torch.tensor([0, 0, -1, 1])
    out = pool(feats, fragment, 2, torch.zeros(2, NUM_GEOMETRY_FEATURES))
    assert out.tolist() == [[1.0, 2.0], [5.0, 5.0]]  # the point outside fragments is ignored


def test_pooling_zero_and_one_fragment():
    torch.manual_seed(0)
    pool = FragmentPooling(PoolingConfig(), 4)
    feats, xyz = torch.randn(5, 4), torch.randn(5, 3)
    none = pool(feats, torch.full((5,), -1), 0, fragment_geometry(xyz, torch.full((5,), -1), 0, xyz.abs()))
    assert none.shape == (0, 4)
    one_frag = torch.tensor([0, 0, 0, -1, 0])
    one = pool(feats, one_frag, 1, fragment_geometry(xyz, one_frag, 1, xyz.abs()))
    assert one.shape == (1, 4) and torch.isfinite(one).all()
