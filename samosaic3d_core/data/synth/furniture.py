"""Furniture templates built from primitive parts (boxes, cylinders, spheres).

Every template returns a ``SceneObject`` in its own local frame: z up, standing on
z = 0 (or on ``base_z`` for items placed on a support), footprint centred on the
origin, "back" towards +y (the side that goes against a wall). Dimensions and
colours are drawn from the given ``numpy.random.Generator``; ids are assigned
later by the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

# Base colours (RGB in [0, 1]) per material family; each draw is jittered slightly.
PALETTES: dict[str, np.ndarray] = {
    "wood": np.array([[0.55, 0.38, 0.22], [0.70, 0.52, 0.33], [0.40, 0.26, 0.15], [0.80, 0.68, 0.50]]),
    "fabric": np.array([[0.25, 0.35, 0.60], [0.60, 0.20, 0.20], [0.30, 0.50, 0.30], [0.55, 0.55, 0.58],
                        [0.75, 0.65, 0.45]]),
    "white": np.array([[0.88, 0.88, 0.86], [0.80, 0.82, 0.85], [0.92, 0.90, 0.84]]),
    "dark": np.array([[0.08, 0.08, 0.09], [0.15, 0.15, 0.17], [0.22, 0.20, 0.20]]),
    "metal": np.array([[0.60, 0.62, 0.65], [0.35, 0.36, 0.38]]),
    "bright": np.array([[0.85, 0.30, 0.15], [0.20, 0.55, 0.80], [0.90, 0.75, 0.20], [0.50, 0.25, 0.60],
                        [0.20, 0.65, 0.55]]),
    "cardboard": np.array([[0.72, 0.56, 0.38]]),
    "plant": np.array([[0.18, 0.45, 0.15], [0.25, 0.55, 0.20]]),
}


def pick_color(rng: np.random.Generator, family: str, jitter: float = 0.04) -> np.ndarray:
    """A (3,) colour from ``PALETTES[family]`` with a small random offset."""
    palette = PALETTES[family]
    base = palette[rng.integers(len(palette))]
    return np.clip(base + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)


@dataclass
class Part:
    """One primitive of an object. ``part_id`` is scene-unique (>= 1) once laid out."""

    mesh: o3d.geometry.TriangleMesh
    color: np.ndarray
    shape: str
    part_id: int = 0


@dataclass
class SceneObject:
    """An object instance made of parts. ``instance_id`` (>= 1) is set by the layout."""

    category: str
    parts: list[Part] = field(default_factory=list)
    instance_id: int = 0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) corners of the axis-aligned box around all parts, each (3,)."""
        pts = np.concatenate([np.asarray(p.mesh.vertices) for p in self.parts])
        return pts.min(axis=0), pts.max(axis=0)

    def transform(self, matrix: np.ndarray) -> "SceneObject":
        """Apply a 4x4 rigid transform to every part in place; returns self."""
        for part in self.parts:
            part.mesh.transform(matrix)
        return self


def box(lo, hi, color: np.ndarray) -> Part:
    """Axis-aligned box with exact corner coordinates ``lo`` and ``hi`` (each (3,))."""
    mesh = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0)
    unit = np.asarray(mesh.vertices)
    # np.where keeps the corner coordinates bit-exact (a floor at z = 0 stays at 0).
    mesh.vertices = o3d.utility.Vector3dVector(np.where(unit > 0.5, np.asarray(hi, float), np.asarray(lo, float)))
    return Part(mesh, color, "box")


def cylinder(x: float, y: float, z0: float, z1: float, radius: float, color: np.ndarray, resolution: int = 12) -> Part:
    """Vertical cylinder of ``radius`` between heights ``z0`` and ``z1`` centred on (x, y)."""
    mesh = o3d.geometry.TriangleMesh.create_cylinder(radius, z1 - z0, resolution=resolution, split=1)
    mesh.translate((x, y, (z0 + z1) / 2.0))
    return Part(mesh, color, "cylinder")


def sphere(center, radius: float, color: np.ndarray, resolution: int = 8) -> Part:
    """Sphere of ``radius`` at ``center`` (3,)."""
    mesh = o3d.geometry.TriangleMesh.create_sphere(radius, resolution=resolution)
    mesh.translate(np.asarray(center, float))
    return Part(mesh, color, "sphere")


