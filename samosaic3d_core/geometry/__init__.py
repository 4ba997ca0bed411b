"""Geometry helpers: back-projection, voxel grids, axis-aligned boxes, convexity of surface pieces."""

from samosaic3d_core.geometry.boxes import (
    BOX_EDGES, box_axis_gaps, box_centre_distance, box_corners, box_gap, box_iou, box_volume, boxes_from_corners,
    group_boxes, points_box,
)
from samosaic3d_core.geometry.convexity import facing, instance_concavity
from samosaic3d_core.geometry.projection import backproject, project
from samosaic3d_core.geometry.voxel import (
    NEIGHBOUR_OFFSETS, VoxelIndex, hash_sample, key_hash, majority_vote, neighbourhood_mode, pack_voxel_keys, sample_indices,
    unpack_voxel_keys, voxel_downsample, voxel_keys, voxelize,
)

__all__ = [
    "BOX_EDGES", "NEIGHBOUR_OFFSETS", "VoxelIndex", "backproject", "box_axis_gaps", "box_centre_distance", "box_corners",
    "box_gap", "box_iou",
    "box_volume", "boxes_from_corners", "facing",
    "group_boxes", "instance_concavity", "hash_sample", "key_hash", "majority_vote", "neighbourhood_mode", "pack_voxel_keys", "points_box", "project", "sample_indices", "unpack_voxel_keys",
    "voxel_downsample", "voxel_keys", "voxelize",
]
