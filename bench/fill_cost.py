"""What the affinity readout's fill of points outside fragments costs, per ``frame_model.fill_by``.

    python bench/fill_cost.py                       # 9000 fragment points, 1500 outside, 30 groups
    python bench/fill_cost.py --inside 20000 --outside 4000

Times ``fill_outside`` alone on random points of a 3 m cube (the sizes of a 320x240 frame after
the 2 cm grid: up to 10000 points, about a sixth of them outside every fragment), alternating the
two fills, and prints ms per frame and the ratio to the box fill. docs/map_quality.md, "Filling
from the nearest fragment".
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from samosaic3d_core.model.frame_model import FILL_BY, F2IFrameConfig, fill_outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", type=int, default=9000, help="fragment points")
    parser.add_argument("--outside", type=int, default=1500, help="points outside every fragment")
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    inside = rng.uniform(0, 3, (args.inside, 3))
    group = rng.integers(0, args.groups, args.inside)
    outside = rng.uniform(0, 3, (args.outside, 3))
    probs = rng.uniform(0, 1, (args.groups, args.outside))
    seconds = dict.fromkeys(FILL_BY, 0.0)
    for _ in range(args.repeats):
        for fill in FILL_BY:
            config = F2IFrameConfig(fill_by=fill)
            started = time.perf_counter()
            fill_outside(inside, group, outside, probs, config)
            seconds[fill] += time.perf_counter() - started
    print(f"fill_outside, {args.inside} fragment points, {args.outside} outside, {args.groups} groups:")
    for fill in FILL_BY:
        ms = 1000 * seconds[fill] / args.repeats
        print(f"  {fill:<8} {ms:6.2f} ms per frame, {seconds[fill] / seconds['box']:.2f} x box")


if __name__ == "__main__":
    main()
