"""Topics and frames of the bags that ``samosaic3d make-bag`` writes (and ``eval-bag`` reads).

Two layouts (``make-bag --layout``):

``default``: TF tree ``map -> camera_link`` on /tf (one per frame) and
``camera_link -> camera_depth_optical_frame`` on /tf_static (the usual ROS body-to-optical
rotation: x forward / y left / z up  ->  z forward / x right / y down); topics under ``/camera``.

``realsense``: the names of Intel's ``realsense2_camera`` driver (ROS 2, ``rs_launch.py`` with
``align_depth.enable:=true``: colour and depth aligned to it under ``/camera/camera``, images in
``camera_color_optical_frame``) on a robot with odometry: ``map -> odom`` (slowly drifting, as a
localiser corrects odometry) and ``odom -> base_link`` on /tf per frame, and the mount
``base_link -> camera_link -> camera_color_frame -> camera_color_optical_frame`` on /tf_static.
The chain composes to the camera pose of the scene.

Both put the ground-truth instance images on their own topic, and, for a scene with tracking error
(``make-bag --pose-error``), the tracker's poses on /tf and the true optical-frame poses on
``/ground_truth/camera_pose`` for the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

NAMESPACE = "/camera"
COLOR_TOPIC = f"{NAMESPACE}/color/image_raw"
DEPTH_TOPIC = f"{NAMESPACE}/depth/image_raw"
CAMERA_INFO_TOPIC = f"{NAMESPACE}/depth/camera_info"
INSTANCE_TOPIC = f"{NAMESPACE}/instance/image_raw"  # ground truth, 16UC1 ids (0 = unlabeled)
TRUE_POSE_TOPIC = "/ground_truth/camera_pose"  # PoseStamped, map <- optical frame, when the poses on /tf are a tracker's
TF_TOPIC = "/tf"
TF_STATIC_TOPIC = "/tf_static"

MAP_FRAME = "map"
BODY_FRAME = "camera_link"
OPTICAL_FRAME = "camera_depth_optical_frame"

# optical-from-body rotation (columns: the optical axes expressed in the body frame)
BODY_TO_OPTICAL = np.array(
    [[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
"""Pose of the optical frame in the body frame (4x4)."""


def rigid(translation=(0.0, 0.0, 0.0), yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """4x4 pose: rotation about z by ``yaw`` after one about y by ``pitch`` (radians), then ``translation``."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    matrix = np.eye(4)
    matrix[:3, :3] = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    matrix[:3, 3] = translation
    return matrix


@dataclass(frozen=True)
class Link:
    """One edge of a TF tree: the pose of ``child`` in ``parent`` (4x4)."""

    parent: str
    child: str
    matrix: np.ndarray


@dataclass(frozen=True)
class BagLayout:
    """Where a written bag puts each stream and how its TF tree reaches the camera."""

    name: str
    color_topic: str
    depth_topic: str
    camera_info_topics: tuple[str, ...]
    """CameraInfo topics, each with the same intrinsics (the depth image is registered to the colour)."""
    instance_topic: str
    optical_frame: str
    """frame_id of the images: the camera's optical frame."""
    static_links: tuple[Link, ...]
    """/tf_static, from the last moving frame down to ``optical_frame``."""
    odom_frame: str = ""
    """If set, the moving part is ``map -> odom_frame`` (drifting) and ``odom_frame -> mount frame``."""

    def mount(self) -> np.ndarray:
        """Pose of the optical frame in the frame the static links hang from."""
        return reduce(np.matmul, [link.matrix for link in self.static_links])

    def moving_links(self, optical_pose: np.ndarray, seconds: float) -> list[Link]:
        """The /tf links of one frame, ``seconds`` after the first: they compose with the static links
        to ``optical_pose`` (map <- optical)."""
        mounted = self.static_links[0].parent
        carrier = optical_pose @ np.linalg.inv(self.mount())  # map <- mounted frame
        if not self.odom_frame:
            return [Link(MAP_FRAME, mounted, carrier)]
        drift = odom_drift(seconds)
        return [Link(MAP_FRAME, self.odom_frame, drift), Link(self.odom_frame, mounted, np.linalg.inv(drift) @ carrier)]


def odom_drift(seconds: float) -> np.ndarray:
    """map <- odom at ``seconds``: an offset plus a slow drift (2 cm/s, 0.6 deg/s), as a localiser corrects
    an odometry that drifts."""
    return rigid((0.8 + 0.02 * seconds, -0.3 + 0.01 * seconds, 0.0), yaw=0.3 + 0.01 * seconds)


DEFAULT = BagLayout(
    name="default", color_topic=COLOR_TOPIC, depth_topic=DEPTH_TOPIC, camera_info_topics=(CAMERA_INFO_TOPIC,),
    instance_topic=INSTANCE_TOPIC, optical_frame=OPTICAL_FRAME,
    static_links=(Link(BODY_FRAME, OPTICAL_FRAME, BODY_TO_OPTICAL),),
)

REALSENSE_NAMESPACE = "/camera/camera"
REALSENSE = BagLayout(
    name="realsense",
    color_topic=f"{REALSENSE_NAMESPACE}/color/image_raw",
    depth_topic=f"{REALSENSE_NAMESPACE}/aligned_depth_to_color/image_raw",
    camera_info_topics=(f"{REALSENSE_NAMESPACE}/aligned_depth_to_color/camera_info",
                        f"{REALSENSE_NAMESPACE}/color/camera_info"),
    instance_topic="/ground_truth/instance/image_raw",
    optical_frame="camera_color_optical_frame",
    static_links=(
        Link("base_link", "camera_link", rigid((0.25, 0.0, 0.4), pitch=0.2)),  # mounted forward, tilted down
        Link("camera_link", "camera_color_frame", rigid((0.0, 0.015, 0.0))),  # the colour imager's offset
        Link("camera_color_frame", "camera_color_optical_frame", BODY_TO_OPTICAL),
    ),
    odom_frame="odom",
)

LAYOUTS = {layout.name: layout for layout in (DEFAULT, REALSENSE)}
