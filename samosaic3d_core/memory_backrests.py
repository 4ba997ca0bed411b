"""Backrests: a thin upright slab standing along one edge of an instance's top joins it.

Frame models often cut a chair's back from its seat (and a bed's headboard from its frame): the
back is one flat fragment, the seat and legs another. Views then keep them apart, so view consensus
does not merge them, and splitting (``samosaic3d_core.memory_parts``) takes apart a chair that a
first view held whole. What the map does know is how the back stands. A map instance (the *slab*)
stands as a backrest on another (the *base*) when

  * it touches the base's top: at least ``min_contact`` voxels of the base's top slab lie within
    ``reach`` of it (a book in a shelf stands on a board with the shelf rising above it, a box
    beside a table touches its side);
  * what rises above that top is upright and thin: at least ``min_height`` above it, at most
    ``max_thickness`` across its thin horizontal axis, and at least twice as long as it is thick
    (a box stacked on a box is shorter or thicker);
  * it spans the top along its long axis (``min_span`` of the top's extent, and not much beyond
    it): a monitor on a desk covers a small part of the desk's width;
  * it stands on the top's edge: its outer face lies within ``reach`` of the top's outer boundary
    across the thin axis, and the top reaches at least four slab thicknesses inward from it.

What the slab holds below the base's top (rear legs in the plane of a chair's back) does not
matter. Directions are taken in the floor plane (world z is up, as in ScanNet and ROS maps; the
floor is ``samosaic3d_core.memory_supports.floor_plane``), and the slab's axes are the principal
axes of its footprint, so a chair turned to any angle is found. ``MapRevision`` joins a slab to its
base at each search for boundary planes and does not split one from the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.geometry import VoxelIndex
from samosaic3d_core.memory_supports import SLAB, voxels_around


@dataclass(frozen=True)
class BackrestRule:
    """What makes a slab a backrest of its base (metres); ``ConsolidationConfig.backrest_rule()``
    gives the configured one."""

    min_height: float
    max_thickness: float
    min_span: float
    reach: float
    min_contact: int


def floor_frame(floor: np.ndarray) -> np.ndarray:
    """(3, 2) two orthonormal directions in the plane of ``floor`` ((4,): unit normal, offset)."""
    normal = np.asarray(floor[:3], np.float64)
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    first = np.cross(normal, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(normal, first)], axis=1)


def slab_axes(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Long and thin unit axes (2,) of the footprint ``flat`` ((N, 2) floor-plane coordinates)."""
    centred = flat - flat.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return vectors[:, 1], vectors[:, 0]


def find_base(
    slab: int, rows: np.ndarray, xyz: np.ndarray, owner: np.ndarray, keys: np.ndarray, index: VoxelIndex,
    floor: np.ndarray, member_rows, offsets: np.ndarray, rule: BackrestRule, voxel_size: float,
) -> int:
    """The map id whose top map instance ``slab`` (voxel ``rows``) stands on as a backrest, or 0.

    Args: xyz (V, 3), owner (V,) map id (0 = none) and keys (V,) of every map voxel, ``index`` over
    those keys; ``floor`` (4,) the floor plane; ``member_rows(id)`` the voxel rows of a map id;
    ``offsets`` ``memory_supports.reach_offsets(rule.reach, voxel_size)``.
    """
    if len(rows) < 3 or thin_extent(xyz[rows] @ floor_frame(floor), voxel_size)[2] > 2 * rule.max_thickness:
        return 0  # a first cut: the slab with what it holds below its base (legs, a seat's edge) is thin too
    near = voxels_around(rows, keys, index, offsets)
    near = near[(owner[near] > 0) & (owner[near] != slab)]
    ids, counts = np.unique(owner[near], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    for base in ids[order][counts[order] >= rule.min_contact].tolist():
        if stands_on(rows, near[owner[near] == base], member_rows(base), xyz, floor, rule, voxel_size):
            return base
    return 0


def thin_extent(flat: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(long axis (2,), thin axis (2,), thickness in metres) of the footprint ``flat``: the 5-95 %
    range across its thin axis (a few stray voxels of a neighbour do not make a slab thick), plus one voxel."""
    long_axis, thin_axis = slab_axes(flat)
    return long_axis, thin_axis, float(np.subtract(*np.percentile(flat @ thin_axis, [95, 5]))) + voxel_size


def stands_on(
    rows: np.ndarray, contact: np.ndarray, base_rows: np.ndarray, xyz: np.ndarray, floor: np.ndarray,
    rule: BackrestRule, voxel_size: float,
) -> bool:
    """Whether the voxel ``rows`` stand as a backrest on the top of the voxels ``base_rows``
    (``contact``: those of them within ``rule.reach`` of ``rows``)."""
    height = xyz[rows] @ floor[:3] + floor[3]
    base_height = xyz[base_rows] @ floor[:3] + floor[3]
    top = base_height.max()
    if (xyz[contact] @ floor[:3] + floor[3] >= top - SLAB).sum() < rule.min_contact:
        return False  # it touches the base below its top: beside it, not on it
    upper = rows[height > top + voxel_size / 2]
    if len(upper) < 3 or height.max() - top < rule.min_height:
        return False
    frame = floor_frame(floor)
    flat = xyz[upper] @ frame
    long_axis, thin_axis, thickness = thin_extent(flat, voxel_size)
    along, across = flat @ long_axis, flat @ thin_axis
    length = np.ptp(along) + voxel_size
    if thickness > rule.max_thickness or length < 2 * thickness:
        return False
    top_flat = xyz[base_rows[base_height >= top - SLAB]] @ frame
    top_along, top_across = top_flat @ long_axis, top_flat @ thin_axis
    shared = min(along.max(), top_along.max()) - max(along.min(), top_along.min()) + voxel_size
    top_length = np.ptp(top_along) + voxel_size
    if shared < rule.min_span * top_length or length > top_length + 2 * rule.reach:
        return False
    if np.ptp(top_across) + voxel_size < 4 * thickness:
        return False
    at_high = abs(across.max() - top_across.max()) <= rule.reach and across.min() >= top_across.min() - rule.reach
    at_low = abs(across.min() - top_across.min()) <= rule.reach and across.max() <= top_across.max() + rule.reach
    return bool(at_high or at_low)


def backrest_pair(
    first: np.ndarray, second: np.ndarray, xyz: np.ndarray, keys: np.ndarray, index: VoxelIndex, floor: np.ndarray,
    offsets: np.ndarray, rule: BackrestRule, voxel_size: float,
) -> bool:
    """Whether one of two sets of voxel rows stands on the other as a backrest (either way round)."""
    for slab, base in ((first, second), (second, first)):
        if len(slab) < 3 or len(base) < 3:
            return False
        height = xyz[slab] @ floor[:3] + floor[3]
        top = (xyz[base] @ floor[:3] + floor[3]).max()
        if height.max() - top < rule.min_height:
            continue  # nothing rises high enough above the base's top (``stands_on``), no need to look around
        # only the slab's voxels level with the base's top can touch it there (what ``stands_on`` counts):
        # ``offsets`` reach at most max(reach, one cell diagonal) between cell centres, and each voxel's
        # point lies within half a diagonal of its centre
        margin = max(rule.reach, voxel_size * np.sqrt(3)) + 2 * voxel_size
        level = slab[(height >= top - SLAB - margin) & (height <= top + margin)]
        contact = np.intersect1d(voxels_around(level, keys, index, offsets), base)
        if len(contact) >= rule.min_contact and stands_on(slab, contact, base, xyz, floor, rule, voxel_size):
            return True
    return False
