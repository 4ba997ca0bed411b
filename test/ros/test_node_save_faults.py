"""~/save_map when the disk fills up mid-write, and the start-up clean-up of interrupted saves."""

import errno
import os
import time

from test.ros.ros_env import require_ros

require_ros()

from samosaic3d_msgs.msg import InstanceArray  # noqa: E402
from samosaic3d_msgs.srv import SaveMap  # noqa: E402

from test.ros.fake_segmenter import FakeSegmenter  # noqa: E402
from test.ros.node_io import Stream, start_node  # noqa: E402


class DiskFillsUp(FakeSegmenter):
    """Saves normally until ``full`` is set; then writes part of the file and fails as a full disk does."""

    full = False

    def save(self, path) -> None:
        if not self.full:
            return super().save(path)
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 partial zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_fails_the_save_and_keeps_the_live_map_and_the_previous_file(ros, tmp_path):
    map_dir = tmp_path / "maps"
    node = start_node(ros, map_dir, segmenter_factory=DiskFillsUp, instances_rate=0.0)
    tester = ros.tester()
    instances = ros.collect(tester, InstanceArray, "instances")
    stream = Stream(ros, tester)
    stream.send(50.0)
    ros.wait_until(lambda: instances, what="the first frame")
    saved = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="room"))
    assert saved.success, saved.message
    previous = (map_dir / "room.npz").read_bytes()

    stream.send(50.5)
    ros.wait_until(lambda: len(instances) > 1, what="the second frame")
    live = (node.segmenter.xyz.copy(), list(node.segmenter.instances().ids))
    node.segmenter.full = True
    failed = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="room"))
    assert not failed.success
    assert failed.message.startswith("map not saved:") and "No space left on device" in failed.message
    assert (map_dir / "room.npz").read_bytes() == previous  # the previous file is untouched
    assert [p.name for p in map_dir.iterdir()] == ["room.npz"]  # and the partial write is gone
    assert (node.segmenter.xyz == live[0]).all() and list(node.segmenter.instances().ids) == live[1]

    node.segmenter.full = False  # space again: the same live map saves
    again = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="room"))
    assert again.success and (map_dir / "room.npz").read_bytes() != previous
    assert "saved 2 instances" in again.message


def test_start_up_removes_what_an_interrupted_save_left_and_nothing_else(ros, tmp_path):
    map_dir = tmp_path / "maps"
    map_dir.mkdir()
    stale = map_dir / ".room.npz.k3j4h5g6.tmp.npz"
    fresh = map_dir / ".room.npz.a1b2c3d4.tmp.npz"  # could be another node's save in progress
    kept = map_dir / "room.npz"
    for path in (stale, fresh, kept):
        path.write_bytes(b"data")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(kept, (hour_ago, hour_ago))
    start_node(ros, map_dir)
    assert sorted(p.name for p in map_dir.iterdir()) == sorted([fresh.name, kept.name])


def _file_size_limit(limit_bytes: int):
    def apply() -> None:  # in the child, before exec: over the limit, write() fails with EFBIG
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return apply


def test_a_file_size_limit_fails_save_map_in_a_node_process(ros, tmp_path):
    from test.ros.node_process import fake_node_command, node_env, start, stop

    map_dir = tmp_path / "maps"
    env = node_env(ros.domain_id, ROS_LOG_DIR=str(tmp_path / "log"))
    cmd = fake_node_command(map_dir, "instances_rate:=0.0", "tf_timeout:=0.2")
    # one frame of the test scene saves to about 60 kB, two to about 120 kB
    proc = start(cmd, env, preexec_fn=_file_size_limit(100 * 1024))
    try:
        tester = ros.tester()
        instances = ros.collect(tester, InstanceArray, "instances")
        stream = Stream(ros, tester, timeout=60.0)  # the node process imports torch first

        def send_until(t: float, count: int) -> None:
            """Send frame ``t`` until ``count`` instance messages arrived: a node just started may take the
            images before its first camera info (topics have no order) and skip them; a stamp it already
            used is skipped as a duplicate, so the map gets each frame once."""
            deadline = time.monotonic() + 30.0
            while len(instances) < count and time.monotonic() < deadline:
                stream.send(t)
                time.sleep(0.5)
            ros.wait_until(lambda: len(instances) >= count, timeout=5.0, what=f"frame {t}")

        send_until(50.0, 1)
        saved = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="room"))
        assert saved.success, saved.message
        previous = (map_dir / "room.npz").read_bytes()

        send_until(50.5, 2)
        failed = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="room"))
        assert not failed.success and "File too large" in failed.message, failed.message
        assert (map_dir / "room.npz").read_bytes() == previous
        assert [p.name for p in map_dir.iterdir()] == ["room.npz"]

        send_until(51.0, 3)  # the node goes on with the live map
        assert sorted(i.id for i in instances[-1].instances) == [1, 2]
        assert proc.poll() is None
    finally:
        stop(proc)
