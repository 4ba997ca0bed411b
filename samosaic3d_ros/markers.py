"""``visualization_msgs/MarkerArray`` for map instances: a box (LINE_LIST) and an id label per instance.

Box markers live in namespace ``<ns>/boxes`` and labels in ``<ns>/labels``; both use the
instance id as marker id, so an instance keeps its markers across updates. Instances
that disappeared (merged, or gone after a load) are removed with DELETE markers;
a reset sends one DELETEALL.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from samosaic3d_core.geometry.boxes import BOX_EDGES, box_corners
from samosaic3d_core.types import Instances
from samosaic3d_ros.colors import instance_color_rgba

def box_line_points(box_min: np.ndarray, box_max: np.ndarray) -> np.ndarray:
    """(24, 3) float64 endpoints of the 12 edges of the axis-aligned box, pairwise (LINE_LIST order)."""
    return box_corners(box_min, box_max)[BOX_EDGES.reshape(-1)]


def instance_markers(
    instances: Instances,
    header,
    namespace: str = "samosaic3d",
    removed_ids: Iterable[int] = (),
    line_width: float = 0.01,
    text_size: float = 0.08,
):
    """MarkerArray with a box + label per instance, and DELETE markers for ``removed_ids``."""
    from geometry_msgs.msg import Point
    from visualization_msgs.msg import Marker, MarkerArray

    out = MarkerArray()
    for instance_id in removed_ids:
        for suffix in ("boxes", "labels"):
            out.markers.append(
                Marker(header=header, ns=f"{namespace}/{suffix}", id=int(instance_id), action=Marker.DELETE)
            )
    for k in range(len(instances)):
        instance_id = int(instances.ids[k])
        box_min = np.asarray(instances.box_min[k], np.float64)
        box_max = np.asarray(instances.box_max[k], np.float64)
        color = instance_color_rgba(instance_id)

        box = Marker(header=header, ns=f"{namespace}/boxes", id=instance_id, type=Marker.LINE_LIST, action=Marker.ADD)
        box.pose.orientation.w = 1.0
        box.scale.x = float(line_width)
        box.color = color
        box.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in box_line_points(box_min, box_max)]
        out.markers.append(box)

        label = Marker(
            header=header, ns=f"{namespace}/labels", id=instance_id, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD
        )
        top = (box_min + box_max) / 2.0
        top[2] = box_max[2] + text_size  # just above the box
        label.pose.position.x, label.pose.position.y, label.pose.position.z = (float(v) for v in top)
        label.pose.orientation.w = 1.0
        label.scale.z = float(text_size)
        label.color = color
        label.text = f"{instance_id} ({float(instances.scores[k]):.2f})"
        out.markers.append(label)
    return out


def delete_all_markers(header, namespace: str = "samosaic3d"):
    """MarkerArray with one DELETEALL marker (clears everything of this publisher in RViz)."""
    from visualization_msgs.msg import Marker, MarkerArray

    return MarkerArray(markers=[Marker(header=header, ns=namespace, id=0, action=Marker.DELETEALL)])
