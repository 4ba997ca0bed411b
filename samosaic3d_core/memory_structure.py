"""Room structure: the floor, walls and ceiling as large boundary planes, kept out of the instances.

Frame models cut floors and walls into fragments like any surface, and the pieces they keep as
instances speckle the structure with labels. The map finds the structure itself instead: a
*boundary plane* is a plane that holds at least ``min_area`` square metres of map surface within
``band`` of it and has (almost) nothing of the map behind it, as the floor, the walls and the
ceiling of a room do; a table top or a shelf board has the floor or the wall behind it and is not
one. ``SceneMemory`` then

  * drops frame instances that lie (``min_share`` of their points) on one boundary plane, before
    association: a piece of wall becomes no instance at all;
  * dissolves map instances that lie on one boundary plane, at each consolidation pass;
  * takes the points on a boundary plane that frame or map instances hold far (``attach``) from the
    rest of them: a piece of floor fused with a chair;
  * never fills unlabelled voxels on a boundary plane with a neighbour's label;
  * except on a wall inside the outline an instance draws on it (``enclosed``): there the
    instance's points stay its own and the fill may label the rest (a shelf's back panel).

Objects keep what they hold close to a wall or the floor (the base of a cabinet): structure only
takes instances that are (nearly) all on a plane and the parts of others that are away from them.
Structure points stay in the map with instance id 0, like the floor and walls of ScanNet's instance
ground truth. Flat things on a wall or the floor that a frame model keeps as instances of their own
(posters, rugs, doors) lie on the plane too and are dropped with it; ``structure.min_share`` above
1 keeps them.

Planes are found by RANSAC on a fixed-size random sample of the map voxels (``find_boundary_planes``),
so a pass costs the same for any map size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.memory_supports import FLOOR_NORMAL_Z


@dataclass
class StructureConfig:
    """Boundary planes (floor, walls, ceiling) and what they take (``samosaic3d_core.memory_structure``)."""

    every_passes: int = 2
    """Consolidation passes (``consolidation.every`` frames apart) between searches for boundary planes
    (0 = no structure handling)."""
    min_area: float = 1.0
    """Square metres of map surface a boundary plane must hold (map voxels within ``band``)."""
    band: float = 0.03
    """Distance (metres) from a plane within which a point lies on it."""
    max_behind: float = 0.02
    """Largest share of the map that may lie behind a boundary plane (beyond ``behind``, on its smaller side)."""
    behind: float = 0.03
    """Distance (metres) beyond which a point lies behind a plane (``band`` where larger). A noisy sensor's
    far walls fuse into slabs a few centimetres thick, whose back half would otherwise count as map
    behind the wall; a table top has the floor tens of centimetres behind it. 0.06 holds the walls of
    noisy long scans (docs/depth_noise.md, "Walls of a noisy map"), but changes rendered maps too
    (`val8` -0.9 AP), so the band's 0.03 stays the default."""
    attach: float = 0.06
    """An object's points on a boundary plane stay the object's only within this distance (metres) of
    its points off the plane (the base of a cabinet on the floor); farther ones, a piece of wall or
    floor a frame model fused with the object, become structure."""
    enclosed: bool = True
    """Points on a wall inside the outline their instance draws on it (``enclosed_on_walls``) stay the
    instance's, and the map's label fill reaches the unlabelled ones there: a shelf's back panel, a
    few millimetres from the wall, between its sides and boards. Chosen on validation with SAM-like
    (``sim``) fragments (mean AP over three mask seeds, six hard scenes / ``val8``: 50.5 / 68.2
    without, 51.2 / 68.7 with; docs/map_quality.md, "A shelf's back panel on the wall")."""
    oversegment_enclosed: bool | None = False
    """``enclosed`` with the weight-free ``oversegment`` mask source (None: the same). Its colour
    pieces fuse walls with what stands against them more often, and the outlines then keep those
    pieces: with them its validation scenes gave 45.4 against 44.7 AP (320x240) and 39.8 against
    41.7 (640x480)."""
    min_share: float = 0.9
    """Share of a frame or map instance's points on one boundary plane that makes it structure (> 1 = never)."""
    max_planes: int = 8
    """Planes searched per pass, the largest first (boundary planes or not)."""
    sample: int = 4000
    """Map voxels sampled per search."""
    hypotheses: int = 64
    """RANSAC hypotheses per plane."""

    def __post_init__(self):
        for name in ("every_passes", "max_planes"):
            if getattr(self, name) < 0:
                raise ValueError(f"structure.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("sample", "hypotheses"):
            if getattr(self, name) < 3:
                raise ValueError(f"structure.{name} must be >= 3, got {getattr(self, name)}")
        for name in ("min_area", "band", "behind", "attach"):
            if getattr(self, name) <= 0:
                raise ValueError(f"structure.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.max_behind <= 1.0:
            raise ValueError(f"structure.max_behind must be in [0, 1], got {self.max_behind}")
        if self.min_share < 0.0:
            raise ValueError(f"structure.min_share must be >= 0, got {self.min_share}")


def find_boundary_planes(xyz: np.ndarray, voxel_size: float, config: StructureConfig, seed: int = 0) -> np.ndarray:
    """Boundary planes of a map: (P, 4) float64 rows (unit normal, offset), ``n . x + d = 0``.

    Args:
        xyz: (V, 3) map voxel centres (one point per voxel of ``voxel_size``).
    The normal of each plane points to the side that holds the map.
    """
    xyz = np.asarray(xyz, np.float64)
    rng = np.random.default_rng(seed)
    sample = xyz[rng.integers(len(xyz), size=config.sample)] if len(xyz) > config.sample else xyz
    if len(sample) < 3:
        return np.zeros((0, 4))
    area_per_point = voxel_size**2 * len(xyz) / len(sample)
    free = np.ones(len(sample), bool)
    behind = max(config.behind, config.band)
    planes = []
    for _ in range(config.max_planes):
        plane = _best_plane(sample[free], config, rng)
        if plane is None:
            break
        dist = sample @ plane[:3] + plane[3]
        on = np.abs(dist) <= config.band
        if (on & free).sum() * area_per_point < config.min_area:
            break
        free &= ~on
        above, below = (dist > behind).mean(), (dist < -behind).mean()
        if min(above, below) <= config.max_behind:
            planes.append(plane if above >= below else -plane)
    return np.asarray(planes, np.float64).reshape(-1, 4)


def _best_plane(points: np.ndarray, config: StructureConfig, rng: np.random.Generator) -> np.ndarray | None:
    """The RANSAC plane with most points within ``band``, refitted to them; None without one."""
    if len(points) < 3:
        return None
    triples = points[rng.integers(len(points), size=(config.hypotheses, 3))]  # (H, 3, 3)
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    length = np.linalg.norm(normals, axis=1)
    ok = length > 1e-9
    if not ok.any():
        return None
    normals = normals[ok] / length[ok, None]
    offsets = -np.einsum("hc,hc->h", normals, triples[ok, 0])
    support = (np.abs(points @ normals.T + offsets) <= config.band).sum(axis=0)
    best = int(support.argmax())
    inliers = points[np.abs(points @ normals[best] + offsets[best]) <= config.band]
    if len(inliers) < 3:
        return None
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][-1]
    return np.append(normal, -normal @ centre)


def plane_shares(xyz: np.ndarray, group: np.ndarray, num_groups: int, planes: np.ndarray, band: float) -> np.ndarray:
    """(G,) the largest share of each group's points that lies within ``band`` of one plane.

    Args: xyz (N, 3); group (N,) int in [0, num_groups) (other values are ignored); planes (P, 4).
    """
    shares = np.zeros(num_groups)
    valid = (group >= 0) & (group < num_groups)
    if len(planes) == 0 or not valid.any():
        return shares
    group = group[valid]
    total = np.maximum(np.bincount(group, minlength=num_groups), 1)
    for on in _on_each_plane(np.asarray(xyz)[valid], planes, band):
        shares = np.maximum(shares, np.bincount(group[on], minlength=num_groups) / total)
    return shares


def detached_on_planes(xyz: np.ndarray, labels: np.ndarray, planes: np.ndarray, band: float, attach: float,
                       enclosed: bool = False) -> np.ndarray:
    """(N,) bool: labelled points (label > 0) on a plane with no point of their own label off the
    planes within ``attach`` metres; with ``enclosed``, not those on a wall inside their instance's
    outline there (``enclosed_on_walls``)."""
    labels = np.asarray(labels)
    on = on_planes(xyz, planes, band) & (labels > 0)
    off = np.flatnonzero(~on & (labels > 0))
    detached = on.copy()
    if not on.any() or len(off) == 0:
        return detached
    from scipy.spatial import cKDTree

    queries = np.flatnonzero(on)
    dist, near = cKDTree(xyz[off]).query(xyz[queries], k=8, distance_upper_bound=attach)
    found = np.isfinite(dist)
    same = found & (labels[off[np.minimum(near, len(off) - 1)]] == labels[queries][:, None])
    detached[queries[same.any(axis=1)]] = False
    if enclosed:
        detached &= ~enclosed_on_walls(xyz, labels, planes, band, attach)
    return detached


@dataclass(frozen=True)
class WallOutline:
    """The outline instance ``label`` draws on wall ``plane`` (``wall_outlines``): a box ``low``..``high``
    in the wall's coordinates (``wall_coordinates``)."""

    plane: np.ndarray
    label: int
    low: np.ndarray
    high: np.ndarray

    def holds(self, xyz: np.ndarray, band: float) -> np.ndarray:
        """(N,) bool: the point lies on this wall (within ``band``) inside the box."""
        on = np.abs(xyz @ self.plane[:3] + self.plane[3]) <= band
        uv = wall_coordinates(xyz, self.plane)
        return on & np.all((uv >= self.low) & (uv <= self.high), axis=1)


def wall_coordinates(xyz: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates of points along a wall: horizontally across it, and height (z)."""
    across = np.cross(plane[:3], (0.0, 0.0, 1.0))
    across /= np.linalg.norm(across)
    return np.stack([xyz @ across, xyz[:, 2]], axis=1)


def wall_outlines(xyz: np.ndarray, labels: np.ndarray, planes: np.ndarray, band: float, reach: float) -> list[WallOutline]:
    """The outline each instance draws on each wall (a plane that is neither floor nor ceiling) that
    it has points on: the box, in the wall's coordinates, of its points off every plane within
    ``reach`` of the wall's band, grown by ``band``. A shelf's sides and boards outline its back
    panel; points on a plane draw none (a strip of the other wall that a cabinet in a corner took
    would outline the wall above the cabinet)."""
    labels = np.asarray(labels)
    xyz = np.asarray(xyz, np.float64)
    planes = np.asarray(planes, np.float64).reshape(-1, 4)
    off_planes = ~on_planes(xyz, planes, band)
    outlines = []
    for plane in planes[np.abs(planes[:, 2]) < FLOOR_NORMAL_Z]:  # walls: neither floor nor ceiling
        dist = np.abs(xyz @ plane[:3] + plane[3])
        on = (dist <= band) & (labels > 0)
        if not on.any():
            continue
        near = off_planes & (dist <= band + reach) & (labels > 0)
        uv = wall_coordinates(xyz[near], plane)
        for label in np.intersect1d(labels[on], labels[near]).tolist():
            drawn = uv[labels[near] == label]
            outlines.append(WallOutline(plane, label, drawn.min(axis=0) - band, drawn.max(axis=0) + band))
    return outlines


def enclosed_on_walls(xyz: np.ndarray, labels: np.ndarray, planes: np.ndarray, band: float, reach: float,
                      outlines: list[WallOutline] | None = None) -> np.ndarray:
    """(N,) bool: labelled points on a wall inside the outline their own instance draws on it
    (``wall_outlines``, or the given ``outlines``). A shelf's back panel a few millimetres from the
    wall lies within its sides and boards; a piece of wall beside an object does not."""
    labels = np.asarray(labels)
    xyz = np.asarray(xyz, np.float64)
    if outlines is None:
        outlines = wall_outlines(xyz, labels, planes, band, reach)
    inside = np.zeros(len(labels), bool)
    for outline in outlines:
        mine = np.flatnonzero(labels == outline.label)
        inside[mine[outline.holds(xyz[mine], band)]] = True
    return inside


def within_outlines(xyz: np.ndarray, outlines: list[WallOutline], band: float) -> np.ndarray:
    """(N,) bool: the point lies on a wall inside any instance's outline there."""
    xyz = np.asarray(xyz, np.float64)
    inside = np.zeros(len(xyz), bool)
    for outline in outlines:
        inside |= outline.holds(xyz, band)
    return inside


def on_planes(xyz: np.ndarray, planes: np.ndarray, band: float) -> np.ndarray:
    """(N,) bool: the point lies within ``band`` of some plane."""
    return _on_each_plane(xyz, planes, band).any(axis=0)


def _on_each_plane(xyz: np.ndarray, planes: np.ndarray, band: float) -> np.ndarray:
    """(P, N) bool: point n lies within ``band`` of plane p."""
    planes = np.asarray(planes, np.float64).reshape(-1, 4)
    return np.abs(np.asarray(xyz, np.float64) @ planes[:, :3].T + planes[:, 3]).T <= band
