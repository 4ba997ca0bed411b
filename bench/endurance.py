"""Does a long run stay as fast and as small as it starts? Step time and memory over thousands of frames.

    python bench/endurance.py                          # 3000 frames of the 1500-frame scan, there and back
    python bench/endurance.py --frames 200 --window 50 --out /tmp/endurance

Scene: the long scan of bench/long_run.py (``data/synth/long``, 1 scene x 1500 frames, 320x240, seed
4242, generated if missing), played forwards and then backwards (the camera revisits everything it
saw) until ``--frames`` frames. Pipeline: the default learned one (the shipped weights), ``sim`` masks of
the benchmarks' seed. No evaluation runs during the loop, so the times are the pipeline's alone.

Reports, from this one run: the median step time of the first and of the last ``--window`` frames and
their ratio (with 3000 frames of the 1500-frame scan the last window plays the first window's views
backwards, so both see the same views, the last with a full map); the process's resident memory
(RSS) and the map's size (voxels) after the first window (the warm-up) and at the end, and the
memory growth per 100k map voxels added (growth that the map's size does not explain would show as
RSS rising while the map stands still). Writes ``OUT/endurance.csv`` (a row every ``--every``
frames), ``OUT/steps.csv`` (every frame's step time) and ``OUT/endurance.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
from common import MASK_SEED, ensure_scenes

from samosaic3d_core.data.scannet import SceneReader, list_scenes
from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig


def rss_mib() -> float:
    """Resident set size of this process, MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def there_and_back(frames: list, count: int):
    """``count`` frames: the scan forwards, backwards, forwards, ... (indices keep increasing)."""
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    for i in range(count):
        yield i, frames[order[i % len(order)]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/synth/long"))
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--window", type=int, default=300, help="frames of the warm-up and of each timed window")
    parser.add_argument("--every", type=int, default=50, help="a CSV row every this many frames")
    parser.add_argument("--out", type=Path, default=Path("out/bench/endurance"))
    args = parser.parse_args(argv)
    if args.frames < 2 * args.window:
        parser.error("--frames must be at least 2 x --window (the first and the last window)")

    import dataclasses

    root = ensure_scenes(args.data, 1, 1500, 4242, 320, 240)
    scene = list_scenes(root)[0]
    print(f"reading {scene} ...", flush=True)
    frames = list(SceneReader(scene))
    seg = OnlineSegmenter.from_config(SegmenterConfig.from_flat({"masks.source": "sim", "masks.sim.seed": MASK_SEED}))
    step_ms, rows = [], []
    warm = {}
    started = time.perf_counter()
    for i, frame in there_and_back(frames, args.frames):
        frame = dataclasses.replace(frame, index=i, timestamp=i / 30.0)
        t0 = time.perf_counter()
        seg.step(frame)
        step_ms.append((time.perf_counter() - t0) * 1e3)
        if i + 1 == args.window:
            warm = {"rss": rss_mib(), "voxels": seg.memory.num_voxels}
        if (i + 1) % args.every == 0 or i + 1 == args.frames:
            rows.append({"frames": i + 1, "median_step_ms": float(np.median(step_ms[-args.every:])),
                         "rss_mib": round(rss_mib(), 1), "map_voxels": seg.memory.num_voxels,
                         "instances": len(seg.instances())})
            print(f"frame {i + 1}: {rows[-1]}", flush=True)
    seconds = time.perf_counter() - started
    end = {"rss": rss_mib(), "voxels": seg.memory.num_voxels}

    first = float(np.median(step_ms[:args.window]))
    last = float(np.median(step_ms[-args.window:]))
    grown = end["rss"] - warm["rss"]
    added = end["voxels"] - warm["voxels"]
    per_100k = grown / added * 1e5 if added > 0 else float("nan")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "endurance.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(args.out / "steps.csv", "w", newline="") as f:
        f.write("frame,step_ms\n" + "".join(f"{i + 1},{ms:.2f}\n" for i, ms in enumerate(step_ms)))
    plot(rows, args.out / "endurance.png")
    print(f"\n{args.frames} frames in {seconds:.0f} s, {os.cpu_count()} CPU cores\n")
    print("| measure | value |\n|---|---:|")
    print(f"| median step, first {args.window} frames (ms) | {first:.1f} |")
    print(f"| median step, last {args.window} frames (ms) | {last:.1f} |")
    print(f"| last / first | {last / first:.2f} |")
    print(f"| RSS after warm-up (frame {args.window}) / at the end (MiB) | {warm['rss']:.0f} / {end['rss']:.0f} |")
    print(f"| map voxels after warm-up / at the end | {warm['voxels']} / {end['voxels']} |")
    print(f"| RSS growth per 100k map voxels added (MiB) | {per_100k:.1f} |")
    print(f"\nwritten {args.out}/endurance.csv and endurance.png")
    return 0


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["frames"] for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True)
    for ax, key, label in zip(axes, ("median_step_ms", "rss_mib", "map_voxels"),
                              ("median step (ms)", "RSS (MiB)", "map voxels")):
        ax.plot(x, [r[key] for r in rows], color="#4477aa")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("frames processed")
    axes[0].set_title("the long scan there and back: step time and memory")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
