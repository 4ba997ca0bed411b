import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from samosaic3d_core.data.synth import SensorConfig, SynthConfig, generate_scene, write_scene
from samosaic3d_core.geometry import backproject

SMALL = dict(width=160, height=120, frames=10)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    config = SynthConfig(**SMALL)
    a = write_scene(generate_scene(config, 3), tmp_path / "a", progress=False)
    b = write_scene(generate_scene(config, 3), tmp_path / "b", progress=False)
    c = write_scene(generate_scene(config, 4), tmp_path / "c", progress=False)
    assert a.name == "synth_s3_000" and c.name == "synth_s4_000"
    assert _digest(a) == _digest(b)
    digest_c = _digest(c)
    assert digest_c.keys() == _digest(a).keys()
    assert digest_c["depth/000000.png"] != _digest(a)["depth/000000.png"]
    assert len(list((a / "color").glob("*.jpg"))) == 10


def test_scene_index_changes_the_scene():
    config = SynthConfig(**SMALL)
    a, b = generate_scene(config, 0, 0), generate_scene(config, 0, 1)
    assert b.name == "synth_s0_001"
    assert not np.array_equal(a.true_poses, b.true_poses)


def test_floor_pixels_back_project_to_z0():
    scene = generate_scene(SynthConfig(**SMALL), 1)
    floor_gid = scene.renderer.geometry_names.index("floor")
    checked = 0
    for i in range(0, len(scene), 3):
        frame = scene.frame(i)  # depth quantised to mm, as written
        floor = scene.render(i).geometry == floor_gid
        xyz, pixel = backproject(frame.depth, frame.intrinsics, frame.pose, min_depth=0.01)
        on_floor = floor.reshape(-1)[pixel]
        assert np.abs(xyz[on_floor, 2]).max() < 0.002
        checked += int(on_floor.sum())
    assert checked > 1000


def test_ids_scene_consistent_and_objects_listed():
    scene = generate_scene(SynthConfig(**SMALL), 2)
    assert 8 <= len(scene.objects) <= 20
    part_to_instance = {p["part_id"]: o["instance_id"] for o in scene.objects for p in o["parts"]}
    assert sorted(o["instance_id"] for o in scene.objects) == list(range(1, len(scene.objects) + 1))
    seen = set()
    for frame in scene:
        assert frame.instance_gt.dtype == np.int32 and frame.part_gt.shape == (120, 160)
        for part in np.unique(frame.part_gt):
            expected = part_to_instance.get(int(part), 0)
            # a part always maps to the same instance, in every frame
            assert np.all(frame.instance_gt[frame.part_gt == part] == expected)
        seen |= set(np.unique(frame.instance_gt).tolist())
        frame.validate()
    assert len(seen - {0}) >= 2


def test_hard_case_some_instance_mask_is_split():
    """Occlusion (chair under table, legs) cuts some object's mask into several pieces."""
    scene = generate_scene(SynthConfig(width=160, height=120, frames=20), 0)
    split = False
    for frame in scene:
        for inst in np.unique(frame.instance_gt):
            if inst and ndimage.label(frame.instance_gt == inst)[1] > 1:
                split = True
                break
        if split:
            break
    assert split


def test_sensor_options():
    clean = generate_scene(SynthConfig(**SMALL), 5).frame(4)
    sensor = SensorConfig(depth_noise=0.0025, holes=True, max_range=3.0, pose_noise_cm=2.0, pose_noise_deg=1.0)
    scene = generate_scene(SynthConfig(**SMALL, sensor=sensor), 5)
    noisy = scene.frame(4)
    np.testing.assert_array_equal(noisy.rgb, clean.rgb)
    np.testing.assert_array_equal(noisy.instance_gt, clean.instance_gt)
    assert noisy.depth.max() <= 3.0
    assert (noisy.depth == 0).sum() > (clean.depth == 0).sum()
    both = (noisy.depth > 0) & (clean.depth > 0)
    assert 0.0 < np.abs(noisy.depth[both] - clean.depth[both]).mean() < 0.05
    offset = np.linalg.norm(noisy.pose[:3, 3] - scene.true_poses[4][:3, 3])
    assert 0.001 < offset < 0.15
    np.testing.assert_array_equal(scene.frame(4).depth, noisy.depth)  # random access is repeatable
    assert np.array_equal(clean.pose, generate_scene(SynthConfig(**SMALL), 5).true_poses[4])


def test_frame_index_out_of_range():
    scene = generate_scene(SynthConfig(**SMALL), 0)
    with pytest.raises(IndexError, match="synth_s0_000"):
        scene.frame(10)
