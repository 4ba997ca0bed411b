"""Furnish a room: furniture groups placed by rejection sampling on 2D footprints.

The groups (``groups.py``, ``kitchen.py``) hold the hard cases; the style (``styles.py``,
``SynthConfig.style``) picks which groups furnish a room. The room shell (floor, walls,
ceiling, door, window frame) is unlabeled: instance 0, part 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samosaic3d_core.data.synth import furniture as fn
from samosaic3d_core.data.synth.config import SynthConfig
from samosaic3d_core.data.synth.furniture import Part, SceneObject
from samosaic3d_core.data.synth.groups import Group, rotz
from samosaic3d_core.data.synth.styles import get_style


@dataclass
class Layout:
    """A furnished room. The room spans [0, size_x] x [0, size_y] x [0, height]; the floor is z = 0."""

    size: tuple[float, float, float]
    shell: dict[str, Part]
    objects: list[SceneObject]
    footprints: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)
    """Per placed group: (xy min, xy max, top height), for keeping the camera out of furniture."""


def room_shell(rng: np.random.Generator, sx: float, sy: float, h: float) -> dict[str, Part]:
    """Floor (top face exactly at z = 0), ceiling, 4 walls, a door and a window frame."""
    t = 0.1
    wall = fn.pick_color(rng, "white")
    shell = {
        "floor": fn.box((-t, -t, -t), (sx + t, sy + t, 0.0), fn.pick_color(rng, rng.choice(["wood", "metal"]))),
        "ceiling": fn.box((-t, -t, h), (sx + t, sy + t, h + t), fn.pick_color(rng, "white")),
        "wall_x0": fn.box((-t, 0.0, 0.0), (0.0, sy, h), wall),
        "wall_x1": fn.box((sx, 0.0, 0.0), (sx + t, sy, h), wall),
        "wall_y0": fn.box((0.0, -t, 0.0), (sx, 0.0, h), np.clip(wall * 0.95, 0, 1)),
        "wall_y1": fn.box((0.0, sy, 0.0), (sx, sy + t, h), np.clip(wall * 0.97, 0, 1)),
    }
    door_x = rng.uniform(0.3, sx - 1.3)
    shell["door"] = fn.box((door_x, 0.0, 0.0), (door_x + 0.9, 0.015, 2.05), fn.pick_color(rng, "wood"))
    wy, frame = rng.uniform(0.5, sy - 1.7), fn.pick_color(rng, rng.choice(["white", "dark"]))
    x = sx - 0.015  # the frame stands out of the wall by 1.5 cm
    for name, lo, hi in (("window_bottom", (x, wy, 0.9), (sx, wy + 1.2, 0.96)),
                         ("window_top", (x, wy, 1.94), (sx, wy + 1.2, 2.0)),
                         ("window_left", (x, wy, 0.96), (sx, wy + 0.06, 1.94)),
                         ("window_right", (x, wy + 1.14, 0.96), (sx, wy + 1.2, 1.94))):
        shell[name] = fn.box(lo, hi, frame)
    shell["window_glass"] = fn.box((x + 0.01, wy + 0.06, 0.96), (sx, wy + 1.14, 1.94), np.array([0.55, 0.7, 0.8]))
    return shell


def _place(rng, group: Group, size, placed, gap: float, wall_gap: tuple[float, float]):
    """A 4x4 placement of ``group`` with a free footprint, or None; ``wall_gap``: range of the gap to the wall."""
    sx, sy = size
    pts = np.concatenate([np.asarray(p.mesh.vertices)[:, :2] for o in group.objects for p in o.parts])
    if group.against_wall:
        wall = int(rng.integers(4))
        yaw = (0.0, np.pi / 2, np.pi, -np.pi / 2)[wall]  # local +y -> +y, -x, -y, +x
    else:
        yaw = rng.integers(4) * np.pi / 2 + rng.uniform(-0.25, 0.25)
    rot = rotz(yaw, (0.0, 0.0))[:2, :2]
    rp = pts @ rot.T
    lo, hi = rp.min(axis=0), rp.max(axis=0)
    ext = hi - lo
    if ext[0] > sx - 0.1 or ext[1] > sy - 0.1:
        return None
    pos = np.array([rng.uniform(0.05 - lo[0], sx - 0.05 - hi[0]), rng.uniform(0.05 - lo[1], sy - 0.05 - hi[1])])
    if group.against_wall:
        g = rng.uniform(*wall_gap)
        pos[{0: 1, 1: 0, 2: 1, 3: 0}[wall]] = (sy - g - hi[1], g - lo[0], g - lo[1], sx - g - hi[0])[wall]
    fmin, fmax = lo + pos, hi + pos
    if np.any(fmin < 0.0) or fmax[0] > sx or fmax[1] > sy:
        return None
    for pmin, pmax, _ in placed:
        if np.all(fmin < pmax + gap) and np.all(pmin < fmax + gap):
            return None
    return rotz(yaw, pos), fmin, fmax


def furnish(config: SynthConfig, rng: np.random.Generator) -> Layout:
    """Draw a room and furnish it in ``config.style`` with ``min_objects``..``max_objects`` object instances
    (or the style's own range)."""
    style = get_style(config.style)
    low, high = style.objects or (config.min_objects, config.max_objects)
    sx = rng.uniform(*config.room_size[:2])
    sy = rng.uniform(*config.room_size[2:])
    h = rng.uniform(*config.room_height)
    shell = room_shell(rng, sx, sy, h)
    door = shell["door"].mesh.get_axis_aligned_bounding_box()
    # the door swing area is kept free
    placed = [(door.min_bound[:2] - [0.0, 0.0], door.max_bound[:2] + [0.0, 0.9], 0.0)]
    target = int(rng.integers(low, high + 1))
    objects: list[SceneObject] = []
    names = list(style.groups)
    for attempt in range(config.placement_tries):
        if len(objects) >= target:
            break
        kind = style.first[attempt] if attempt < len(style.first) else rng.choice(names, p=style.probabilities)
        group = style.groups[kind](rng)
        if len(objects) + len(group.objects) > high:
            continue
        spot = _place(rng, group, (sx, sy), placed, config.gap, style.wall_gap)
        if spot is None:
            continue
        matrix, fmin, fmax = spot
        top = max(o.bounds()[1][2] for o in group.objects)
        placed.append((fmin, fmax, top))
        objects += [o.transform(matrix) for o in group.objects]
    part_id = 0
    for instance_id, obj in enumerate(objects, start=1):
        obj.instance_id = instance_id
        for part in obj.parts:
            part_id += 1
            part.part_id = part_id
    return Layout((sx, sy, h), shell, objects, placed[1:])
