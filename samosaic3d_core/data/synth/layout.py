"""Furnish a room: furniture groups placed by rejection sampling on 2D footprints.

Groups are what makes the scenes hard on purpose: chairs tucked partly under tables
and desks, items resting on shelves and tables (touching their support), stacked
boxes of one colour, chairs sharing one colour, thin legs, and furniture pushed
against the walls. The room shell (floor, walls, ceiling, door, window frame) is
unlabeled: instance 0, part 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samosaic3d_core.data.synth import furniture as fn
from samosaic3d_core.data.synth.config import SynthConfig
from samosaic3d_core.data.synth.furniture import Part, SceneObject

WALL_GAP = (0.02, 0.05)  # metres between a wall and furniture placed against it


@dataclass
class Group:
    """Objects arranged together in a local frame (back towards +y)."""

    objects: list[SceneObject]
    against_wall: bool


@dataclass
class Layout:
    """A furnished room. The room spans [0, size_x] x [0, size_y] x [0, height]; the floor is z = 0."""

    size: tuple[float, float, float]
    shell: dict[str, Part]
    objects: list[SceneObject]
    footprints: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)
    """Per placed group: (xy min, xy max, top height), for keeping the camera out of furniture."""


def _rotz(yaw: float, xy: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:2, 3] = xy
    return m


def _same_or_new(rng: np.random.Generator, color: np.ndarray, p_same: float, family: str) -> np.ndarray:
    return color if rng.random() < p_same else fn.pick_color(rng, family)


def _items_on(rng, surface: tuple[float, float, float, float], z: float, count: int) -> list[SceneObject]:
    """Up to ``count`` tabletop items in distinct cells of the rectangle (x0, x1, y0, y1) at height z."""
    x0, x1, y0, y1 = surface
    cells = max(1, int((x1 - x0) / 0.3))
    chosen = rng.choice(cells, size=min(count, cells), replace=False)
    return [fn.tabletop_item(rng, x0 + (c + 0.5) * (x1 - x0) / cells, rng.uniform(y0, y1), z) for c in chosen]


def dining_group(rng: np.random.Generator) -> Group:
    """Table with same-coloured chairs tucked partly under it and items on top."""
    table = fn.table(rng)
    lo, hi = table.bounds()
    hx, hy, top = hi[0], hi[1], hi[2]
    chair_color = _same_or_new(rng, table.parts[0].color, 0.3, "wood")
    objects = [table]
    slots = [0.0] if hx < 0.75 else [-(hx - 0.35), hx - 0.35]
    for side in (-1, 1):
        for x in slots:
            if rng.random() < 0.25:
                continue
            chair = fn.chair(rng, chair_color)
            tuck = rng.uniform(0.2, 0.7)  # fraction of the seat under the table top
            y = side * (hy + 0.22 - 0.44 * tuck)
            yaw = 0.0 if side > 0 else np.pi  # the back faces away from the table
            objects.append(chair.transform(_rotz(yaw, (x, y))))
    objects += _items_on(rng, (-hx + 0.1, hx - 0.1, -hy + 0.1, hy - 0.1), top, int(rng.integers(1, 4)))
    return Group(objects, against_wall=False)


def desk_group(rng: np.random.Generator) -> Group:
    """Desk against a wall with monitor, keyboard and a chair pushed under it."""
    desk = fn.desk(rng)
    lo, hi = desk.bounds()
    top = hi[2]
    objects = [desk, fn.monitor(rng, top).transform(_rotz(0.0, (rng.uniform(-0.1, 0.1), hi[1] - 0.12))),
               fn.keyboard(rng, top).transform(_rotz(0.0, (0.0, lo[1] + 0.15)))]
    chair = fn.chair(rng)
    objects.append(chair.transform(_rotz(np.pi, (rng.uniform(-0.15, 0.15), lo[1] + rng.uniform(-0.05, 0.1)))))
    return Group(objects, against_wall=True)


def shelf_group(rng: np.random.Generator) -> Group:
    """Shelf against a wall; books and boxes standing on its boards, some in the shelf's colour."""
    shelf, tops, inner_hx, depth = fn.shelf(rng)
    objects = [shelf]
    y_back = shelf.bounds()[1][1] - 0.02
    spacing = np.diff(tops).min() if len(tops) > 1 else 0.4
    for z in tops:
        x = -inner_hx + 0.01
        while x < inner_hx - 0.12 and rng.random() < 0.85:
            w = rng.uniform(0.04, 0.2)
            h = rng.uniform(0.12, max(0.13, spacing - 0.06))
            d = rng.uniform(0.5, 0.95) * depth
            color = _same_or_new(rng, shelf.parts[0].color, 0.2, rng.choice(["bright", "white", "dark"]))
            cat = "book" if w < 0.08 else "box"
            objects.append(fn.small_box(rng, x + w / 2, y_back - d / 2, z, (w, d, h), color, category=cat))
            x += w + rng.uniform(0.0, 0.1)  # 0 gap: books touching each other
    return Group(objects, against_wall=True)


def sofa_group(rng: np.random.Generator) -> Group:
    """Sofa against a wall, sometimes with a low table and an item in front."""
    sofa = fn.sofa(rng)
    objects = [sofa]
    if rng.random() < 0.6:
        color = fn.pick_color(rng, "wood")
        y = sofa.bounds()[0][1] - 0.55
        low = SceneObject("table", [fn.box((-0.45, -0.3, 0.35), (0.45, 0.3, 0.4), color)]
                          + fn.legs(0.45, 0.3, 0.05, 0.35, 0.02, color, rng))
        low.transform(_rotz(0.0, (0.0, y)))
        objects.append(low)
        objects += _items_on(rng, (-0.35, 0.35, y - 0.2, y + 0.2), 0.4, int(rng.integers(1, 3)))
    return Group(objects, against_wall=True)


