import logging
import shutil

import cv2
import numpy as np
import pytest

from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.data.synth import SynthConfig, generate_scene, write_scene


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small synthetic scene on disk and the in-memory scene it came from."""
    scene = generate_scene(SynthConfig(width=160, height=120, frames=6), 7)
    root = write_scene(scene, tmp_path_factory.mktemp("synth"), image_format="png", progress=False)
    return scene, root


@pytest.fixture
def scene_copy(written, tmp_path):
    _, root = written
    return shutil.copytree(root, tmp_path / root.name)


def test_round_trip(written):
    scene, root = written
    assert list_scenes(root.parent) == [root] and list_scenes(root) == [root]
    reader = SceneReader(root)
    assert reader.name == scene.name and len(reader) == 6 and reader.has_instances
    assert reader.intrinsics == scene.intrinsics
    for i, frame in enumerate(reader):
        truth = scene.frame(i)
        assert frame.index == i and frame.timestamp == pytest.approx(i / 30.0)
        assert np.abs(frame.depth - truth.depth).max() <= 0.001
        np.testing.assert_allclose(frame.pose, truth.pose, atol=1e-8)
        np.testing.assert_array_equal(frame.rgb, truth.rgb)  # png colour is lossless
        np.testing.assert_array_equal(frame.instance_gt, truth.instance_gt)
        np.testing.assert_array_equal(frame.part_gt, truth.part_gt)


def test_stride_and_optional_extras(scene_copy):
    shutil.rmtree(scene_copy / "part")
    (scene_copy / "scene.json").unlink()
    reader = SceneReader(scene_copy, stride=2)
    assert [f.index for f in reader] == [0, 2, 4]
    assert reader[0].part_gt is None and reader[0].instance_gt is not None


def _fake_sens_export(root, n=4):
    """SensReader-style scene: unpadded names, 2x colour, intrinsic/ folder."""
    rng = np.random.default_rng(0)
    for sub in ("color", "depth", "pose", "intrinsic"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        frame_no = i * 5  # 0, 5, 10, 15: numeric, not lexicographic, order
        color = np.zeros((96, 128, 3), np.uint8)
        color[:, :64] = (0, 0, 255)  # left half red (BGR)
        cv2.imwrite(str(root / "color" / f"{frame_no}.jpg"), color)
        cv2.imwrite(str(root / "depth" / f"{frame_no}.png"), rng.integers(500, 3000, (48, 64)).astype(np.uint16))
        pose = np.eye(4)
        pose[0, 3] = frame_no
        np.savetxt(root / "pose" / f"{frame_no}.txt", pose)
    np.savetxt(root / "intrinsic" / "intrinsic_color.txt", np.diag([100.0, 100.0, 1.0, 1.0]))
    k_depth = np.array([[50.0, 0, 31.5, 0], [0, 51.0, 23.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    np.savetxt(root / "intrinsic" / "intrinsic_depth.txt", k_depth)
    return root


def test_sens_reader_layout(tmp_path):
    root = _fake_sens_export(tmp_path / "scene0000_00")
    reader = SceneReader(root)
    k = reader.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (50.0, 51.0, 31.5, 23.5, 64, 48)
    assert [f.index for f in reader] == [0, 5, 10, 15]
    frame = reader[2]
    assert frame.rgb.shape == (48, 64, 3) and frame.pose[0, 3] == 10.0
    assert frame.timestamp == pytest.approx(10 / 30.0)
    assert frame.rgb[24, 10, 0] > 240 and frame.rgb[24, 50, 0] < 15  # RGB order, resized
    assert not reader.has_instances and frame.instance_gt is None


def test_invalid_pose_frames_skipped_with_one_warning(tmp_path, caplog):
    root = _fake_sens_export(tmp_path / "scene")
    np.savetxt(root / "pose" / "5.txt", np.full((4, 4), -np.inf))
    np.savetxt(root / "pose" / "10.txt", np.full((4, 4), np.nan))
    with caplog.at_level(logging.WARNING):
        reader = SceneReader(root)
    assert [f.index for f in reader] == [0, 15]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "5.txt" in warnings[0].getMessage() and "10.txt" in warnings[0].getMessage()


def test_list_scenes_errors(tmp_path):
    with pytest.raises(ValueError, match="no scenes found"):
        list_scenes(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        list_scenes(tmp_path / "missing")


def _expect(error_match, root, **kwargs):
    with pytest.raises(ValueError, match=error_match):
        reader = SceneReader(root, **kwargs)
        for _ in reader:
            pass


def test_missing_folder_and_files(scene_copy):
    (scene_copy / "color" / "000003.png").unlink()
    _expect(r"color/000003\.jpg: colour image not found", scene_copy)
    (scene_copy / "pose" / "000002.txt").unlink()
    _expect(r"pose/000002\.txt: file not found", scene_copy)
    shutil.rmtree(scene_copy / "pose")
    _expect(r"pose: folder not found", scene_copy)


def test_missing_intrinsics(scene_copy):
    (scene_copy / "intrinsics_color.txt").unlink()
    (scene_copy / "intrinsics_depth.txt").unlink()
    _expect("no intrinsics found", scene_copy)


def test_corrupt_and_8bit_depth(scene_copy):
    (scene_copy / "depth" / "000001.png").write_bytes(b"\x89PNG garbage")
    _expect(r"depth/000001\.png: cannot read depth image", scene_copy)
    cv2.imwrite(str(scene_copy / "depth" / "000001.png"), np.zeros((120, 160), np.uint8))
    _expect(r"depth/000001\.png: depth must be a single-channel 16-bit PNG, got uint8", scene_copy)


def test_colour_depth_size_mismatch(scene_copy):
    cv2.imwrite(str(scene_copy / "color" / "000002.png"), np.zeros((100, 160, 3), np.uint8))
    _expect(r"color/000002\.png \(160x100\) and .*depth/000002\.png \(160x120\)", scene_copy)


def test_colour_resized_when_aspect_matches(scene_copy):
    cv2.imwrite(str(scene_copy / "color" / "000002.png"), np.full((240, 320, 3), 200, np.uint8))
    assert SceneReader(scene_copy)[2].rgb.shape == (120, 160, 3)


def test_non_rigid_and_malformed_pose(scene_copy):
    np.savetxt(scene_copy / "pose" / "000004.txt", np.diag([2.0, 1.0, 1.0, 1.0]))
    _expect(r"pose/000004\.txt: rotation part is not orthonormal", scene_copy)
    np.savetxt(scene_copy / "pose" / "000004.txt", np.eye(3))
    _expect(r"pose/000004\.txt: expected a 4x4 matrix", scene_copy)
    (scene_copy / "pose" / "000004.txt").write_text("not numbers\n")
    _expect(r"pose/000004\.txt: not a numeric text matrix", scene_copy)


def test_instance_size_mismatch(scene_copy):
    cv2.imwrite(str(scene_copy / "instance" / "000000.png"), np.zeros((60, 80), np.uint16))
    _expect(r"instance/000000\.png: id image is 80x60, depth is 160x120", scene_copy)


def test_non_numeric_frame_name(scene_copy):
    cv2.imwrite(str(scene_copy / "depth" / "extra.png"), np.zeros((120, 160), np.uint16))
    _expect(r"depth/extra\.png: frame files must be named by their number", scene_copy)
