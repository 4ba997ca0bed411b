"""Per-frame time with and without map consolidation, room structure and supports, in one run (alternating).

    python bench/consolidation_cost.py                  # validation scenes, sim masks, shipped weights
    python bench/consolidation_cost.py --repeats 3 --scenes 1

Prints ms/frame of the whole step and of the association and memory stages (where frames lose
their structure and the map is consolidated) for six settings: neither
(``memory.consolidation.every: 0``), consolidation without structure
(``memory.structure.every_passes: 0``), consolidation and structure without supports
(``memory.consolidation.join_supports: false``), with supports but without splitting
(``memory.consolidation.split_min_views: 0``), without the outlines on walls
(``memory.structure.enclosed: false``), without backrests (``memory.consolidation.join_backrests:
false``) and the defaults; and the step-time ratios to the first.
"""

from __future__ import annotations

import os

from common import cost_setup, time_steps

from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig


def main(argv=None) -> int:
    args, scenes, base = cost_setup(argv, __doc__)
    variants = {"neither": SegmenterConfig.from_flat({**base, "memory.consolidation.every": 0}),
                "consolidation": SegmenterConfig.from_flat(
                    {**base, "memory.structure.every_passes": 0, "memory.consolidation.split_min_views": 0}),
                "consolidation + structure": SegmenterConfig.from_flat(
                    {**base, "memory.consolidation.join_supports": False, "memory.consolidation.split_min_views": 0}),
                "consolidation + structure + supports": SegmenterConfig.from_flat(
                    {**base, "memory.consolidation.split_min_views": 0}),
                "consolidation + structure + supports + splitting": SegmenterConfig.from_flat(
                    {**base, "memory.structure.enclosed": False, "memory.consolidation.join_backrests": False}),
                "the same + outlines on walls": SegmenterConfig.from_flat(
                    {**base, "memory.consolidation.join_backrests": False}),
                "the same + backrests (default)": SegmenterConfig.from_flat(base)}
    segs = {name: OnlineSegmenter.from_config(config) for name, config in variants.items()}
    sums = {name: [0.0, 0.0, 0] for name in variants}
    for _ in range(args.repeats):
        for frames in scenes:
            for name, seg in segs.items():  # alternate so that both see the same machine load
                total, memory = time_steps(seg, frames, ("memory", "associate"))
                sums[name][0] += total
                sums[name][1] += memory
                sums[name][2] += len(frames)
    ms = {name: (1000 * t / n, 1000 * m / n) for name, (t, m, n) in sums.items()}
    print(f"map revision cost, {args.scenes} scenes x 60 frames x {args.repeats}, {os.cpu_count()} CPU cores")
    print("| map revision | ms/frame | associate + memory ms/frame | step / neither |\n|---|---|---|---|")
    for name, (step, memory) in ms.items():
        print(f"| {name} | {step:.1f} | {memory:.1f} | {step / ms['neither'][0]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
