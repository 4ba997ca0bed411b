"""Furniture groups: objects arranged together in a local frame, placed as one by the layout.

Groups are what makes the scenes hard on purpose: chairs tucked partly under tables
and desks, items resting on shelves and tables (touching their support), stacked
boxes of one colour, chairs sharing one colour, thin legs, and furniture pushed
against the walls. With ``hard=True`` a builder gives its denser variant of the hard
style (``styles.py``); the default arguments draw exactly what they always drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samosaic3d_core.data.synth import furniture as fn
from samosaic3d_core.data.synth.furniture import SceneObject


@dataclass
class Group:
    """Objects arranged together in a local frame (back towards +y)."""

    objects: list[SceneObject]
    against_wall: bool


def rotz(yaw: float, xy: tuple[float, float]) -> np.ndarray:
    """4x4 transform: rotation by ``yaw`` about z, then translation to ``xy`` on the floor."""
    c, s = np.cos(yaw), np.sin(yaw)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:2, 3] = xy
    return m


def same_or_new(rng: np.random.Generator, color: np.ndarray, p_same: float, family: str) -> np.ndarray:
    """``color`` with probability ``p_same``, else a new colour of ``family``."""
    return color if rng.random() < p_same else fn.pick_color(rng, family)


def items_on(rng, surface: tuple[float, float, float, float], z: float, count: int) -> list[SceneObject]:
    """Up to ``count`` tabletop items in distinct cells of the rectangle (x0, x1, y0, y1) at height z."""
    x0, x1, y0, y1 = surface
    cells = max(1, int((x1 - x0) / 0.3))
    chosen = rng.choice(cells, size=min(count, cells), replace=False)
    return [fn.tabletop_item(rng, x0 + (c + 0.5) * (x1 - x0) / cells, rng.uniform(y0, y1), z) for c in chosen]


def item_row(rng: np.random.Generator, x0: float, x1: float, y: float, z: float, p_same: float,
             spacing: tuple[float, float] = (0.0, 0.004), kinds=fn.ITEM_KINDS) -> list[SceneObject]:
    """Tabletop items side by side on a surface at height z, from x0 as far as x1, centred on depth y.

    Neighbours are ``spacing`` (min, max) metres apart (touching by default); each item takes its
    left neighbour's colour with probability ``p_same``. ``kinds``: as ``furniture.tabletop_item``.
    """
    objects, color = [], None
    while True:
        item = fn.tabletop_item(rng, 0.0, y, z, kinds)
        lo, hi = item.bounds()
        if x0 + hi[0] - lo[0] > x1:
            return objects
        color = item.parts[0].color if color is None else same_or_new(rng, color, p_same, "bright")
        for part in item.parts:
            part.color = color
        objects.append(item.transform(rotz(0.0, (x0 - lo[0], 0.0))))
        x0 += hi[0] - lo[0] + rng.uniform(*spacing)


def dining_group(rng: np.random.Generator, hard: bool = False) -> Group:
    """Table with same-coloured chairs tucked partly under it and items on top.

    hard: chairs pushed in until their backs touch the table edge (gap under 8 mm; opposite seats
    stop at the middle), chairs in the table's colour with probability 0.9, rarely a chair missing,
    2-4 items.
    """
    table = fn.table(rng)
    lo, hi = table.bounds()
    hx, hy, top = hi[0], hi[1], hi[2]
    chair_color = same_or_new(rng, table.parts[0].color, 0.9 if hard else 0.3, "wood")
    objects = [table]
    slots = [0.0] if hx < 0.75 else [-(hx - 0.35), hx - 0.35]
    for side in (-1, 1):
        for x in slots:
            if rng.random() < (0.1 if hard else 0.25):
                continue
            chair = fn.chair(rng, chair_color)
            if hard:
                hw = chair.bounds()[1][0]  # half width; the back's inner face is 4 cm inside the seat edge
                y = side * max(hy + 0.04 - hw + rng.uniform(0.0, 0.008), hw + 0.004)
            else:
                tuck = rng.uniform(0.2, 0.7)  # fraction of the seat under the table top
                y = side * (hy + 0.22 - 0.44 * tuck)
            yaw = 0.0 if side > 0 else np.pi  # the back faces away from the table
            objects.append(chair.transform(rotz(yaw, (x, y))))
    count = int(rng.integers(2, 5) if hard else rng.integers(1, 4))
    objects += items_on(rng, (-hx + 0.1, hx - 0.1, -hy + 0.1, hy - 0.1), top, count)
    return Group(objects, against_wall=False)


def desk_group(rng: np.random.Generator, hard: bool = False) -> Group:
    """Desk against a wall with monitor, keyboard and a chair pushed under it.

    hard: also a row of touching items left of the keyboard, colours repeating with probability 0.75.
    """
    desk = fn.desk(rng)
    lo, hi = desk.bounds()
    top = hi[2]
    objects = [desk, fn.monitor(rng, top).transform(rotz(0.0, (rng.uniform(-0.1, 0.1), hi[1] - 0.12))),
               fn.keyboard(rng, top).transform(rotz(0.0, (0.0, lo[1] + 0.15)))]
    chair = fn.chair(rng)
    objects.append(chair.transform(rotz(np.pi, (rng.uniform(-0.15, 0.15), lo[1] + rng.uniform(-0.05, 0.1)))))
    if hard:  # in front of the monitor, clear of the keyboard (|x| < 0.22)
        objects += item_row(rng, lo[0] + 0.04, -0.23, lo[1] + 0.11, top, 0.75)
    return Group(objects, against_wall=True)


def shelf_group(rng: np.random.Generator, hard: bool = False) -> Group:
    """Shelf against a wall; books and boxes standing on its boards, some in the shelf's colour.

    hard: packed: rows run on until the board is full, neighbours touch (gaps under 4 mm) and
    stay between the sides, each takes its left neighbour's colour with probability 0.75; at most
    8 items, filling the boards from the bottom.
    """
    shelf, tops, inner_hx, depth = fn.shelf(rng)
    objects = [shelf]
    y_back = shelf.bounds()[1][1] - 0.02
    spacing = np.diff(tops).min() if len(tops) > 1 else 0.4
    p_more, p_same, gaps, limit = (0.97, 0.75, (0.0, 0.004), 8) if hard else (0.85, 0.2, (0.0, 0.1), np.inf)
    like = shelf.parts[0].color  # the colour an item repeats with probability p_same
    for z in tops:
        x = -inner_hx + 0.01
        while len(objects) <= limit and x < inner_hx - 0.12 and rng.random() < p_more:
            w = rng.uniform(0.04, 0.2)
            if hard:
                w = min(w, inner_hx - 0.002 - x)
            h = rng.uniform(0.12, max(0.13, spacing - 0.06))
            d = rng.uniform(0.5, 0.95) * depth
            color = same_or_new(rng, like, p_same, rng.choice(["bright", "white", "dark"]))
            if hard:
                like = color
            cat = "book" if w < 0.08 else "box"
            objects.append(fn.small_box(rng, x + w / 2, y_back - d / 2, z, (w, d, h), color, category=cat))
            x += w + rng.uniform(*gaps)  # 0 gap: books touching each other
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
        low.transform(rotz(0.0, (0.0, y)))
        objects.append(low)
        objects += items_on(rng, (-0.35, 0.35, y - 0.2, y + 0.2), 0.4, int(rng.integers(1, 3)))
    return Group(objects, against_wall=True)


def bed_group(rng: np.random.Generator) -> Group:
    """Bed against a wall with a small cabinet beside it."""
    bed = fn.bed(rng)
    lo, hi = bed.bounds()
    stand = fn.cabinet(rng)
    slo, shi = stand.bounds()
    stand.transform(rotz(0.0, (hi[0] - slo[0] + 0.05, hi[1] - shi[1])))
    objects = [bed, stand]
    if rng.random() < 0.7:
        slo, shi = stand.bounds()
        objects.append(fn.tabletop_item(rng, (slo[0] + shi[0]) / 2, (slo[1] + shi[1]) / 2, shi[2]))
    return Group(objects, against_wall=True)


def cabinet_group(rng: np.random.Generator, hard: bool = False) -> Group:
    """Cabinet against a wall with items on top.

    hard: a row of touching items along the top instead, colours repeating with probability 0.75.
    """
    cab = fn.cabinet(rng)
    lo, hi = cab.bounds()
    if hard:
        items = item_row(rng, lo[0] + 0.02, hi[0] - 0.02, (lo[1] + hi[1]) / 2, hi[2], 0.75)
    else:
        items = items_on(rng, (lo[0] + 0.05, hi[0] - 0.05, lo[1] + 0.08, hi[1] - 0.08), hi[2],
                         int(rng.integers(1, 3)))
    return Group([cab] + items, against_wall=True)


def boxes_group(rng: np.random.Generator, hard: bool = False) -> Group:
    """One or two stacks of same-coloured cardboard boxes, each box its own object.

    hard: two or three stacks side by side, touching (gaps under 4 mm), mostly against a wall.
    """
    color = fn.pick_color(rng, "cardboard")
    objects = []
    x = 0.0  # the stack's centre; with hard, its left edge
    for _ in range(int(rng.integers(2, 4) if hard else rng.integers(1, 3))):
        size = rng.uniform(0.3, 0.5, 3)
        z = 0.0
        for level in range(int(rng.integers(1, 4))):
            s = size * (1.0 - 0.15 * level)
            dx, dy = rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)
            objects.append(fn.small_box(rng, x + (size[0] / 2 if hard else dx), dy, z, s, color))
            z += s[2]
        x += size[0] + (rng.uniform(0.0, 0.004) if hard else rng.uniform(0.0, 0.05))
    return Group(objects, against_wall=rng.random() < (0.8 if hard else 0.5))


def single_group(rng: np.random.Generator) -> Group:
    """A lamp or a plant."""
    return Group([fn.lamp(rng) if rng.random() < 0.5 else fn.plant(rng)], against_wall=rng.random() < 0.5)
