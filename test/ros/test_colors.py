"""One id, one colour: the PLY of ``samosaic3d run``, the node's map cloud and markers, the mask
overlay of the picture report and the RViz-like view, each produced by its own real function."""

import numpy as np

from test.ros.ros_env import require_ros

require_ros()

from std_msgs.msg import Header  # noqa: E402

from samosaic3d_core.cli.run import segment_scene  # noqa: E402
from samosaic3d_core.report.overlay import overlay_labels  # noqa: E402
from samosaic3d_core.report.rviz_view import render_rviz_view  # noqa: E402
from samosaic3d_core.types import Instances, SceneMap  # noqa: E402
from samosaic3d_ros.cloud_conv import cloud_to_array, unpack_rgb  # noqa: E402
from samosaic3d_ros.outputs import Outputs  # noqa: E402
from samosaic3d_ros.params import NodeParams  # noqa: E402

IDS = (3, 41, 1000)
CAMERA_RGB = (9, 9, 9)


def one_point_per_id(ids) -> tuple[SceneMap, Instances]:
    """Instance ``ids[k]`` is one point 2 m in front of the origin camera, 1 m apart sideways."""
    n = len(ids)
    xyz = np.array([[k, 0.0, 2.0] for k in range(n)], np.float32)
    scene_map = SceneMap(xyz=xyz, rgb=np.tile(np.array(CAMERA_RGB, np.uint8), (n, 1)),
                         instance_ids=np.asarray(ids, np.int32), scores=np.full(n, 0.5, np.float32))
    instances = Instances(ids=np.asarray(ids, np.int64), scores=np.full(n, 0.5, np.float32), box_min=xyz, box_max=xyz,
                          num_points=np.ones(n, np.int64))
    return scene_map, instances


class StubSegmenter:
    def __init__(self, scene_map, instances):
        self._map, self._instances = scene_map, instances

    def reset(self):
        pass

    def map(self):
        return self._map

    def instances(self):
        return self._instances


class Recorder:
    def __init__(self):
        self.sent = []

    def publish(self, msg):
        self.sent.append(msg)


class StubNode:
    def __init__(self):
        self.publishers = {}

    def create_publisher(self, msg_type, topic, qos):
        return self.publishers.setdefault(topic, Recorder())


def ply_colours(path) -> dict[int, tuple]:
    data = path.read_bytes()
    body = data[data.index(b"end_header\n") + len(b"end_header\n"):]
    vertex = np.frombuffer(body, [("xyz", "<f4", 3), ("rgb", "u1", 3), ("instance", "<i4")])
    return {int(i): tuple(c) for i, c in zip(vertex["instance"], vertex["rgb"].tolist())}


def test_an_id_has_one_colour_in_every_output(tmp_path):
    scene_map, instances = one_point_per_id(IDS)

    segment_scene(StubSegmenter(scene_map, instances), "scene", [], tmp_path)
    ply = ply_colours(tmp_path / "scene.ply")

    node = StubNode()
    outputs = Outputs(node, NodeParams(cloud_color="instance"))
    outputs.publish_map(scene_map, Header(frame_id="map"))
    points = cloud_to_array(node.publishers["instances/cloud"].sent[-1])
    cloud = {int(i): tuple(c) for i, c in zip(points["instance_id"], unpack_rgb(points["rgb"]).tolist())}
    outputs.publish_instances(instances, Header(frame_id="map"))
    markers = {m.id: tuple(int(round(getattr(m.color, c) * 255)) for c in "rgb")
               for m in node.publishers["instances/markers"].sent[-1].markers}

    labels = np.array([list(IDS)])  # one pixel per id, drawn fully opaque
    overlay = overlay_labels(np.zeros((1, len(IDS), 3), np.uint8), labels, alpha=1.0, draw_edges=False)[0]

    for k, instance_id in enumerate(IDS):
        # the view with only this instance's point, straight ahead of the camera (centre pixel)
        alone, alone_inst = one_point_per_id([instance_id])
        view = render_rviz_view(alone, alone_inst, pose=np.eye(4), width=21, height=21, grid=False, axes=False,
                                labels=False)
        colours = {
            "ply": ply[instance_id], "cloud": cloud[instance_id], "markers": markers[instance_id],
            "report overlay": tuple(overlay[k].tolist()), "rviz view": tuple(view[10, 10].tolist()),
        }
        assert len(set(colours.values())) == 1, f"id {instance_id}: {colours}"
    assert len({ply[i] for i in IDS}) == len(IDS)  # and the ids differ
