"""Shared by the F2I tests: a tiny synthetic frame, a tiny scene folder, a full model file with a
recognisable merger, and a fixture that runs torch on one thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samosaic3d_core.types import FramePoints


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine OpenMP threads that
    wait for each other make them many times slower. Autouse where a test module imports it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_scene(parent, frames: int, seed: int):
    """Folder of one 160x120 synthetic scene of ``frames`` frames written under ``parent``/data."""
    from samosaic3d_core.data.synth import SynthConfig, generate_scene, write_scene

    return write_scene(generate_scene(SynthConfig(frames=frames, width=160, height=120), seed=seed), parent / "data",
                       progress=False)


def synthetic_frame(
    num_objects: int = 3, fragments_per_object: int = 2, points_per_object: int = 300, floor_points: int = 300, seed: int = 0
) -> tuple[FramePoints, int, np.ndarray]:
    """Points of a frame, its fragment count M and the ground-truth instance id per point.

    Objects are boxes side by side on a floor (z = 0); each object's points are cut by height into
    ``fragments_per_object`` fragments; floor points are unlabeled (id 0) and form one more fragment.
    """
    rng = np.random.default_rng(seed)
    xyz, rgb, ids, frag = [], [], [], []
    for k in range(num_objects):
        lo = np.array([1.0 * k, 0.0, 0.0]) + rng.uniform(0, 0.2, 3) * [1, 1, 0]
        size = rng.uniform([0.4, 0.4, 0.5], [0.8, 0.8, 1.0])
        pts = lo + rng.uniform(0, 1, (points_per_object, 3)) * size
        colour = rng.integers(30, 226, 3)
        cut = np.minimum((pts[:, 2] - lo[2]) / size[2] * fragments_per_object, fragments_per_object - 1).astype(int)
        xyz.append(pts)
        rgb.append(np.clip(colour + rng.integers(-20, 21, (points_per_object, 3)), 0, 255))
        ids.append(np.full(points_per_object, k + 1))
        frag.append(k * fragments_per_object + cut)
    floor = np.c_[rng.uniform(-0.5, num_objects + 0.5, (floor_points, 1)), rng.uniform(-0.5, 1.5, (floor_points, 1)), np.zeros((floor_points, 1))]
    xyz.append(floor)
    rgb.append(np.full((floor_points, 3), 128))
    ids.append(np.zeros(floor_points))
    frag.append(np.full(floor_points, num_objects * fragments_per_object))
    xyz = np.concatenate(xyz).astype(np.float32)
    points = FramePoints(
        xyz=xyz,
        rgb=np.concatenate(rgb).astype(np.uint8),
        pixel=np.arange(len(xyz), dtype=np.int64),
        fragment=np.concatenate(frag).astype(np.int32),
    )
    return points, num_objects * fragments_per_object + 1, np.concatenate(ids).astype(np.int64)


def full_weights(f2i_weights, path, merger_bias: float):
    """F2I + I2S weights at ``path``: the F2I model of ``f2i_weights`` and a fresh merger whose bias
    is ``merger_bias`` (a value to recognise it by)."""
    from samosaic3d_core.model.checkpoint import load_f2i, save_samosaic3d
    from samosaic3d_core.model.i2s import I2SConfig, I2SMerger

    f2i, f2i_config = load_f2i(f2i_weights)
    i2s_config = I2SConfig(feat_dim=f2i_config.backbone.out_channels)
    merger = I2SMerger(i2s_config)
    with torch.no_grad():
        merger.bias.fill_(merger_bias)
    return save_samosaic3d(path, f2i, f2i_config, merger, i2s_config)