def legs(hx: float, hy: float, inset: float, height: float, radius: float, color, rng) -> list[Part]:
    """Four thin legs under a rectangle of half extents (hx, hy); round or square at random."""
    round_legs = rng.random() < 0.5
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (hx - inset), sy * (hy - inset)
            if round_legs:
                parts.append(cylinder(x, y, 0.0, height, radius, color, resolution=8))
            else:
                parts.append(box((x - radius, y - radius, 0.0), (x + radius, y + radius, height), color))
    return parts


def table(rng: np.random.Generator, color: np.ndarray | None = None) -> SceneObject:
    """Top + 4 legs; 0.9-1.8 m long, 0.72-0.78 m high."""
    color = pick_color(rng, rng.choice(["wood", "white", "dark"])) if color is None else color
    hx, hy = rng.uniform(0.45, 0.9), rng.uniform(0.35, 0.5)
    h, t = rng.uniform(0.72, 0.78), rng.uniform(0.025, 0.05)
    leg_color = color if rng.random() < 0.6 else pick_color(rng, "metal")
    parts = [box((-hx, -hy, h - t), (hx, hy, h), color)]
    parts += legs(hx, hy, 0.05, h - t, rng.uniform(0.015, 0.03), leg_color, rng)
    return SceneObject("table", parts)


def chair(rng: np.random.Generator, color: np.ndarray | None = None) -> SceneObject:
    """Seat + back + 4 thin legs; the back is on the +y side."""
    color = pick_color(rng, rng.choice(["wood", "fabric", "dark", "bright"])) if color is None else color
    hw, seat_h, t = rng.uniform(0.2, 0.25), rng.uniform(0.42, 0.48), 0.04
    back_h = rng.uniform(0.35, 0.5)
    parts = [box((-hw, -hw, seat_h - t), (hw, hw, seat_h), color),
             box((-hw, hw - 0.04, seat_h), (hw, hw, seat_h + back_h), color)]
    parts += legs(hw, hw, 0.03, seat_h - t, rng.uniform(0.012, 0.02), color, rng)
    return SceneObject("chair", parts)


def sofa(rng: np.random.Generator) -> SceneObject:
    """Base + back + 2 arms, same fabric."""
    color = pick_color(rng, "fabric")
    hx, hy = rng.uniform(0.8, 1.1), rng.uniform(0.4, 0.48)
    base_h, back_h, arm_w = rng.uniform(0.4, 0.45), rng.uniform(0.75, 0.9), rng.uniform(0.1, 0.18)
    parts = [box((-hx + arm_w, -hy, 0.0), (hx - arm_w, hy - 0.18, base_h), color),
             box((-hx + arm_w, hy - 0.18, 0.0), (hx - arm_w, hy, back_h), color),
             box((-hx, -hy, 0.0), (-hx + arm_w, hy, base_h + 0.18), color),
             box((hx - arm_w, -hy, 0.0), (hx, hy, base_h + 0.18), color)]
    return SceneObject("sofa", parts)


def bed(rng: np.random.Generator) -> SceneObject:
    """Frame + mattress + 1-2 pillows; the head end is on the +y side."""
    hx, hy = rng.uniform(0.45, 0.85), rng.uniform(0.95, 1.05)
    frame_h = rng.uniform(0.25, 0.35)
    frame_color, sheet = pick_color(rng, "wood"), pick_color(rng, rng.choice(["white", "fabric"]))
    parts = [box((-hx, -hy, 0.0), (hx, hy, frame_h), frame_color),
             box((-hx, hy - 0.06, frame_h), (hx, hy, frame_h + 0.55), frame_color),
             box((-hx + 0.03, -hy + 0.03, frame_h), (hx - 0.03, hy - 0.06, frame_h + 0.2), sheet)]
    n_pillows = 1 if hx < 0.6 else 2
    top = frame_h + 0.2
    pillow = pick_color(rng, "white")
    for k in range(n_pillows):
        cx = 0.0 if n_pillows == 1 else (k - 0.5) * hx
        parts.append(box((cx - 0.3, hy - 0.45, top), (cx + 0.3, hy - 0.1, top + 0.12), pillow))
    return SceneObject("bed", parts)


def shelf(rng: np.random.Generator) -> tuple[SceneObject, list[float], float, float]:
    """Two sides + back + boards. Returns (object, board top heights, inner half width, depth)."""
    color = pick_color(rng, rng.choice(["wood", "white", "dark"]))
    hx, hy = rng.uniform(0.35, 0.6), rng.uniform(0.15, 0.2)
    h, t = rng.uniform(1.2, 1.9), 0.02
    n_boards = int(rng.integers(3, 6))
    parts = [box((-hx, -hy, 0.0), (-hx + t, hy, h), color), box((hx - t, -hy, 0.0), (hx, hy, h), color),
             box((-hx + t, hy - t, 0.0), (hx - t, hy, h), color)]
    tops = []
    for z in np.linspace(0.05, h - t, n_boards):
        parts.append(box((-hx + t, -hy, z), (hx - t, hy - t, z + t), color))
        tops.append(float(z + t))
    return SceneObject("shelf", parts), tops[:-1], hx - t, 2 * hy - t


