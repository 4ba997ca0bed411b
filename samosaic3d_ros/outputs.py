"""The node's output topics and the messages it builds from core results.

    /instances              samosaic3d_msgs/InstanceArray   all map instances
    /instances/cloud        sensor_msgs/PointCloud2         the labelled map (optionally transient local)
    /instances/frame_cloud  sensor_msgs/PointCloud2         the current frame's labelled points
    /instances/markers      visualization_msgs/MarkerArray  a box and an id label per instance
    /instances/detections   vision_msgs/Detection3DArray    a box and score per instance
    /instances/overlay      sensor_msgs/Image               the frame's masks over its colour image (optional)
    /instances/camera_pose  geometry_msgs/PoseStamped       the camera pose each frame was fused with
                                                            (refined against the map when refine.enabled)
    /tf                     map_frame -> refined_camera_frame, the same pose (when that parameter is set)
All in the map frame except the overlay (camera image frame).
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.colors import instance_rgb_packed
from samosaic3d_core.report.overlay import overlay_labels
from samosaic3d_core.types import Instances, SceneMap, StepResult
from samosaic3d_ros.cloud_conv import POINT_DTYPE, array_to_cloud, labelled_points
from samosaic3d_ros.detections import DETECTIONS_TOPIC, detections_available, instances_to_detections
from samosaic3d_ros.image_conv import rgb_to_image
from samosaic3d_ros.markers import delete_all_markers, instance_markers
from samosaic3d_ros.params import NodeParams
from samosaic3d_ros.stamps import seconds_to_stamp, stamp_to_ns
from samosaic3d_ros.tf_buffer import matrix_to_quat, transform_stamped

INSTANCES_TOPIC = "instances"
CLOUD_TOPIC = "instances/cloud"
FRAME_CLOUD_TOPIC = "instances/frame_cloud"
MARKERS_TOPIC = "instances/markers"
OVERLAY_TOPIC = "instances/overlay"
CAMERA_POSE_TOPIC = "instances/camera_pose"


def instances_to_msg(instances: Instances, header):
    """``samosaic3d_msgs/InstanceArray`` of ``instances``; missing optional fields default sensibly
    (centroid: box centre, seen stamps: 0, tier: short-term)."""
    from geometry_msgs.msg import Point
    from samosaic3d_msgs.msg import Instance, InstanceArray

    def point(xyz) -> Point:
        return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))

    out = InstanceArray(header=header)
    centroid = instances.centroid if instances.centroid is not None else (instances.box_min + instances.box_max) / 2
    for k in range(len(instances)):
        msg = Instance(
            id=int(instances.ids[k]),
            score=float(instances.scores[k]),
            centroid=point(centroid[k]),
            box_min=point(instances.box_min[k]),
            box_max=point(instances.box_max[k]),
            num_points=int(instances.num_points[k]),
            tier=int(instances.tier[k]) if instances.tier is not None else Instance.TIER_SHORT,
        )
        if instances.first_seen is not None:
            msg.first_seen = seconds_to_stamp(instances.first_seen[k])
        if instances.last_seen is not None:
            msg.last_seen = seconds_to_stamp(instances.last_seen[k])
        out.instances.append(msg)
    return out


def instance_scores(ids: np.ndarray, instances: Instances) -> np.ndarray:
    """(N,) float32 score of each id's instance (0 for id 0 or ids not in ``instances``)."""
    ids = np.asarray(ids, np.int64)
    scores = np.zeros(len(ids), np.float32)
    if len(instances) == 0:
        return scores
    order = np.argsort(instances.ids)
    sorted_ids = np.asarray(instances.ids, np.int64)[order]
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
    found = sorted_ids[pos] == ids
    scores[found] = np.asarray(instances.scores, np.float32)[order][pos[found]]
    return scores


def mask_label_image(result: StepResult) -> np.ndarray:
    """(H, W) int64 map id per pixel: each 2D mask takes the map id its fragment's points got (0 = none)."""
    masks, points = result.masks, result.points
    lut = np.zeros(len(masks) + 1, np.int64)  # last slot: fragment_map -1
    has_fragment = points.fragment >= 0
    mask_of_point = np.asarray(result.fragments.mask_index)[points.fragment[has_fragment]]
    lut[mask_of_point] = result.point_instance[has_fragment]
    return lut[masks.fragment_map]


