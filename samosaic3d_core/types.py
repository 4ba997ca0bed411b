"""The few dataclasses every module speaks.

Conventions (everywhere in the project):
  * lengths in metres, times in seconds;
  * camera frames follow OpenCV (x right, y down, z forward);
  * ``pose`` is camera-to-world, a rigid 4x4 matrix (float64);
  * instance id 0 means "unlabeled / no instance"; real ids start at 1;
  * fragment index -1 means "no fragment".

Containers with per-element fields (``FramePoints``, ``Fragments``, ``Instances``, ``SceneMap``;
see ``FieldContainer``) keep all fields the same length and support boolean / index selection,
in the spirit of detectron2's ``Instances``: ``inst[inst.scores > 0.5]``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of an image of ``width`` x ``height`` pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) float64 K matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_matrix(cls, k: np.ndarray, width: int, height: int) -> "CameraIntrinsics":
        """From a 3x3 or 4x4 K matrix (ScanNet writes 4x4)."""
        k = np.asarray(k, dtype=np.float64)
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height))

    def scaled(self, width: int, height: int) -> "CameraIntrinsics":
        """Intrinsics of the same camera resized to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, int(width), int(height))


def check_rigid(pose: np.ndarray, name: str = "pose", tol: float = 1e-3) -> np.ndarray:
    """Return ``pose`` as float64 (4, 4) or raise ValueError naming ``name``.

    Rigid means finite, last row [0 0 0 1], rotation orthonormal with det +1.
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4):
        raise ValueError(f"{name}: expected a 4x4 matrix, got shape {pose.shape}")
    if not np.all(np.isfinite(pose)):
        raise ValueError(f"{name}: pose contains inf/nan (invalid tracking frame)")
    if not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0], atol=tol):
        raise ValueError(f"{name}: last row must be [0 0 0 1], got {pose[3].tolist()}")
    rot = pose[:3, :3]
    if not np.allclose(rot @ rot.T, np.eye(3), atol=tol) or np.linalg.det(rot) < 0:
        raise ValueError(f"{name}: rotation part is not orthonormal with det +1 (non-rigid pose)")
    return pose


@dataclass
class Frame:
    """One posed RGB-D observation.

    rgb:        (H, W, 3) uint8
    depth:      (H, W) float32 metres, 0 = no measurement
    pose:       (4, 4) float64 camera-to-world (OpenCV camera)
    intrinsics: of the depth image (rgb is registered to it)
    timestamp:  seconds
    instance_gt / part_gt: optional (H, W) int32 ground truth, 0 = unlabeled
    true_pose:  optional (4, 4) ground-truth camera-to-world pose when ``pose`` is a tracker's
                estimate (synthetic scenes, scenes with a ``pose_true/`` folder); diagnostics only
    """

    rgb: np.ndarray
    depth: np.ndarray
    pose: np.ndarray
    intrinsics: CameraIntrinsics
    timestamp: float = 0.0
    index: int = 0
    instance_gt: Optional[np.ndarray] = None
    part_gt: Optional[np.ndarray] = None
    true_pose: Optional[np.ndarray] = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape[0], self.depth.shape[1]

    def validate(self, name: str = "frame") -> "Frame":
        """Raise ValueError with a specific message if the frame is malformed."""
        h, w = self.depth.shape[:2] if self.depth.ndim == 2 else (None, None)
        if self.depth.ndim != 2:
            raise ValueError(f"{name}: depth must be (H, W), got shape {self.depth.shape}")
        if self.depth.dtype != np.float32:
            raise ValueError(f"{name}: depth must be float32 metres, got {self.depth.dtype}")
        if self.rgb.shape != (h, w, 3) or self.rgb.dtype != np.uint8:
            raise ValueError(
                f"{name}: rgb must be uint8 ({h}, {w}, 3) to match depth, got {self.rgb.dtype} {self.rgb.shape}"
            )
        if (self.intrinsics.width, self.intrinsics.height) != (w, h):
            raise ValueError(
                f"{name}: intrinsics are for {self.intrinsics.width}x{self.intrinsics.height}, depth is {w}x{h}"
            )
        check_rigid(self.pose, f"{name} pose")
        if self.true_pose is not None:
            check_rigid(self.true_pose, f"{name} true_pose")
        for gt_name in ("instance_gt", "part_gt"):
            gt = getattr(self, gt_name)
            if gt is not None and gt.shape != (h, w):
                raise ValueError(f"{name}: {gt_name} shape {gt.shape} does not match depth ({h}, {w})")
        return self


class MaskResult:
    """2D masks of one frame, as a mask source returns them.

    masks:        (K, H, W) bool, may overlap
    scores:       (K,) float32 in [0, 1]
    fragment_map: (H, W) int32, index into ``masks`` or -1; resolves overlaps
                  (each pixel belongs to at most one fragment) and is what lifting uses.

    Sources whose masks never overlap (label images) pass ``masks=None``: the (K, H, W) array is
    then built from the fragment map on first use, so a frame that is only lifted (the node, a
    run) never pays for K full-size images.
    """

    __slots__ = ("_masks", "scores", "fragment_map")

    def __init__(self, masks: np.ndarray | None, scores: np.ndarray, fragment_map: np.ndarray):
        self._masks = masks
        self.scores = scores
        self.fragment_map = fragment_map
        if masks is not None and len(scores) != len(masks):
            raise ValueError(f"MaskResult: {len(masks)} masks but {len(scores)} scores; give one score per mask")
        if masks is None and len(scores) and int(fragment_map.max()) >= len(scores):
            raise ValueError(
                f"MaskResult: the fragment map indexes mask {int(fragment_map.max())} but there are {len(scores)} scores"
            )

    @property
    def masks(self) -> np.ndarray:
        if self._masks is None:
            index = np.arange(len(self.scores), dtype=np.int32)[:, None, None]
            self._masks = self.fragment_map[None] == index
        return self._masks

    def __len__(self) -> int:
        return int(len(self.scores))

    def __repr__(self) -> str:
        return f"MaskResult({len(self)} masks, {self.fragment_map.shape[1]}x{self.fragment_map.shape[0]})"


class FieldContainer:
    """Mixin for dataclasses whose array fields are per-element: one entry per element along axis 0.

    All fields that are not None must have the same length, checked on construction and when a
    field is reassigned (ValueError naming the fields and their lengths). ``len(c)`` is that
    length; ``c[sel]`` selects elements of every field at once, with a boolean mask, an integer
    index array, a slice or one integer (a container of one element), e.g.
    ``inst[inst.scores > 0.5]``. Fields that are None stay None. Fields named in ``PAIRWISE`` are
    (K, K) tables over pairs of elements: selection picks their rows and columns.
    """

    PAIRWISE: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        lengths = {name: len(value) for name, value in self._present()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
            raise ValueError(
                f"{type(self).__name__}: fields must have one entry per element, got lengths {listed}"
            )
        object.__setattr__(self, "_checked", True)

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_checked", False) and value is not None and name in self._field_names():
            others = [(n, len(v)) for n, v in self._present() if n != name]
            if others and len(value) != others[0][1]:
                raise ValueError(
                    f"{type(self).__name__}.{name}: got {len(value)} entries, the other fields "
                    f"({others[0][0]}, ...) have {others[0][1]}"
                )
        super().__setattr__(name, value)

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def _present(self) -> list[tuple[str, object]]:
        """(name, value) of the fields that are not None, in declaration order."""
        return [(name, getattr(self, name)) for name in self._field_names() if getattr(self, name) is not None]

    def __len__(self) -> int:
        present = self._present()
        return len(present[0][1]) if present else 0

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            n = len(self)
            if not -n <= item < n:
                raise IndexError(f"{type(self).__name__} index {int(item)} out of range for {n} elements")
            item = [int(item)]
        elif not isinstance(item, slice):
            item = np.asarray(item)
            if item.dtype == bool and item.shape != (len(self),):
                raise IndexError(
                    f"{type(self).__name__}: boolean mask of shape {item.shape} for {len(self)} elements"
                )
            if item.size == 0:
                item = item.astype(np.int64)  # [] is float64 to numpy
        values = {name: getattr(self, name) for name in self._field_names()}
        picked = {name: None if v is None else v[item] for name, v in values.items()}
        for name in self.PAIRWISE:
            if picked[name] is not None:
                picked[name] = picked[name][:, item]
        return type(self)(**picked)


@dataclass
class FramePoints(FieldContainer):
    """The back-projected, downsampled points of one frame (N of them).

    xyz:      (N, 3) float32 world coordinates, metres
    rgb:      (N, 3) uint8
    pixel:    (N,) int64 flat pixel index ``v * W + u`` in the frame
    fragment: (N,) int32 index into the frame's fragments / masks, -1 = none
    """

    xyz: np.ndarray
    rgb: np.ndarray
    pixel: np.ndarray
    fragment: np.ndarray


@dataclass
class Fragments(FieldContainer):
    """M 3D fragments (lifted 2D masks) of one frame.

    mask_index: (M,) int64 index into the MaskResult
    centroid:   (M, 3) float32 world
    box_min / box_max: (M, 3) float32 axis-aligned world box
    num_points: (M,) int64 points of the frame's FramePoints inside
    score:      (M,) float32 mask score
    feats:      (M, C) float32 or None (colour statistics or learned features)
    """

    mask_index: np.ndarray
    centroid: np.ndarray
    box_min: np.ndarray
    box_max: np.ndarray
    num_points: np.ndarray
    score: np.ndarray
    feats: Optional[np.ndarray] = None

    @property
    def boxes(self) -> np.ndarray:
        """(M, 6) min xyz, max xyz: ``box_min`` and ``box_max`` in the layout of ``geometry.boxes``."""
        return np.concatenate([self.box_min, self.box_max], axis=1)


@dataclass
class Instances(FieldContainer):
    """K instances (of a frame, or of the map).

    ids:        (K,) int64, map ids (>= 1) once associated; frame-local ids before
    scores:     (K,) float32 in [0, 1]
    box_min / box_max: (K, 3) float32 world
    num_points: (K,) int64
    feats:      (K, C) float32 or None
    centroid:   (K, 3) float32 or None
    first_seen / last_seen: (K,) float64 timestamps (seconds) or None
    tier:       (K,) int8 memory tier (0 = short-term, 1 = long-term) or None
    linkage:    (K, K) float32 or None: of a frame's instances, how strongly the frame model would
                have grouped each two (the mean grouping affinity between their fragments, 1 on the
                diagonal); the associator keeps instances it holds apart in different map instances
    concave:    (K, K) bool or None: of a frame's instances, which two meet at a concave angle
                (``geometry.instance_concavity``: an object and what it stands on or in)
    """

    PAIRWISE: ClassVar[tuple[str, ...]] = ("linkage", "concave")

    ids: np.ndarray
    scores: np.ndarray
    box_min: np.ndarray
    box_max: np.ndarray
    num_points: np.ndarray
    feats: Optional[np.ndarray] = None
    centroid: Optional[np.ndarray] = None
    first_seen: Optional[np.ndarray] = None
    last_seen: Optional[np.ndarray] = None
    tier: Optional[np.ndarray] = None
    linkage: Optional[np.ndarray] = None
    concave: Optional[np.ndarray] = None

    @property
    def boxes(self) -> np.ndarray:
        """(K, 6) min xyz, max xyz: ``box_min`` and ``box_max`` in the layout of ``geometry.boxes``."""
        return np.concatenate([self.box_min, self.box_max], axis=1)

    @classmethod
    def empty(cls, feat_dim: Optional[int] = None) -> "Instances":
        z3 = np.zeros((0, 3), np.float32)
        feats = None if feat_dim is None else np.zeros((0, feat_dim), np.float32)
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), z3, z3.copy(), np.zeros(0, np.int64), feats)


@dataclass
class SceneMap(FieldContainer):
    """The instance-labelled map (P points).

    xyz:          (P, 3) float32 world
    rgb:          (P, 3) uint8
    instance_ids: (P,) int32, 0 = no instance
    scores:       (P,) float32, score of the point's instance (0 where none)
    """

    xyz: np.ndarray
    rgb: np.ndarray
    instance_ids: np.ndarray
    scores: np.ndarray


@dataclass
class StepResult:
    """What ``OnlineSegmenter.step`` returns for one frame.

    points:          the frame's points (with their fragment index)
    masks:           the 2D masks the frame was cut into
    fragments:       the lifted 3D fragments
    frame_instances: instances found in this frame; ``ids`` are map ids after association
    point_instance:  (N,) int32 map id per frame point, 0 = none
    created / updated: map ids created / updated by this frame
    timings:         seconds per stage, e.g. {"masks": 0.01, "lift": 0.002, ...}
    pose_correction: ``pose_refine.PoseCorrection``: the tracker's pose, the pose the frame was
                     fused with and whether refinement against the map changed it
    """

    points: FramePoints
    masks: MaskResult
    fragments: Fragments
    frame_instances: Instances
    point_instance: np.ndarray
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    pose_correction: Optional[Any] = None
