"""Geometry helpers: back-projection, voxel grids, axis-aligned boxes."""

from samosaic3d_core.geometry.boxes import aabb, box_distance, box_volume, group_boxes, iou_3d
from samosaic3d_core.geometry.projection import backproject, project
from samosaic3d_core.geometry.voxel import (
    majority_vote, pack_voxel_keys, sample_indices, unpack_voxel_keys, voxel_downsample, voxel_keys, voxelize,
)

__all__ = [
    "aabb", "backproject", "box_distance", "box_volume", "group_boxes", "iou_3d", "majority_vote", "pack_voxel_keys", "project",
    "sample_indices", "unpack_voxel_keys", "voxel_downsample", "voxel_keys", "voxelize",
]