def cabinet(rng: np.random.Generator) -> SceneObject:
    """Body + 2 door fronts + handles."""
    color = pick_color(rng, rng.choice(["wood", "white"]))
    hx, hy, h = rng.uniform(0.35, 0.6), rng.uniform(0.2, 0.3), rng.uniform(0.6, 1.1)
    front = np.clip(color * rng.uniform(0.85, 1.0), 0, 1)
    handle = pick_color(rng, "metal")
    parts = [box((-hx, -hy + 0.02, 0.0), (hx, hy, h), color)]
    for sx in (-1, 1):
        x0, x1 = (-hx + 0.01, -0.005) if sx < 0 else (0.005, hx - 0.01)
        parts.append(box((x0, -hy, 0.05), (x1, -hy + 0.02, h - 0.02), front))
        parts.append(box((sx * 0.04 - 0.01, -hy - 0.02, h * 0.6), (sx * 0.04 + 0.01, -hy, h * 0.6 + 0.12), handle))
    return SceneObject("cabinet", parts)


def counter(rng: np.random.Generator, hx: float, hy: float = 0.3, seating: float = 0.0) -> SceneObject:
    """Kitchen base cabinets under one worktop, 0.88-0.94 m high: body, worktop, a door front and handle
    per 0.5-0.6 m on the -y side. ``seating``: the worktop reaches this far past the body on +y."""
    body = pick_color(rng, rng.choice(["white", "wood", "dark"]))
    worktop, handle = pick_color(rng, rng.choice(["dark", "wood", "white", "metal"])), pick_color(rng, "metal")
    h, t = rng.uniform(0.88, 0.94), rng.uniform(0.03, 0.04)
    front = np.clip(body * 0.92, 0, 1)
    parts = [box((-hx, -hy + 0.02, 0.0), (hx, hy, h - t), body),
             box((-hx - 0.01, -hy - 0.01, h - t), (hx + 0.01, hy + seating, h), worktop)]
    doors = max(1, int(round(2 * hx / 0.55)))
    w = 2 * hx / doors
    for k in range(doors):
        x0, xc = -hx + k * w, -hx + (k + 0.5) * w
        parts.append(box((x0 + 0.004, -hy, 0.1), (x0 + w - 0.004, -hy + 0.02, h - t - 0.01), front))
        parts.append(box((xc - 0.06, -hy - 0.02, h - t - 0.09), (xc + 0.06, -hy, h - t - 0.07), handle))
    return SceneObject("counter", parts)


def fridge(rng: np.random.Generator) -> SceneObject:
    """Tall body + freezer and fridge doors + two vertical handles, 1.7-1.95 m; doors on the -y side."""
    color = pick_color(rng, rng.choice(["white", "metal", "dark"]))
    hx, hy, h = rng.uniform(0.3, 0.4), rng.uniform(0.3, 0.35), rng.uniform(1.7, 1.95)
    split = h * rng.uniform(0.3, 0.4)  # freezer below, fridge above
    door, handle = np.clip(color * 0.95, 0, 1), pick_color(rng, "metal")
    parts = [box((-hx, -hy + 0.04, 0.0), (hx, hy, h), color),
             box((-hx, -hy, 0.02), (hx, -hy + 0.04, split - 0.005), door),
             box((-hx, -hy, split + 0.005), (hx, -hy + 0.04, h - 0.01), door)]
    for z0, z1 in ((split - 0.3, split - 0.05), (split + 0.1, split + 0.6)):
        parts.append(box((hx - 0.07, -hy - 0.03, z0), (hx - 0.05, -hy, z1), handle))
    return SceneObject("refrigerator", parts)


def stool(rng: np.random.Generator, color: np.ndarray | None = None) -> SceneObject:
    """Round seat on 4 thin legs, 0.6-0.7 m high (a bar stool)."""
    color = pick_color(rng, rng.choice(["wood", "dark", "metal", "bright"])) if color is None else color
    r, h = rng.uniform(0.15, 0.19), rng.uniform(0.6, 0.7)
    return SceneObject("stool", [cylinder(0, 0, h - 0.04, h, r, color, resolution=16)]
                       + legs(0.7 * r, 0.7 * r, 0.0, h - 0.04, 0.012, color, rng))


