import numpy as np
import pytest

pytest.importorskip("rosbags")

from samosaic3d_core.types import CameraIntrinsics, Frame  # noqa: E402
from samosaic3d_ros.bag.reader import read_frames  # noqa: E402
from samosaic3d_ros.bag.writer import write_bag  # noqa: E402


def _frames(n=3):
    k = CameraIntrinsics(40.0, 40.0, 15.5, 11.5, 32, 24)
    out = []
    for i in range(n):
        pose = np.eye(4)
        c, s = np.cos(0.2 * i), np.sin(0.2 * i)
        pose[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
        pose[:3, 3] = [0.1 * i, -0.05 * i, 1.2]
        depth = np.full((24, 32), 1.5 + 0.1 * i, np.float32)
        depth[0, :4] = 0.0
        rgb = np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)
        gt = np.zeros((24, 32), np.int32)
        gt[5:15, 5:20] = 3 + i
        out.append(Frame(rgb, depth, pose, k, timestamp=10.0 + i / 30.0, index=i, instance_gt=gt))
    return out


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_round_trip_matches_frames(tmp_path, storage):
    frames = _frames()
    assert write_bag(tmp_path / "b", frames, storage=storage) == 3
    back = list(read_frames(tmp_path / "b"))
    assert len(back) == 3
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(b.rgb, a.rgb)
        np.testing.assert_allclose(b.depth, a.depth, atol=5e-4)
        np.testing.assert_allclose(b.pose, a.pose, atol=1e-9)
        np.testing.assert_array_equal(b.instance_gt, a.instance_gt)
        assert b.intrinsics == a.intrinsics
        assert b.timestamp - back[0].timestamp == pytest.approx(a.timestamp - frames[0].timestamp, abs=1e-6)
    assert [f.index for f in back] == [0, 1, 2]
    assert all(f.true_pose is None for f in back)  # no ground-truth pose topic without true poses


def test_true_poses_travel_beside_the_tracker_poses(tmp_path):
    frames = _frames()
    for i, frame in enumerate(frames):  # the tracker is 2 cm off per frame along x
        frame.true_pose = frame.pose.copy()
        frame.pose = frame.pose.copy()
        frame.pose[0, 3] += 0.02 * i
    write_bag(tmp_path / "b", frames)
    back = list(read_frames(tmp_path / "b"))
    for a, b in zip(frames, back):
        np.testing.assert_allclose(b.pose, a.pose, atol=1e-9)
        np.testing.assert_allclose(b.true_pose, a.true_pose, atol=1e-9)


def test_write_bag_refuses_to_overwrite_and_bad_storage(tmp_path):
    write_bag(tmp_path / "b", _frames(1))
    with pytest.raises(FileExistsError, match="exists"):
        write_bag(tmp_path / "b", _frames(1))
    with pytest.raises(ValueError, match="storage"):
        write_bag(tmp_path / "c", _frames(1), storage="zip")


def test_read_frames_names_bad_bag(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        list(read_frames(tmp_path / "nope"))
    (tmp_path / "junk").mkdir()
    with pytest.raises(ValueError, match="not a readable rosbag2"):
        list(read_frames(tmp_path / "junk"))
