"""Procedural indoor RGB-D scenes with instance and part ground truth.

    scene = generate_scene(SynthConfig(width=160, height=120, frames=10), seed=0)
    for frame in scene: ...            # samosaic3d_core.types.Frame, instance_gt/part_gt filled
    write_scene(scene, out_dir)         # scannet_frames_25k layout + part/ + scene.json
"""

from samosaic3d_core.data.synth.config import SensorConfig, SynthConfig
from samosaic3d_core.data.synth.scene import SynthScene, generate_scene, scene_name
from samosaic3d_core.data.synth.writer import write_scene

__all__ = ["SensorConfig", "SynthConfig", "SynthScene", "generate_scene", "scene_name", "write_scene"]
