"""Kitchen furniture groups: base cabinets along the walls, an island with stools, a fridge.

Worktops carry cups, bowls and bottles (no books), spaced apart rather than touching.
"""

from __future__ import annotations

import numpy as np

from samosaic3d_core.data.synth import furniture as fn
from samosaic3d_core.data.synth.groups import Group, item_row, rotz, same_or_new

KITCHEN_ITEMS = ("cup", "bottle", "bowl")
SPACED = (0.04, 0.3)  # metres between neighbouring items on a worktop


def counter_group(rng: np.random.Generator) -> Group:
    """A run of base cabinets against a wall, items on the worktop, sometimes a microwave in the corner."""
    hx = rng.uniform(0.55, 1.4)
    counter = fn.counter(rng, hx)
    lo, hi = counter.bounds()
    top = hi[2]
    objects = [counter]
    x0 = -hx + 0.05
    if rng.random() < 0.35:  # against the wall at the left end; the items start right of it
        w, d, h = rng.uniform(0.45, 0.55), rng.uniform(0.33, 0.4), rng.uniform(0.26, 0.32)
        color = fn.pick_color(rng, rng.choice(["dark", "white", "metal"]))
        objects.append(fn.small_box(rng, -hx + 0.03 + w / 2, hi[1] - 0.03 - d / 2, top, (w, d, h), color,
                                    category="microwave"))
        x0 += w + 0.05
    objects += item_row(rng, x0, hx - 0.05, lo[1] + 0.16, top, 0.3, SPACED, KITCHEN_ITEMS)
    return Group(objects, against_wall=True)


def island_group(rng: np.random.Generator) -> Group:
    """A free-standing island: stools (sometimes chairs) along the overhanging seating side, items on top."""
    hx, hy, seating = rng.uniform(0.6, 1.0), rng.uniform(0.3, 0.4), rng.uniform(0.25, 0.32)
    island = fn.counter(rng, hx, hy, seating)
    top = island.bounds()[1][2]
    seat = fn.chair if rng.random() < 0.3 else fn.stool
    color = fn.pick_color(rng, rng.choice(["wood", "dark", "metal", "bright"]))
    objects = [island]
    n = max(1, int(2 * hx / 0.55))
    for k in range(n):
        one = seat(rng, same_or_new(rng, color, 0.85, "dark"))
        lo = one.bounds()[0]
        # the seat's front edge 1-8 cm from the island's body, under the worktop; a chair's back faces away
        objects.append(one.transform(rotz(0.0, (-hx + (k + 0.5) * 2 * hx / n, hy - lo[1] + rng.uniform(0.01, 0.08)))))
    objects += item_row(rng, -hx + 0.05, hx - 0.05, 0.0, top, 0.3, SPACED, KITCHEN_ITEMS)
    return Group(objects, against_wall=False)


def fridge_group(rng: np.random.Generator) -> Group:
    """A fridge against a wall, sometimes with a cardboard box on top."""
    fridge = fn.fridge(rng)
    objects = [fridge]
    if rng.random() < 0.4:
        lo, hi = fridge.bounds()
        size = rng.uniform((0.2, 0.15, 0.1), (0.4, 0.3, 0.25))
        objects.append(fn.small_box(rng, rng.uniform(-0.05, 0.05), hi[1] - 0.04 - size[1] / 2, hi[2], size,
                                    fn.pick_color(rng, "cardboard")))
    return Group(objects, against_wall=True)
