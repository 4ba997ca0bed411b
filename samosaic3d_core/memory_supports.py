"""Supports: a piece that stands on the floor and holds up a larger instance joins it.

Frame models cut a table's legs from its top, a chair's seat and legs from its back, the lower
part of a shelf from the rest, and views rarely group the pieces often enough for view consensus
to merge them (the legs of the 1500-frame run's table are grouped with its top in about 1 of 6
frames that see both). What the map does know is how they stand: a leg rests on the floor and the
top rests on it. A map instance (the *piece*) joins a larger one (the *holder*) when

  * its lowest voxel lies within ``support_floor`` of the floor (the lowest boundary plane that
    faces up, ``samosaic3d_core.memory_structure``; world z is up, as in ScanNet and ROS maps);
  * at least ``support_contact`` voxels of the holder lie within ``support_reach`` of the piece's
    top and above it (the top rests on the legs);
  * the piece's footprint lies within the holder's (grown by ``support_reach``) and the holder
    rises above the piece: the legs stand under the top, not beside it;
  * the piece's footprint is at most ``support_footprint`` of the holder's: legs under a wide top,
    not a box under the box stacked on it;
  * the holder does not carry the piece from below (fewer than ``support_contact`` of its voxels
    within reach of the piece's base and no higher): a box on a shelf's lowest board stands on the
    shelf, not on the floor.

A leg whose upper end is never mapped (the camera sees a table's top from above, rarely the top
of its legs under it) leaves a gap between its top and the holder. A *thin* piece (every part of
its footprint, seen from above, at most ``leg_width`` across) may bridge up to ``gap`` to the
first instance straight above it: the holder is then what lies lowest over its columns, and the
rest of the rule is the same.

A chair tucked under a table does not join it: the chair's back rises above the table top or
stands outside its footprint, and its seat does not touch the top. Heights are measured along the
floor plane's normal, so a slightly tilted map floor does not matter.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from samosaic3d_core.geometry import VoxelIndex, unpack_voxel_keys

SLAB = 0.04
"""Metres: the top (bottom) slab of a piece, its voxels within this of its highest (lowest) one."""
FLOOR_NORMAL_Z = 0.9
"""A boundary plane is a floor when its normal (towards the map) has at least this z component."""


def floor_plane(planes: np.ndarray) -> np.ndarray | None:
    """The floor among boundary ``planes`` ((P, 4): unit normal towards the map, offset): the lowest one
    facing up, or None."""
    planes = np.asarray(planes, np.float64).reshape(-1, 4)
    up = planes[planes[:, 2] >= FLOOR_NORMAL_Z]
    if len(up) == 0:
        return None
    return up[np.argmax(up[:, 3] / up[:, 2])]  # n . x + d = 0 at x = (0, 0, -d / n_z): lowest -d / n_z


def reach_offsets(reach: float, voxel_size: float) -> np.ndarray:
    """(K, 3) int64 voxel offsets within ``reach`` metres of a voxel (itself excluded)."""
    r = max(int(np.floor(reach / voxel_size)), 1)
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    dist = np.linalg.norm(grid, axis=1) * voxel_size
    return grid[(dist > 0) & (dist <= max(reach, voxel_size * np.sqrt(3)) + 1e-9)]


def find_support(
    piece: int, rows: np.ndarray, xyz: np.ndarray, owner: np.ndarray, keys: np.ndarray, index: VoxelIndex,
    floor: np.ndarray, sizes: np.ndarray, box_min: np.ndarray, box_max: np.ndarray,
    offsets: np.ndarray, reach: float, floor_tolerance: float, min_contact: int,
    max_footprint: float = 1.0, voxel_size: float = 0.0, gap: float = 0.0, leg_width: float = 0.0,
) -> int:
    """The map id that map instance ``piece`` (voxel ``rows``) holds up, or 0.

    Args: xyz (V, 3), owner (V,) map id (0 = none) and keys (V,) of every map voxel, ``index`` over
    those keys; ``floor`` (4,) the floor plane; sizes, box_min, box_max per map id - 1 (voxels owned,
    axis-aligned bounds); ``offsets`` ``reach_offsets(reach, voxel size)``; ``max_footprint`` the
    largest area of the piece's footprint (its box seen from above, ``voxel_size`` added to each
    side) as a share of the holder's; ``gap`` and ``leg_width`` the bridge of a thin piece (0: none).
    """
    if len(rows) == 0:
        return 0
    height = xyz[rows] @ floor[:3] + floor[3]
    if height.min() > floor_tolerance:
        return 0
    top = rows[height >= height.max() - SLAB]
    others = lambda near: near[(owner[near] > 0) & (owner[near] != piece)]  # noqa: E731
    holder, contact = _resting_on(voxels_around(top, keys, index, offsets), others, owner, xyz, floor, height.max())
    if contact < min_contact and gap > 0 and is_thin(xyz[rows], voxel_size, leg_width):
        holder, contact = _resting_on(voxels_around(top, keys, index, column_offsets(gap, voxel_size)), others,
                                      owner, xyz, floor, height.max(), lowest=True)
    if holder == 0 or contact < min_contact or sizes[holder - 1] <= len(rows):
        return 0
    held = _stands_under(rows, height, (box_min[piece - 1], box_max[piece - 1]),
                         (box_min[holder - 1], box_max[holder - 1]), lambda near: near[owner[near] == holder],
                         xyz, keys, index, floor, offsets, reach, min_contact, max_footprint, voxel_size)
    return holder if held else 0


def holds_up(
    piece: np.ndarray, holder: np.ndarray, xyz: np.ndarray, keys: np.ndarray, index: VoxelIndex,
    floor: np.ndarray, offsets: np.ndarray, reach: float, floor_tolerance: float, min_contact: int,
    max_footprint: float, voxel_size: float, gap: float = 0.0, leg_width: float = 0.0,
    owner: np.ndarray | None = None,
) -> bool:
    """``find_support`` over two sets of voxel rows: whether ``piece`` stands on the floor and holds
    up ``holder`` (a part of one map instance that splitting would take off, and the rest of it).
    ``owner`` (V,) the map id of every voxel (0 = none), which the bridge of a thin piece reads: what
    lies lowest over its columns must be ``holder``."""
    if len(piece) == 0 or len(holder) <= len(piece):
        return False
    height = xyz[piece] @ floor[:3] + floor[3]
    if height.min() > floor_tolerance:
        return False
    top = piece[height >= height.max() - SLAB]
    above = np.intersect1d(voxels_around(top, keys, index, offsets), holder)
    contact = int((xyz[above] @ floor[:3] + floor[3] > height.max() + 1e-3).sum())
    if contact < min_contact and gap > 0 and owner is not None and is_thin(xyz[piece], voxel_size, leg_width):
        mark = np.where(owner > 0, 2, 0)  # 1: the rest of the instance, 2: any other one
        mark[holder] = 1
        # labelled voxels other than the piece's, as find_support's
        labelled = lambda near: np.setdiff1d(near[mark[near] > 0], piece, assume_unique=True)  # noqa: E731
        lowest, contact = _resting_on(voxels_around(top, keys, index, column_offsets(gap, voxel_size)), labelled,
                                      mark, xyz, floor, height.max(), lowest=True)
        contact = contact if lowest == 1 else 0
    if contact < min_contact:
        return False
    return _stands_under(piece, height, (xyz[piece].min(0), xyz[piece].max(0)), (xyz[holder].min(0), xyz[holder].max(0)),
                         lambda near: np.intersect1d(near, holder), xyz, keys, index, floor, offsets, reach,
                         min_contact, max_footprint, voxel_size)


def column_offsets(gap: float, voxel_size: float) -> np.ndarray:
    """(K, 3) int64 voxel offsets of the columns over a voxel and its 8 horizontal neighbours, up to
    ``gap`` metres above it."""
    steps = np.arange(1, max(int(np.floor(gap / voxel_size + 1e-9)), 1) + 1)
    grid = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], steps, indexing="ij"), axis=-1)
    return grid.reshape(-1, 3).astype(np.int64)


def is_thin(xyz: np.ndarray, voxel_size: float, leg_width: float) -> bool:
    """Whether every connected part of the footprint of points ``xyz`` (N, 3) (world z up, cells of
    ``voxel_size`` seen from above, 8-connected) is at most ``leg_width`` across: one leg, or
    several apart from each other."""
    cells = np.floor(np.asarray(xyz)[:, :2] / voxel_size).astype(np.int64)
    cells -= cells.min(axis=0)
    grid = np.zeros(cells.max(axis=0) + 1, bool)
    grid[cells[:, 0], cells[:, 1]] = True
    labels, count = ndimage.label(grid, np.ones((3, 3), bool))
    spans = ndimage.find_objects(labels)
    widest = max(max(s.stop - s.start for s in span) for span in spans[:count])
    return widest * voxel_size <= leg_width + 1e-9


def _resting_on(near: np.ndarray, others, owner: np.ndarray, xyz: np.ndarray, floor: np.ndarray, top: float,
                lowest: bool = False) -> tuple[int, int]:
    """The instance most of the voxels ``others(near)`` above height ``top`` belong to, and how many
    of them (0, 0 without any). ``lowest``: only the voxels within ``SLAB`` of the lowest of them
    (what lies first over a piece's columns)."""
    near = others(near)
    height = xyz[near] @ floor[:3] + floor[3]
    keep = height > top + 1e-3
    near, height = near[keep], height[keep]
    if lowest and len(near):
        near = near[height <= height.min() + SLAB]
    near = near[owner[near] > 0]
    if len(near) == 0:
        return 0, 0
    ids, counts = np.unique(owner[near], return_counts=True)
    return int(ids[np.argmax(counts)]), int(counts.max())


def voxels_around(rows: np.ndarray, keys: np.ndarray, index: VoxelIndex, offsets: np.ndarray) -> np.ndarray:
    """The map voxel rows within ``offsets`` of voxel ``rows`` (sorted, each once)."""
    near = index.neighbours(unpack_voxel_keys(keys[rows]), "map voxels", offsets).reshape(-1)
    return np.unique(near[near >= 0])


def _stands_under(
    rows: np.ndarray, height: np.ndarray, box: tuple, holder_box: tuple, in_holder, xyz: np.ndarray,
    keys: np.ndarray, index: VoxelIndex, floor: np.ndarray, offsets: np.ndarray, reach: float,
    min_contact: int, max_footprint: float, voxel_size: float,
) -> bool:
    """The rest of the rule once the holder rests on the piece's top: the piece stands within the
    holder's footprint and below its top, covers at most ``max_footprint`` of it, and is not carried
    by it from below. ``height`` (N,) of the piece's voxel ``rows`` over the floor; ``box`` and
    ``holder_box`` (min (3,), max (3,)); ``in_holder(rows)`` those of the given voxel rows that are
    the holder's."""
    (lo, hi), (holder_lo, holder_hi) = box, holder_box
    inside = (lo[:2] >= holder_lo[:2] - reach).all() and (hi[:2] <= holder_hi[:2] + reach).all()
    if not inside or holder_hi[2] <= hi[2] + SLAB / 2:
        return False
    if np.prod(hi[:2] - lo[:2] + voxel_size) > max_footprint * np.prod(holder_hi[:2] - holder_lo[:2] + voxel_size):
        return False
    low = height.min()
    below = in_holder(voxels_around(rows[height <= low + SLAB], keys, index, offsets))
    return (xyz[below] @ floor[:3] + floor[3] <= low + SLAB / 2).sum() < min_contact
