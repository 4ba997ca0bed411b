"""Ray-cast RGB, z-depth, instance and part ids of a furnished room (Open3D, CPU).

Ray directions are ``R_cw @ [(u - cx) / fx, (v - cy) / fy, 1]``: their camera-z
component is 1, so the hit distance ``t_hit`` *is* the z-depth. Colour is
Lambert shading of a per-part base colour with a low-frequency texture, one or
two point lights near the ceiling and an ambient term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from samosaic3d_core.data.synth.config import SynthConfig
from samosaic3d_core.data.synth.layout import Layout
from samosaic3d_core.types import CameraIntrinsics

TEXTURE_WAVES = 3  # sinusoids summed into each part's texture
TEXTURE_FREQ = (2.0, 9.0)  # range of texture spatial frequencies, radians per metre


@dataclass
class RenderOutput:
    """One rendered view, all (H, W).

    depth:    float32 true z-depth in metres, 0 where no surface was hit
    rgb:      uint8 (H, W, 3)
    instance: int32 instance id, 0 = room shell / nothing
    part:     int32 part id, 0 = room shell / nothing
    geometry: int64 ray-caster geometry id, -1 = nothing (see ``Renderer.geometry_names``)
    """

    depth: np.ndarray
    rgb: np.ndarray
    instance: np.ndarray
    part: np.ndarray
    geometry: np.ndarray


def _mul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3) @ (3, M) by broadcasting: much faster than BLAS for tiny inner sizes on a busy CPU."""
    return a[:, 0:1] * b[0] + a[:, 1:2] * b[1] + a[:, 2:3] * b[2]


class Renderer:
    """Holds the ray-casting scene of one layout; ``render(pose)`` draws one view."""

    def __init__(self, layout: Layout, intrinsics: CameraIntrinsics, config: SynthConfig, rng: np.random.Generator):
        self.intrinsics = intrinsics
        self.threads = config.threads
        self.scene = o3d.t.geometry.RaycastingScene()
        self.geometry_names: list[str] = []
        part_ids, instance_ids, colors = [], [], []
        entries = [(name, part, 0, 0) for name, part in layout.shell.items()]
        entries += [(obj.category, p, p.part_id, obj.instance_id) for obj in layout.objects for p in obj.parts]
        for name, part, part_id, instance_id in entries:
            gid = self.scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(part.mesh))
            assert gid == len(self.geometry_names), "open3d assigns geometry ids sequentially"
            self.geometry_names.append(name)
            part_ids.append(part_id)
            instance_ids.append(instance_id)
            colors.append(part.color)
        # index G (one past the last geometry) stands for "no hit"
        self._part = np.array(part_ids + [0], np.int32)
        self._instance = np.array(instance_ids + [0], np.int32)
        self._color = np.array(colors + [np.zeros(3)], np.float32)
        self._phase = rng.uniform(0, 2 * np.pi, (len(colors) + 1, TEXTURE_WAVES)).astype(np.float32)
        dirs = rng.normal(size=(TEXTURE_WAVES, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        self._waves = (dirs * rng.uniform(*TEXTURE_FREQ, (TEXTURE_WAVES, 1))).astype(np.float32)
        self._texture_amplitude = np.float32(config.texture_amplitude)
        self._ambient = np.float32(config.ambient)
        sx, sy, h = layout.size
        n_lights = int(np.clip(config.light_count, 1, 2))
        self._lights = np.stack([[rng.uniform(0.2, 0.8) * sx, rng.uniform(0.2, 0.8) * sy, h - 0.2]
                                 for _ in range(n_lights)]).astype(np.float32)
        self._light_gain = np.float32((1.0 - config.ambient) * 1.25 / n_lights)
        k = intrinsics
        u, v = np.meshgrid(np.arange(k.width, dtype=np.float64), np.arange(k.height, dtype=np.float64))
        cam_dirs = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1).reshape(-1, 3)
        self._cam_dirs = cam_dirs.astype(np.float32)  # (H*W, 3)

    def render(self, pose: np.ndarray) -> RenderOutput:
        """Draw the view of the camera at ``pose`` (4x4 camera-to-world)."""
        h, w = self.intrinsics.height, self.intrinsics.width
        rays = np.empty((len(self._cam_dirs), 6), np.float32)
        rays[:, :3] = pose[:3, 3]
        rays[:, 3:] = _mul3(self._cam_dirs, pose[:3, :3].T.astype(np.float32))  # camera z = 1
        dirs = rays[:, 3:]
        ans = self.scene.cast_rays(o3d.core.Tensor(rays), nthreads=self.threads)
        t_hit = ans["t_hit"].numpy()
        gid = ans["geometry_ids"].numpy().astype(np.int64)
        hit = np.isfinite(t_hit) & (gid != o3d.t.geometry.RaycastingScene.INVALID_ID)
        gid = np.where(hit, gid, len(self._part) - 1)
        depth = np.where(hit, t_hit, np.float32(0.0))

        normals = ans["primitive_normals"].numpy()
        # flip normals towards the camera
        normals *= np.where(np.einsum("ij,ij->i", normals, dirs) > 0, np.float32(-1), np.float32(1))[:, None]
        points = rays[:, :3] + dirs * depth[:, None]  # (N, 3) world
        shade = np.full(len(depth), self._ambient, np.float32)
        for light in self._lights:
            to_light = light - points
            dist = np.sqrt(np.einsum("ij,ij->i", to_light, to_light)) + np.float32(1e-6)
            lambert = np.einsum("ij,ij->i", normals, to_light) / dist
            shade += self._light_gain * np.maximum(lambert, np.float32(0.0))
        waves = np.sin(_mul3(points, self._waves.T) + self._phase[gid])  # (N, TEXTURE_WAVES)
        texture = 1.0 + (self._texture_amplitude / TEXTURE_WAVES) * waves.sum(axis=1)
        rgb = self._color[gid] * (shade * texture * 255.0 * hit)[:, None]
        rgb8 = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        return RenderOutput(
            depth=depth.reshape(h, w),
            rgb=rgb8.reshape(h, w, 3),
            instance=self._instance[gid].reshape(h, w),
            part=self._part[gid].reshape(h, w),
            geometry=np.where(hit, gid, -1).reshape(h, w),
        )
