"""Topics and frames of the bags that ``samosaic3d make-bag`` writes (and ``eval-bag`` reads).

TF tree: ``map -> camera_link`` on /tf (one per frame) and
``camera_link -> camera_depth_optical_frame`` on /tf_static (the usual ROS body-to-optical
rotation: x forward / y left / z up  ->  z forward / x right / y down).
A scene with tracking error (``make-bag --pose-error``) puts the tracker's poses on /tf and the
true optical-frame poses on ``/ground_truth/camera_pose`` for the evaluation.
"""

from __future__ import annotations

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


def body_pose(optical_pose: np.ndarray) -> np.ndarray:
    """map <- camera_link pose for a map <- optical camera pose."""
    return optical_pose @ np.linalg.inv(BODY_TO_OPTICAL)
