"""~/reset, ~/save_map, ~/load_map over DDS, including the map-folder confinement."""

import os

from test.ros.ros_env import require_ros

require_ros()

from samosaic3d_msgs.msg import InstanceArray  # noqa: E402
from samosaic3d_msgs.srv import LoadMap, SaveMap  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from test.ros.node_io import Stream, start_node  # noqa: E402


def summary(array: InstanceArray) -> list[tuple]:
    return [
        (i.id, i.score, i.num_points, i.tier, (i.box_min.x, i.box_min.y, i.box_min.z), (i.box_max.x, i.box_max.y, i.box_max.z),
         (i.first_seen.sec, i.first_seen.nanosec), (i.last_seen.sec, i.last_seen.nanosec))
        for i in array.instances
    ]


def test_save_reset_load_restores_the_same_instances(ros, tmp_path):
    map_dir = tmp_path / "maps"
    node = start_node(ros, map_dir, instances_rate=0.0, map_cloud_rate=0.0)
    tester = ros.tester()
    instances = ros.collect(tester, InstanceArray, "instances")
    markers = ros.collect(tester, MarkerArray, "instances/markers")
    clouds = ros.collect(tester, PointCloud2, "instances/cloud")
    stream = Stream(ros, tester)
    for k, t in enumerate((50.0, 50.5)):
        stream.send(t)
        ros.wait_until(lambda: len(instances) > k, what=f"frame {k}")
    before = summary(instances[-1])
    assert len(before) == 2

    saved = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path="run1"))
    assert saved.success, saved.message
    assert (map_dir / "run1.npz").is_file() and str(map_dir / "run1.npz") in saved.message
    assert [p.name for p in map_dir.iterdir()] == ["run1.npz"]  # no temporary file left behind

    count = len(instances)
    reset = ros.call(tester, Trigger, "/samosaic3d_node/reset", Trigger.Request())
    assert reset.success and reset.message == "map cleared"
    ros.wait_until(lambda: len(instances) > count, what="instances after reset")
    assert instances[-1].instances == []
    ros.wait_until(lambda: any(m.action == Marker.DELETEALL for a in markers for m in a.markers), what="DELETEALL")
    ros.wait_until(lambda: clouds and clouds[-1].width == 0, what="the empty map cloud")

    count = len(instances)
    loaded = ros.call(tester, LoadMap, "/samosaic3d_node/load_map", LoadMap.Request(path="run1.npz"))
    assert loaded.success and loaded.message.startswith("loaded 2 instances from"), loaded.message
    ros.wait_until(lambda: len(instances) > count, what="instances after load")
    assert summary(instances[-1]) == before
    ros.wait_until(lambda: clouds[-1].width == 2 * 64 * 48, what="the restored map cloud")

    # a broken or foreign file is refused and the live map stays as it is
    (map_dir / "broken.npz").write_bytes(b"not a zip file")
    refused = ros.call(tester, LoadMap, "/samosaic3d_node/load_map", LoadMap.Request(path="broken.npz"))
    assert not refused.success and "live map unchanged" in refused.message and "broken.npz" in refused.message
    assert len(node.segmenter.instances()) == 2


def test_paths_outside_the_map_folder_are_refused(ros, tmp_path):
    map_dir = tmp_path / "maps"
    map_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside / "target.npz", map_dir / "link.npz")
    os.symlink(outside, map_dir / "sub")
    start_node(ros, map_dir)
    tester = ros.tester()
    for path in ("../escape.npz", str(outside / "abs.npz"), "link.npz", "sub/x.npz", "a/../../escape", "/etc/passwd"):
        response = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path=path))
        assert not response.success and "outside the map folder" in response.message, (path, response.message)
    for path in ("notes.txt", ""):
        response = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", SaveMap.Request(path=path))
        assert not response.success, path
    response = ros.call(tester, LoadMap, "/samosaic3d_node/load_map", LoadMap.Request(path="../../etc/hostname"))
    assert not response.success and "outside the map folder" in response.message
    response = ros.call(tester, LoadMap, "/samosaic3d_node/load_map", LoadMap.Request(path="missing.npz"))
    assert not response.success and "no map file" in response.message
    assert list(outside.iterdir()) == []  # nothing written outside
    request = SaveMap.Request(path=str(map_dir / "deep" / "ok.npz"))
    inside = ros.call(tester, SaveMap, "/samosaic3d_node/save_map", request)
    assert inside.success and (map_dir / "deep" / "ok.npz").is_file()
