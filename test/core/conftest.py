"""Fixtures shared by the core tests."""

import pytest

from samosaic3d_core.losses import LossConfig, make_target
from samosaic3d_core.model.f2i import F2IInput
from samosaic3d_core.train.dataset import Sample
from samosaic3d_core.train.loop import TrainConfig, train
from test.core.f2i_fixtures import synthetic_frame
from test.core.test_model_f2i import TINY


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
