"""``generate_scene``: a furnished room, a scan trajectory and frames rendered on demand."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from samosaic3d_core.data.synth.config import SynthConfig
from samosaic3d_core.data.synth.layout import Layout, furnish
from samosaic3d_core.data.synth.render import Renderer, RenderOutput
from samosaic3d_core.data.synth.sensor import apply_depth, apply_pose
from samosaic3d_core.data.synth.trajectory import scan_trajectory
from samosaic3d_core.data.tracking_error import tracker_poses
from samosaic3d_core.types import CameraIntrinsics, Frame

_SENSOR_STREAM = 1  # rng stream tags, so that the same frame gets the same noise whatever the access order
_POSE_STREAM = 2
_TRACKING_STREAM = 3


def scene_name(seed: int, index: int = 0) -> str:
    """``synth_s<seed>_<index:03d>``."""
    return f"synth_s{seed}_{index:03d}"


class SynthScene:
    """A generated scene: ``len(scene)`` frames, ``scene.frame(i)`` renders frame i.

    Attributes:
        name: ``synth_s<seed>_<index:03d>``
        intrinsics: of every frame
        objects: list of dicts ``{instance_id, category, parts: [{part_id, shape}]}``
        layout: the furnished room (meshes, room size)
        true_poses: (F, 4, 4) camera-to-world poses the frames are rendered from
        poses: (F, 4, 4) poses reported in the frames: ``true_poses`` with the configured tracking error
               (drift, jitter, jumps) and independent pose noise
    """

    def __init__(self, config: SynthConfig, seed: int, index: int, layout: Layout, true_poses: np.ndarray,
                 renderer: Renderer):
        self.config = config
        self.seed = seed
        self.index = index
        self.name = scene_name(seed, index)
        self.intrinsics: CameraIntrinsics = config.intrinsics
        self.layout = layout
        self.true_poses = true_poses
        self.renderer = renderer
        self.objects = [
            {"instance_id": o.instance_id, "category": o.category,
             "parts": [{"part_id": p.part_id, "shape": p.shape} for p in o.parts]}
            for o in layout.objects
        ]
        tracked = tracker_poses(true_poses, config.sensor.tracking,
                                np.random.default_rng([seed, index, _TRACKING_STREAM]))
        self.poses = np.stack([
            apply_pose(pose, config.sensor, self._rng(_POSE_STREAM, i)) for i, pose in enumerate(tracked)
        ])

    def _rng(self, stream: int, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.index, stream, i])

    def __len__(self) -> int:
        return len(self.true_poses)

    def render(self, i: int) -> RenderOutput:
        """Noise-free rendering of frame ``i`` (true depth, geometry ids)."""
        return self.renderer.render(self.true_poses[i])

    def frame(self, i: int) -> Frame:
        """Frame ``i`` with sensor options applied and instance_gt / part_gt filled."""
        if not 0 <= i < len(self):
            raise IndexError(f"{self.name}: frame {i} out of range (scene has {len(self)} frames)")
        view = self.render(i)
        depth = apply_depth(view.depth, view.rgb, self.config.sensor, self._rng(_SENSOR_STREAM, i))
        return Frame(rgb=view.rgb, depth=depth, pose=self.poses[i].copy(), intrinsics=self.intrinsics,
                     timestamp=i / self.config.fps, index=i, instance_gt=view.instance, part_gt=view.part,
                     true_pose=self.true_poses[i].copy())

    def __iter__(self) -> Iterator[Frame]:
        return (self.frame(i) for i in range(len(self)))


def generate_scene(config: SynthConfig, seed: int, index: int = 0) -> SynthScene:
    """Scene ``index`` of the set drawn from ``seed``; the same arguments give the same scene bit for bit."""
    rng = np.random.default_rng([seed, index])
    layout = furnish(config, rng)
    poses = scan_trajectory(config, layout, rng)
    renderer = Renderer(layout, config.intrinsics, config, rng)
    return SynthScene(config, seed, index, layout, poses, renderer)