def bed_group(rng: np.random.Generator) -> Group:
    """Bed against a wall with a small cabinet beside it."""
    bed = fn.bed(rng)
    lo, hi = bed.bounds()
    stand = fn.cabinet(rng)
    slo, shi = stand.bounds()
    stand.transform(_rotz(0.0, (hi[0] - slo[0] + 0.05, hi[1] - shi[1])))
    objects = [bed, stand]
    if rng.random() < 0.7:
        slo, shi = stand.bounds()
        objects.append(fn.tabletop_item(rng, (slo[0] + shi[0]) / 2, (slo[1] + shi[1]) / 2, shi[2]))
    return Group(objects, against_wall=True)


def cabinet_group(rng: np.random.Generator) -> Group:
    """Cabinet against a wall with items on top."""
    cab = fn.cabinet(rng)
    lo, hi = cab.bounds()
    return Group([cab] + _items_on(rng, (lo[0] + 0.05, hi[0] - 0.05, lo[1] + 0.08, hi[1] - 0.08), hi[2],
                                   int(rng.integers(1, 3))), against_wall=True)


def boxes_group(rng: np.random.Generator) -> Group:
    """One or two stacks of same-coloured cardboard boxes, each box its own object."""
    color = fn.pick_color(rng, "cardboard")
    objects = []
    x = 0.0
    for _ in range(int(rng.integers(1, 3))):
        size = rng.uniform(0.3, 0.5, 3)
        z = 0.0
        for level in range(int(rng.integers(1, 4))):
            s = size * (1.0 - 0.15 * level)
            objects.append(fn.small_box(rng, x + rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), z, s, color))
            z += s[2]
        x += size[0] + rng.uniform(0.0, 0.05)
    return Group(objects, against_wall=rng.random() < 0.5)


def single_group(rng: np.random.Generator) -> Group:
    """A lamp or a plant."""
    return Group([fn.lamp(rng) if rng.random() < 0.5 else fn.plant(rng)], against_wall=rng.random() < 0.5)


GROUPS = {"dining": dining_group, "desk": desk_group, "shelf": shelf_group, "sofa": sofa_group,
          "bed": bed_group, "cabinet": cabinet_group, "boxes": boxes_group, "single": single_group}
GROUP_WEIGHTS = np.array([3, 2, 2, 2, 1, 2, 1, 2], float) / 15  # draw order of GROUPS; boxes/beds rarer
FIRST = ("dining", "desk", "shelf", "boxes")  # always tried first so every room has the hard cases


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


def _place(rng, group: Group, size, placed, gap: float):
    """A 4x4 placement of ``group`` with a free footprint, or None."""
    sx, sy = size
    pts = np.concatenate([np.asarray(p.mesh.vertices)[:, :2] for o in group.objects for p in o.parts])
    if group.against_wall:
        wall = int(rng.integers(4))
        yaw = (0.0, np.pi / 2, np.pi, -np.pi / 2)[wall]  # local +y -> +y, -x, -y, +x
    else:
        yaw = rng.integers(4) * np.pi / 2 + rng.uniform(-0.25, 0.25)
    rot = _rotz(yaw, (0.0, 0.0))[:2, :2]
    rp = pts @ rot.T
    lo, hi = rp.min(axis=0), rp.max(axis=0)
    ext = hi - lo
    if ext[0] > sx - 0.1 or ext[1] > sy - 0.1:
        return None
    pos = np.array([rng.uniform(0.05 - lo[0], sx - 0.05 - hi[0]), rng.uniform(0.05 - lo[1], sy - 0.05 - hi[1])])
    if group.against_wall:
        g = rng.uniform(*WALL_GAP)
        pos[{0: 1, 1: 0, 2: 1, 3: 0}[wall]] = (sy - g - hi[1], g - lo[0], g - lo[1], sx - g - hi[0])[wall]
    fmin, fmax = lo + pos, hi + pos
    if np.any(fmin < 0.0) or fmax[0] > sx or fmax[1] > sy:
        return None
    for pmin, pmax, _ in placed:
        if np.all(fmin < pmax + gap) and np.all(pmin < fmax + gap):
            return None
    return _rotz(yaw, pos), fmin, fmax


def furnish(config: SynthConfig, rng: np.random.Generator) -> Layout:
    """Draw a room and furnish it with ``min_objects``..``max_objects`` object instances."""
    sx = rng.uniform(*config.room_size[:2])
    sy = rng.uniform(*config.room_size[2:])
    h = rng.uniform(*config.room_height)
    shell = room_shell(rng, sx, sy, h)
    door = shell["door"].mesh.get_axis_aligned_bounding_box()
    # the door swing area is kept free
    placed = [(door.min_bound[:2] - [0.0, 0.0], door.max_bound[:2] + [0.0, 0.9], 0.0)]
    target = int(rng.integers(config.min_objects, config.max_objects + 1))
    objects: list[SceneObject] = []
    for attempt in range(config.placement_tries):
        if len(objects) >= target:
            break
        kind = FIRST[attempt] if attempt < len(FIRST) else rng.choice(list(GROUPS), p=GROUP_WEIGHTS)
        group = GROUPS[kind](rng)
        if len(objects) + len(group.objects) > config.max_objects:
            continue
        spot = _place(rng, group, (sx, sy), placed, config.gap)
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
