"""``vision_msgs/Detection3DArray`` of the map instances, for stacks that consume standard detections
(planners, nav2 plugins, isaac_ros).

One ``Detection3D`` per live map instance:
  * ``id``: the persistent map instance id, as a string (the same id as on ``/instances``);
  * ``bbox``: the instance's axis-aligned box in the map frame (centre, identity orientation, size);
  * ``results``: one hypothesis, class ``DETECTION_CLASS`` (the map is class-agnostic) with the
    instance score, posed at the box centre;
  * ``header``: the map frame, stamped with the frame that last observed the instance.
The array's header is the header of the frame that last changed the map.

A ROS install brings ``vision_msgs``; without one, ``scripts/build_interfaces.sh`` builds the five
message types from ``interfaces/vision_msgs``. If neither is importable the node publishes no
detections and says so once (``detections_available``).
"""

from __future__ import annotations

from samosaic3d_core.types import Instances
from samosaic3d_ros.stamps import seconds_to_stamp

DETECTIONS_TOPIC = "instances/detections"
DETECTION_CLASS = "object"
"""``ObjectHypothesis.class_id`` of every detection: the map has instances, not classes."""


def detections_available() -> str | None:
    """None when ``vision_msgs`` can be imported, else the reason (with the fix)."""
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError as exc:
        return (f"vision_msgs is not importable ({exc}); install ros-<distro>-vision-msgs, or build it with "
                "scripts/build_interfaces.sh")
    return None


def instances_to_detections(instances: Instances, header):
    """``vision_msgs/Detection3DArray`` of ``instances`` (boxes in ``header.frame_id``)."""
    from geometry_msgs.msg import Point
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesisWithPose

    out = Detection3DArray(header=header)
    centres = (instances.box_min + instances.box_max) / 2
    sizes = instances.box_max - instances.box_min
    for k in range(len(instances)):
        stamp = header.stamp if instances.last_seen is None else seconds_to_stamp(instances.last_seen[k])
        detection = Detection3D(header=Header(stamp=stamp, frame_id=header.frame_id), id=str(int(instances.ids[k])))
        centre = Point(x=float(centres[k, 0]), y=float(centres[k, 1]), z=float(centres[k, 2]))
        detection.bbox.center.position = centre
        size = detection.bbox.size
        size.x, size.y, size.z = (float(v) for v in sizes[k])
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = DETECTION_CLASS
        hypothesis.hypothesis.score = float(instances.scores[k])
        hypothesis.pose.pose.position = Point(x=centre.x, y=centre.y, z=centre.z)
        detection.results.append(hypothesis)
        out.detections.append(detection)
    return out
