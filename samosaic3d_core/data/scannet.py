"""Read posed RGB-D scenes in ScanNet's frame layouts (real exports and our synthetic scenes).

Accepted layouts of one scene folder:

1. ``scannet_frames_25k`` (also what ``samosaic3d make-data`` writes)::

       <scene>/color/000000.jpg (or .png)   depth/000000.png   pose/000000.txt
       <scene>/intrinsics_depth.txt (or only intrinsics_color.txt)   4x4
       <scene>/instance/000000.png   optional, 8/16-bit, 0 = unlabeled
       <scene>/part/000000.png       optional, 16-bit part ids (synthetic scenes)
       <scene>/pose_true/000000.txt  optional, true poses when pose/ holds a tracker's (synthetic
                                     scenes); read into ``Frame.true_pose`` for diagnostics

2. SensReader export (``reader.py --export_color_images --export_depth_images ...``)::

       <scene>/color/0.jpg   depth/0.png   pose/0.txt        (no zero padding)
       <scene>/intrinsic/intrinsic_depth.txt (and intrinsic_color.txt)   4x4

Frames are sorted by their number. Depth must be a 16-bit PNG (``depth_scale`` units
per metre, millimetres by default). Colour whose size differs from depth is resized
to the depth grid with ``cv2.INTER_AREA`` when both have the same aspect ratio
(within 1 %, e.g. ScanNet's 1296x968 colour and 640x480 depth); otherwise it is an
error. Intrinsics are those of the depth image: ``intrinsics_depth.txt`` /
``intrinsic_depth.txt`` if present, else the colour intrinsics scaled to the depth
size. Frames whose pose contains inf/nan (lost tracking in real ScanNet) are
skipped with one warning; any other malformed input raises ValueError naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from samosaic3d_core.types import CameraIntrinsics, Frame, check_rigid

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # relative aspect-ratio difference up to which colour is resized onto depth
FRAME_RATE = 30.0  # ScanNet's capture rate; timestamp = frame number / FRAME_RATE
COLOR_SUFFIXES = (".jpg", ".png", ".jpeg")
REQUIRED_DIRS = ("color", "depth", "pose")


def is_scene(path: Path) -> bool:
    """True when ``path`` has the color/, depth/ and pose/ folders of a scene."""
    return all((path / sub).is_dir() for sub in REQUIRED_DIRS)


def list_scenes(root: str | Path) -> list[Path]:
    """Scene folders under ``root`` (sorted), or ``[root]`` when ``root`` is itself a scene."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (expected a scene folder or a folder of scenes)")
    if is_scene(root):
        return [root]
    scenes = sorted(p for p in root.iterdir() if p.is_dir() and is_scene(p))
    if not scenes:
        raise ValueError(f"{root}: no scenes found; expected <root>/<scene>/{{color,depth,pose}}/ "
                         "(scannet_frames_25k or SensReader export) or a scene folder itself")
    return scenes


def _frame_number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        raise ValueError(f"{path}: frame files must be named by their number (e.g. 000100.png or 100.png)") from None


def read_matrix(path: Path) -> np.ndarray:
    """A whitespace-separated text matrix; ValueError naming ``path`` if missing or not numeric."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        return np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: not a numeric text matrix ({err})") from None


def read_depth(path: Path, depth_scale: float) -> np.ndarray:
    """(H, W) float32 metres from a 16-bit PNG; 0 = no measurement."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if raw is None:
        raise ValueError(f"{path}: cannot read depth image (missing, empty or corrupt)")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f"{path}: depth must be a single-channel 16-bit PNG, got {raw.dtype} with shape "
                         f"{raw.shape}; re-export depth as uint16 millimetres")
    return raw.astype(np.float32) / np.float32(depth_scale)


