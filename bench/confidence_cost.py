"""Per-frame time with the "support" and the "learned" instance confidence, in one run (alternating).

    python bench/confidence_cost.py                  # validation scenes, sim masks, shipped weights
    python bench/confidence_cost.py --repeats 3 --scenes 1

Prints ms/frame of the step, of the association and memory stages, and of reading the instances
after every step as the node does to publish them, for ``memory.confidence`` "support" and
"learned", and the ratio of step plus reading to "support"'s. Association reads the map instances
without their scores (``SceneMemory.instances(scored=False)``), so the learned scores are computed
when the instances are read, once per state of the map.
"""

from __future__ import annotations

import os
import time

from common import cost_setup

from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig


def time_with_reads(seg: OnlineSegmenter, frames) -> tuple[float, float, float]:
    """Seconds of the steps, of their association + memory stages, and of ``instances()`` after each."""
    seg.reset()
    step = staged = read = 0.0
    for frame in frames:
        started = time.perf_counter()
        result = seg.step(frame)
        step += time.perf_counter() - started
        staged += result.timings["associate"] + result.timings["memory"]
        started = time.perf_counter()
        seg.instances()
        read += time.perf_counter() - started
    return step, staged, read


def main(argv=None) -> int:
    args, scenes, base = cost_setup(argv, __doc__)
    segs = {kind: OnlineSegmenter.from_config(SegmenterConfig.from_flat({**base, "memory.confidence": kind}))
            for kind in ("support", "learned")}
    sums = {kind: [0.0, 0.0, 0.0, 0] for kind in segs}
    for _ in range(args.repeats):
        for frames in scenes:
            for kind, seg in segs.items():  # alternate so that both see the same machine load
                for k, value in enumerate(time_with_reads(seg, frames)):
                    sums[kind][k] += value
                sums[kind][3] += len(frames)
    ms = {kind: [1000 * t / n for t in (step, staged, read)] for kind, (step, staged, read, n) in sums.items()}
    print(f"instance confidence cost, {args.scenes} scenes x 60 frames x {args.repeats}, {os.cpu_count()} CPU cores")
    print("| confidence | step ms/frame | associate + memory ms/frame | instances() ms/frame | step + instances() / support |")
    print("|---|---|---|---|---|")
    base = ms["support"][0] + ms["support"][2]
    for kind, (step, staged, read) in ms.items():
        print(f"| {kind} | {step:.1f} | {staged:.1f} | {read:.2f} | {(step + read) / base:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
