"""What keeping freed memory (``keep_freed_memory``) saves per frame: page faults, CPU and wall time.

Each setting runs in its own process (the setting is process-wide), alternating, ``--repeats``
times: the learned pipeline over generated frames (default 640x480 with ``oversegment`` masks, the
demo's setting). Per frame it reports the median wall time of each stage and of the step, and
the mean minor page faults and CPU seconds of the process (``getrusage``), which a busy shared
machine does not blur the way it blurs wall time.

    python bench/allocator_cost.py                      # 640x480, oversegment, 2 x 30 frames
    python bench/allocator_cost.py --width 320 --height 240 --masks sim
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STAGES = ("masks", "lift", "frame_model", "associate", "memory", "refine")
WARMUP = 3


def measure(args) -> dict:
    """One process: frames through the segmenter with ``keep_freed_memory`` as asked."""
    from samosaic3d_core.data.synth import SynthConfig, generate_scene
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    frames = list(generate_scene(SynthConfig(frames=args.frames, width=args.width, height=args.height), seed=args.seed))
    flat = {"masks.source": args.masks, "keep_freed_memory": args.keep == "on"}
    if args.masks == "sim":
        flat["masks.sim.seed"] = 12345
    seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat(flat))
    stages: dict[str, list[float]] = {key: [] for key in (*STAGES, "step")}
    faults, cpu = [], []
    for i, frame in enumerate(frames):
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        result = seg.step(frame)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        if i < WARMUP:
            continue
        for key in STAGES:
            stages[key].append(result.timings.get(key, 0.0) * 1e3)
        stages["step"].append(elapsed * 1e3)
        faults.append(after.ru_minflt - before.ru_minflt)
        cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3)
    out = {key: float(np.median(v)) for key, v in stages.items()}
    out.update(faults=float(np.mean(faults)), cpu_ms=float(np.mean(cpu)),
               rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--masks", default="oversegment")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", choices=["on", "off"], help=argparse.SUPPRESS)  # one measuring process
    args = parser.parse_args(argv)
    if args.frames <= WARMUP:
        parser.error(f"--frames must be more than the {WARMUP} warm-up frames")
    if args.keep:
        print(json.dumps(measure(args)))
        return
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for keep in ("off", "on"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--keep", keep, "--frames", str(args.frames),
                   "--width", str(args.width), "--height", str(args.height), "--seed", str(args.seed),
                   "--masks", args.masks]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            runs[keep].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{args.width}x{args.height}, {args.masks} masks, {args.frames - WARMUP} frames per run, "
          f"{args.repeats} runs per setting, alternating")
    print("| per frame | keep_freed_memory off | on | on / off |")
    print("|---|---:|---:|---:|")
    rows = [("minor page faults", "faults"), ("CPU time of the process (ms)", "cpu_ms")]
    rows += [(f"{key}, median ms", key) for key in (*STAGES, "step")]
    for label, key in rows:
        off = np.mean([r[key] for r in runs["off"]])
        on = np.mean([r[key] for r in runs["on"]])
        print(f"| {label} | {off:.1f} | {on:.1f} | {on / off if off else float('nan'):.2f} |")
    off = max(r["rss_mib"] for r in runs["off"])
    on = max(r["rss_mib"] for r in runs["on"])
    print(f"| peak RSS (MiB) | {off:.0f} | {on:.0f} | {on / off:.2f} |")


if __name__ == "__main__":
    main()