def read_ids(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 id image (8- or 16-bit PNG) that must have the depth ``shape``."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if raw is None:
        raise ValueError(f"{path}: cannot read id image (missing, empty or corrupt)")
    if raw.ndim != 2 or raw.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: id image must be single-channel 8/16-bit, got {raw.dtype} {raw.shape}")
    if raw.shape != shape:
        raise ValueError(f"{path}: id image is {raw.shape[1]}x{raw.shape[0]}, depth is {shape[1]}x{shape[0]}")
    return raw.astype(np.int32)


class SceneReader:
    """Frames of one scene folder, in either accepted layout (see the module docstring).

    ``reader[i]`` is the i-th valid frame after ``stride``; ``Frame.index`` is the file's frame number.
    """

    def __init__(self, scene_dir: str | Path, depth_scale: float = 1000.0, stride: int = 1):
        self.root = Path(scene_dir)
        self.name = self.root.name
        self.depth_scale = float(depth_scale)
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        for sub in REQUIRED_DIRS:
            if not (self.root / sub).is_dir():
                raise ValueError(f"{self.root / sub}: folder not found; a scene needs color/, depth/ and pose/")
        depth_files = sorted((self.root / "depth").glob("*.png"), key=_frame_number)
        if not depth_files:
            raise ValueError(f"{self.root / 'depth'}: no depth PNGs found")
        self.has_instances = (self.root / "instance").is_dir()
        self.has_parts = (self.root / "part").is_dir()
        self.has_true_poses = (self.root / "pose_true").is_dir()
        self._stems: list[str] = []
        self._poses: list[np.ndarray] = []
        skipped = []
        for depth_path in depth_files[::stride]:
            pose_path = self.root / "pose" / f"{depth_path.stem}.txt"
            pose = read_matrix(pose_path)
            if pose.shape == (4, 4) and not np.all(np.isfinite(pose)):
                skipped.append(pose_path.name)
                continue
            self._poses.append(check_rigid(pose, str(pose_path)))
            self._stems.append(depth_path.stem)
        if skipped:
            log.warning("%s: skipping %d frame(s) with invalid (inf/nan) poses: %s", self.root, len(skipped),
                        ", ".join(skipped))
        height, width = read_depth(depth_files[0], self.depth_scale).shape
        self.intrinsics = self._read_intrinsics(width, height)

    def _read_intrinsics(self, width: int, height: int) -> CameraIntrinsics:
        for depth_k in (self.root / "intrinsics_depth.txt", self.root / "intrinsic" / "intrinsic_depth.txt"):
            if depth_k.is_file():
                return CameraIntrinsics.from_matrix(self._k(depth_k), width, height)
        for color_k in (self.root / "intrinsics_color.txt", self.root / "intrinsic" / "intrinsic_color.txt"):
            if color_k.is_file():
                color_size = self._color_size()
                return CameraIntrinsics.from_matrix(self._k(color_k), *color_size).scaled(width, height)
        raise ValueError(f"{self.root}: no intrinsics found; expected intrinsics_depth.txt / intrinsics_color.txt "
                         "or intrinsic/intrinsic_depth.txt")

    @staticmethod
    def _k(path: Path) -> np.ndarray:
        k = read_matrix(path)
        if k.shape not in ((3, 3), (4, 4)) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError(f"{path}: expected a 3x3 or 4x4 intrinsic matrix with positive focal lengths")
        return k

    def _color_path(self, stem: str) -> Path:
        for suffix in COLOR_SUFFIXES:
            path = self.root / "color" / f"{stem}{suffix}"
            if path.is_file():
                return path
        raise ValueError(f"{self.root / 'color' / stem}.jpg: colour image not found (also tried .png, .jpeg)")

    def _color_size(self) -> tuple[int, int]:
        image = cv2.imread(str(self._color_path(self._stems[0])), cv2.IMREAD_COLOR) if self._stems else None
        if image is None:
            raise ValueError(f"{self.root / 'color'}: cannot read a colour image to size the colour intrinsics")
        return image.shape[1], image.shape[0]

    def __len__(self) -> int:
        return len(self._stems)

    def __iter__(self) -> Iterator[Frame]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: int) -> Frame:
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.name}: frame {i} out of range ({len(self)} frames)")
        stem = self._stems[i]
        depth_path = self.root / "depth" / f"{stem}.png"
        depth = read_depth(depth_path, self.depth_scale)
        shape = depth.shape
        if shape != (self.intrinsics.height, self.intrinsics.width):
            raise ValueError(f"{depth_path}: depth is {shape[1]}x{shape[0]}, the scene's first depth image is "
                             f"{self.intrinsics.width}x{self.intrinsics.height}")
        rgb = self._read_color(self._color_path(stem), depth_path, shape)
        number = int(stem)
        frame = Frame(rgb=rgb, depth=depth, pose=self._poses[i], intrinsics=self.intrinsics,
                      timestamp=number / FRAME_RATE, index=number)
        if self.has_instances:
            frame.instance_gt = read_ids(self.root / "instance" / f"{stem}.png", shape)
        if self.has_parts:
            frame.part_gt = read_ids(self.root / "part" / f"{stem}.png", shape)
        if self.has_true_poses:
            true_path = self.root / "pose_true" / f"{stem}.txt"
            frame.true_pose = check_rigid(read_matrix(true_path), str(true_path))
        return frame

    @staticmethod
    def _read_color(path: Path, depth_path: Path, shape: tuple[int, int]) -> np.ndarray:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: cannot read colour image (empty or corrupt)")
        h, w = shape
        ch, cw = bgr.shape[:2]
        if (ch, cw) != (h, w):
            if abs((cw / ch) / (w / h) - 1.0) > ASPECT_TOLERANCE:
                raise ValueError(f"{path} ({cw}x{ch}) and {depth_path} ({w}x{h}): colour and depth sizes differ "
                                 "and their aspect ratios do not match; register colour to depth first")
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(bgr[:, :, ::-1])