def desk(rng: np.random.Generator) -> SceneObject:
    """Top + 2 side panels."""
    color = pick_color(rng, rng.choice(["wood", "white", "dark"]))
    hx, hy, h = rng.uniform(0.55, 0.8), rng.uniform(0.3, 0.4), rng.uniform(0.72, 0.76)
    parts = [box((-hx, -hy, h - 0.03), (hx, hy, h), color),
             box((-hx, -hy + 0.05, 0.0), (-hx + 0.03, hy, h - 0.03), color),
             box((hx - 0.03, -hy + 0.05, 0.0), (hx, hy, h - 0.03), color)]
    return SceneObject("desk", parts)


def monitor(rng: np.random.Generator, base_z: float) -> SceneObject:
    """Screen + neck + foot, standing on a surface at ``base_z``; faces -y."""
    dark, w = pick_color(rng, "dark"), rng.uniform(0.22, 0.32)
    return SceneObject("monitor", [
        box((-0.1, -0.08, base_z), (0.1, 0.08, base_z + 0.015), dark),
        box((-0.02, 0.0, base_z + 0.015), (0.02, 0.03, base_z + 0.15), dark),
        box((-w, -0.03, base_z + 0.12), (w, 0.0, base_z + 0.12 + 1.2 * w), dark),
    ])


def keyboard(rng: np.random.Generator, base_z: float) -> SceneObject:
    """A flat box lying on a surface at ``base_z``."""
    color = pick_color(rng, rng.choice(["dark", "white"]))
    return SceneObject("keyboard", [box((-0.22, -0.07, base_z), (0.22, 0.07, base_z + 0.025), color)])


def lamp(rng: np.random.Generator) -> SceneObject:
    """Floor lamp: base + pole + shade."""
    metal, shade = pick_color(rng, "metal"), pick_color(rng, rng.choice(["white", "bright"]))
    h = rng.uniform(1.3, 1.7)
    shade_part = o3d.geometry.TriangleMesh.create_cone(0.2, 0.3, resolution=12)
    shade_part.translate((0.0, 0.0, h - 0.05))  # base of the cone down, around the pole top
    return SceneObject("lamp", [cylinder(0, 0, 0.0, 0.03, 0.15, metal),
                                cylinder(0, 0, 0.03, h, 0.012, metal, resolution=8),
                                Part(shade_part, shade, "cone")])


def plant(rng: np.random.Generator) -> SceneObject:
    """Pot + foliage sphere."""
    pot_h, r = rng.uniform(0.25, 0.4), rng.uniform(0.12, 0.18)
    pot = pick_color(rng, rng.choice(["bright", "white", "dark"]))
    return SceneObject("plant", [cylinder(0, 0, 0.0, pot_h, r, pot),
                                 sphere((0, 0, pot_h + 1.6 * r), 1.8 * r, pick_color(rng, "plant"))])


def small_box(rng: np.random.Generator, x: float, y: float, base_z: float, size, color: np.ndarray,
              category: str = "box") -> SceneObject:
    """A box of ``size`` (3,) resting on ``base_z`` centred on (x, y)."""
    sx, sy, sz = size
    return SceneObject(category, [box((x - sx / 2, y - sy / 2, base_z), (x + sx / 2, y + sy / 2, base_z + sz), color)])


ITEM_KINDS = ("cup", "bottle", "book", "bowl")


def tabletop_item(rng: np.random.Generator, x: float, y: float, base_z: float, kinds=ITEM_KINDS) -> SceneObject:
    """A cup, bowl, bottle or book (one of ``kinds``) resting on a surface at ``base_z``."""
    kind = rng.choice(list(kinds))
    color = pick_color(rng, rng.choice(["bright", "white", "dark"]))
    if kind == "cup":
        return SceneObject("cup", [cylinder(x, y, base_z, base_z + 0.1, 0.04, color)])
    if kind == "bottle":
        return SceneObject("bottle", [cylinder(x, y, base_z, base_z + 0.2, 0.035, color),
                                      cylinder(x, y, base_z + 0.2, base_z + 0.27, 0.013, color, resolution=8)])
    if kind == "bowl":
        return SceneObject("bowl", [cylinder(x, y, base_z, base_z + 0.07, 0.09, color, resolution=16)])
    return small_box(rng, x, y, base_z, (0.24, 0.17, 0.04), color, category="book")
