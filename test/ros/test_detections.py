"""``vision_msgs/Detection3DArray`` built from map instances."""

import numpy as np
import pytest

from test.ros.ros_env import require_ros

require_ros()

from std_msgs.msg import Header  # noqa: E402

from samosaic3d_core.types import Instances  # noqa: E402
from samosaic3d_ros.detections import DETECTION_CLASS, detections_available, instances_to_detections  # noqa: E402
from samosaic3d_ros.stamps import seconds_to_stamp  # noqa: E402


def two_instances(last_seen=None) -> Instances:
    return Instances(
        ids=np.array([7, 12]), scores=np.array([0.9, 0.4], np.float32),
        box_min=np.array([[0.0, 1.0, 2.0], [-1.0, -1.0, 0.0]]), box_max=np.array([[1.0, 3.0, 2.5], [1.0, 1.0, 0.2]]),
        num_points=np.array([100, 50]), last_seen=last_seen,
    )


def test_one_detection_per_instance_with_its_id_box_and_score():
    assert detections_available() is None
    header = Header(stamp=seconds_to_stamp(12.5), frame_id="map")
    msg = instances_to_detections(two_instances(last_seen=np.array([10.0, 12.5])), header)
    assert msg.header == header
    assert [d.id for d in msg.detections] == ["7", "12"]
    first = msg.detections[0]
    centre, size = first.bbox.center, first.bbox.size
    assert (centre.position.x, centre.position.y, centre.position.z) == (0.5, 2.0, 2.25)
    assert (centre.orientation.x, centre.orientation.y, centre.orientation.z, centre.orientation.w) == (0, 0, 0, 1)
    assert (size.x, size.y, size.z) == (1.0, 2.0, 0.5)
    [hypothesis] = first.results
    assert hypothesis.hypothesis.class_id == DETECTION_CLASS
    assert hypothesis.hypothesis.score == pytest.approx(0.9)
    assert hypothesis.pose.pose.position == centre.position
    # each detection is stamped with the frame that last observed its instance
    assert first.header.frame_id == "map" and first.header.stamp == seconds_to_stamp(10.0)
    assert msg.detections[1].header.stamp == seconds_to_stamp(12.5)


def test_without_seen_stamps_detections_take_the_array_stamp():
    header = Header(stamp=seconds_to_stamp(3.0), frame_id="world")
    msg = instances_to_detections(two_instances(), header)
    assert all(d.header == header for d in msg.detections)


def test_an_empty_map_gives_an_empty_array():
    header = Header(stamp=seconds_to_stamp(1.0), frame_id="map")
    assert instances_to_detections(Instances.empty(), header).detections == []


def test_the_built_vision_msgs_have_the_upstream_fields():
    """The five types as ros-perception/vision_msgs (ros2 branch) defines them: same fields, same types."""
    from vision_msgs.msg import (BoundingBox3D, Detection3D, Detection3DArray, ObjectHypothesis,
                                 ObjectHypothesisWithPose)

    assert Detection3DArray.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "detections": "sequence<vision_msgs/Detection3D>"}
    assert Detection3D.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox3D", "id": "string"}
    assert BoundingBox3D.get_fields_and_field_types() == {"center": "geometry_msgs/Pose", "size": "geometry_msgs/Vector3"}
    assert ObjectHypothesisWithPose.get_fields_and_field_types() == {
        "hypothesis": "vision_msgs/ObjectHypothesis", "pose": "geometry_msgs/PoseWithCovariance"}
    assert ObjectHypothesis.get_fields_and_field_types() == {"class_id": "string", "score": "double"}
