import numpy as np

from test.ros.ros_env import require_ros

require_ros()

from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from samosaic3d_core.colors import id_colors  # noqa: E402
from samosaic3d_core.types import Instances  # noqa: E402
from samosaic3d_ros.markers import box_line_points, delete_all_markers, instance_markers  # noqa: E402


def two_instances() -> Instances:
    return Instances(
        ids=np.array([3, 7]), scores=np.array([0.5, 0.25], np.float32),
        box_min=np.array([[0, 0, 0], [1, 2, 3]], np.float32), box_max=np.array([[1, 2, 3], [2, 4, 4]], np.float32),
        num_points=np.array([10, 20]),
    )


def test_box_edges_are_the_12_axis_aligned_edges():
    pts = box_line_points(np.array([0.0, 0, 0]), np.array([1.0, 2, 3])).reshape(12, 2, 3)
    lengths = sorted(np.linalg.norm(pts[:, 0] - pts[:, 1], axis=1).round(6).tolist())
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    assert len({tuple(p) for p in pts.reshape(-1, 3).tolist()}) == 8  # the 8 corners


def test_one_box_and_one_label_per_instance():
    header = Header(frame_id="map")
    out = instance_markers(two_instances(), header, namespace="s3d", removed_ids=[5])
    deletes = [m for m in out.markers if m.action == Marker.DELETE]
    assert {(m.ns, m.id) for m in deletes} == {("s3d/boxes", 5), ("s3d/labels", 5)}
    boxes = [m for m in out.markers if m.type == Marker.LINE_LIST and m.action == Marker.ADD]
    labels = [m for m in out.markers if m.type == Marker.TEXT_VIEW_FACING]
    assert [(m.ns, m.id, len(m.points)) for m in boxes] == [("s3d/boxes", 3, 24), ("s3d/boxes", 7, 24)]
    assert [(m.ns, m.id, m.text) for m in labels] == [("s3d/labels", 3, "3 (0.50)"), ("s3d/labels", 7, "7 (0.25)")]
    assert all(m.header.frame_id == "map" for m in out.markers)
    assert labels[1].pose.position.z == np.float32(4) + np.float64(0.08)  # above the box top
    assert labels[1].pose.position.x == 1.5 and labels[1].pose.position.y == 3.0
    expected = id_colors(np.array([7]))[0] / 255.0
    np.testing.assert_allclose([boxes[1].color.r, boxes[1].color.g, boxes[1].color.b], expected, rtol=1e-6)


def test_delete_all():
    out = delete_all_markers(Header(frame_id="map"), "s3d")
    assert [(m.action, m.ns) for m in out.markers] == [(Marker.DELETEALL, "s3d")]