class Outputs:
    """Publishers of the node's outputs; remembers which instances RViz shows, to delete vanished ones."""

    def __init__(self, node, params: NodeParams):
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from samosaic3d_msgs.msg import InstanceArray
        from sensor_msgs.msg import Image, PointCloud2
        from geometry_msgs.msg import PoseStamped
        from tf2_msgs.msg import TFMessage
        from visualization_msgs.msg import MarkerArray

        self.params = params
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        big = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)  # large messages: newest only, never dropped
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if params.cloud_transient_local else DurabilityPolicy.VOLATILE,
        )
        self.instances = node.create_publisher(InstanceArray, INSTANCES_TOPIC, reliable)
        self.cloud = node.create_publisher(PointCloud2, CLOUD_TOPIC, latched)
        self.frame_cloud = (
            node.create_publisher(PointCloud2, FRAME_CLOUD_TOPIC, big) if params.publish_frame_cloud else None
        )
        self.markers = node.create_publisher(MarkerArray, MARKERS_TOPIC, reliable)
        self.overlay = node.create_publisher(Image, OVERLAY_TOPIC, big) if params.publish_overlay else None
        self.camera_pose = node.create_publisher(PoseStamped, CAMERA_POSE_TOPIC, reliable)
        # what tf2_ros.TransformBroadcaster does: TFMessage on /tf, reliable, depth 100
        self.tf = None
        if params.refined_camera_frame:
            self.tf = node.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))
        self.detections = None
        missing = detections_available()
        if missing is None:
            from vision_msgs.msg import Detection3DArray

            self.detections = node.create_publisher(Detection3DArray, DETECTIONS_TOPIC, reliable)
        else:
            node.get_logger().warning(f"not publishing /{DETECTIONS_TOPIC}: {missing}")
        self._shown_ids: set[int] = set()

    def destroy(self, node) -> None:
        """Destroy every publisher (a managed node's cleanup)."""
        for publisher in (self.instances, self.cloud, self.frame_cloud, self.markers, self.overlay, self.camera_pose,
                          self.tf, self.detections):
            if publisher is not None:
                node.destroy_publisher(publisher)

    def _cloud_rgb(self, ids: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        return instance_rgb_packed(ids, rgb) if self.params.cloud_color == "instance" else rgb

    def publish_frame(
        self, result: StepResult, instances: Instances, header, color_header, color_rgb: np.ndarray
    ) -> None:
        """The frame's labelled points (``header``: map frame) and, if enabled, its mask overlay (``color_header``)."""
        if self.frame_cloud is not None:
            ids = result.point_instance
            points = labelled_points(
                result.points.xyz, self._cloud_rgb(ids, result.points.rgb), ids, instance_scores(ids, instances)
            )
            self.frame_cloud.publish(array_to_cloud(points, header))
        if self.overlay is not None:
            self.overlay.publish(rgb_to_image(overlay_labels(color_rgb, mask_label_image(result)), color_header))

    def publish_camera_pose(self, pose: np.ndarray, header) -> None:
        """The pose (4x4, camera-to-map) a frame was fused with: /instances/camera_pose and, if set, /tf."""
        from geometry_msgs.msg import Pose, PoseStamped
        from tf2_msgs.msg import TFMessage

        q = matrix_to_quat(pose[:3, :3])
        msg = PoseStamped(header=header, pose=Pose())
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in pose[:3, 3])
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in q)
        self.camera_pose.publish(msg)
        if self.tf is not None:
            tf = transform_stamped(pose, header.frame_id, self.params.refined_camera_frame, stamp_to_ns(header.stamp))
            self.tf.publish(TFMessage(transforms=[tf]))

    def publish_instances(self, instances: Instances, header) -> None:
        """/instances, /instances/detections and /instances/markers (with DELETE for instances no longer there)."""
        self.instances.publish(instances_to_msg(instances, header))
        if self.detections is not None:
            self.detections.publish(instances_to_detections(instances, header))
        ids = {int(i) for i in instances.ids}
        removed = sorted(self._shown_ids - ids)
        self.markers.publish(instance_markers(instances, header, self.params.marker_namespace, removed))
        self._shown_ids = ids

    def publish_map(self, scene_map: SceneMap, header) -> None:
        ids = scene_map.instance_ids
        points = labelled_points(scene_map.xyz, self._cloud_rgb(ids, scene_map.rgb), ids, scene_map.scores)
        self.cloud.publish(array_to_cloud(points, header))

    def publish_cleared(self, header) -> None:
        """After a reset: DELETEALL markers, no instances, an empty map cloud."""
        self.markers.publish(delete_all_markers(header, self.params.marker_namespace))
        self._shown_ids = set()
        self.instances.publish(instances_to_msg(Instances.empty(), header))
        if self.detections is not None:
            self.detections.publish(instances_to_detections(Instances.empty(), header))
        self.cloud.publish(array_to_cloud(np.empty(0, POINT_DTYPE), header))
