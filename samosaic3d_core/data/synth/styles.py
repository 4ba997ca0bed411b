"""Scene styles: which furniture groups furnish a room, how often, and how many objects it gets.

``default`` is the distribution the shipped weights were trained on; a seed gives the same scene
as before styles existed. ``hard`` crowds the room with the cases instance segmentation gets
wrong: packed shelves, chairs pushed in to the table edge, stacked boxes side by side, rows of
touching items of repeating colours on desks and cabinets, furniture almost touching the walls.
``kitchen`` is a layout no model is trained on (zero-shot evaluation): counters along the walls,
an island with stools, a fridge, cups, bowls and bottles on the worktops.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from samosaic3d_core.data.synth.groups import (Group, bed_group, boxes_group, cabinet_group, desk_group,
                                               dining_group, shelf_group, single_group, sofa_group)
from samosaic3d_core.data.synth.kitchen import counter_group, fridge_group, island_group


@dataclass(frozen=True)
class Style:
    """How the rooms of one style are furnished."""

    groups: dict[str, Callable[[np.random.Generator], Group]]
    """Group builders by name."""
    weights: tuple[float, ...]
    """Relative frequency of each group of ``groups`` (same order) in the random draws."""
    first: tuple[str, ...]
    """Groups tried once each, in this order, before the random draws."""
    objects: tuple[int, int] | None = None
    """Object instances per room (min, max); None: the config's ``min_objects`` and ``max_objects``."""
    wall_gap: tuple[float, float] = (0.02, 0.05)
    """Range of the gap between a wall and the furniture placed against it, metres."""

    @property
    def probabilities(self) -> np.ndarray:
        """``weights`` normalised to sum to 1."""
        weights = np.array(self.weights, float)
        return weights / weights.sum()


STYLES: dict[str, Style] = {
    "default": Style(
        groups={"dining": dining_group, "desk": desk_group, "shelf": shelf_group, "sofa": sofa_group,
                "bed": bed_group, "cabinet": cabinet_group, "boxes": boxes_group, "single": single_group},
        weights=(3, 2, 2, 2, 1, 2, 1, 2),  # boxes and beds rarer
        first=("dining", "desk", "shelf", "boxes"),  # so every room has the hard cases
    ),
    "hard": Style(
        groups={"shelf": partial(shelf_group, hard=True), "dining": partial(dining_group, hard=True),
                "boxes": partial(boxes_group, hard=True), "desk": partial(desk_group, hard=True),
                "cabinet": partial(cabinet_group, hard=True), "sofa": sofa_group, "single": single_group},
        weights=(3, 3, 3, 2, 2, 1, 1),
        first=("dining", "shelf", "desk", "boxes", "cabinet"),
        objects=(15, 25),
        wall_gap=(0.003, 0.009),
    ),
    "kitchen": Style(
        groups={"counter": counter_group, "island": island_group, "fridge": fridge_group,
                "cabinet": cabinet_group, "dining": dining_group, "single": single_group},
        weights=(4, 1, 0, 2, 1, 1),  # one fridge at most: only among the first
        first=("fridge", "counter", "island", "counter"),
        objects=(10, 22),
        wall_gap=(0.005, 0.02),
    ),
}


def get_style(name: str) -> Style:
    """The style called ``name``; ValueError naming the styles there are for any other name."""
    if name not in STYLES:
        raise ValueError(f"unknown scene style {name!r}; choose one of {', '.join(STYLES)}")
    return STYLES[name]
