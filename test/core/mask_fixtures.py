"""A tiny hand-made frame with known parts and instances for mask-source tests."""

import numpy as np

from samosaic3d_core.types import CameraIntrinsics, Frame


def block_frame(index: int = 0) -> Frame:
    """64x48 frame: a wall at 3 m; object 1 = parts 1 (left) + 2 (right) touching; object 2 = part 3 in front."""
    h, w = 48, 64
    depth = np.full((h, w), 3.0, np.float32)
    part = np.zeros((h, w), np.int32)
    inst = np.zeros((h, w), np.int32)
    part[10:30, 5:20], part[10:30, 20:35] = 1, 2
    inst[10:30, 5:35] = 1
    part[15:40, 40:60], inst[15:40, 40:60] = 3, 2
    depth[10:30, 5:35] = 2.0
    depth[15:40, 40:60] = 1.5
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[...] = (90, 90, 90)
    rgb[part == 1] = (200, 30, 30)
    rgb[part == 2] = (30, 200, 30)
    rgb[part == 3] = (30, 30, 200)
    k = CameraIntrinsics(fx=50.0, fy=50.0, cx=31.5, cy=23.5, width=w, height=h)
    return Frame(rgb=rgb, depth=depth, pose=np.eye(4), intrinsics=k, timestamp=0.1 * index, index=index,
                 instance_gt=inst, part_gt=part)
