"""Soak: the node fed 640x480 frames at 30 Hz for minutes; crashes, memory and latency per minute.

    python bench/soak.py                         # 10 minutes, seed 7, 60 frames cycled
    python bench/soak.py --minutes 1 --out /tmp/soak

A ``samosaic3d_node`` subprocess (config/samosaic3d.yaml: the learned pipeline, ``oversegment``
masks, single-threaded executor, the large-data Fast DDS profile) gets colour, depth, camera info
and /tf at ``--rate`` Hz, not waiting for it; the 60 frames of one generated scan are sent over and
over (so after the first pass the map holds the whole scan and stops growing; the stamps keep
increasing). Every second the node's resident memory (/proc) and its map size (its /diagnostics)
are sampled. Reports: whether the node was alive at the end (crashes), per-minute latency
percentiles (frame_cloud arrival - image stamp) and frames processed, RSS after the first minute
(warm-up) and at the end, the map's size then, and the RSS growth beyond the first minute.
Writes ``OUT/soak.md``, ``OUT/soak.csv`` (per-second samples) and ``OUT/soak.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_node import quantised_frames
from node_harness import NodeHarness, frame_messages


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def soak(context, domain: int, log_dir: str, messages, rate_hz: float, seconds: float) -> dict:
    harness = NodeHarness(context, domain, log_dir, "soak", input_qos="reliable")
    samples = []  # (t, rss MiB, map points)
    try:
        harness.wait_ready()
        harness.send(messages[0], time.time_ns(), prime=True)
        harness.wait(lambda: harness.clouds, 60.0, "the warm-up frame")
        first_cloud = len(harness.clouds)
        sent: dict[int, float] = {}
        period = 1.0 / rate_hz
        start = time.perf_counter()
        next_sample = 0.0
        i = 0
        while True:
            now = time.perf_counter() - start
            if now >= seconds:
                break
            if now >= next_sample:
                diag = harness.diagnostics[-1] if harness.diagnostics else {}
                samples.append((now, rss_mib(harness.proc.pid), int(diag.get("memory_map_points", 0))))
                next_sample += 1.0
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamp = time.time_ns()
            sent[stamp] = time.perf_counter() - start
            harness.send(messages[(i + 1) % len(messages)], stamp)
            i += 1
        time.sleep(3.0)
        alive = harness.proc.poll() is None
        arrivals = [(sent[s], (a - s * 1e-9) * 1e3) for s, a in harness.clouds[first_cloud:] if s in sent]
        final = harness.diagnostics[-1] if harness.diagnostics else {}
    finally:
        harness.close()
    return {"alive": alive, "arrivals": arrivals, "samples": samples, "sent": i, "seconds": seconds,
            "dropped": int(final.get("dropped_frames", 0)), "skipped": int(final.get("skipped_frames", 0))}


def report(args, result) -> str:
    arrivals = np.asarray(result["arrivals"]).reshape(-1, 2)
    samples = np.asarray(result["samples"]).reshape(-1, 3)
    lines = [
        f"# Soak: {args.minutes:g} min at {args.rate:g} Hz, {args.width}x{args.height}, seed {args.seed}",
        "",
        f"Node alive at the end: {'yes' if result['alive'] else 'NO (crashed)'}; frames sent {result['sent']}, "
        f"processed {len(arrivals)}, dropped while busy {result['dropped']}, skipped {result['skipped']}, "
        f"lost in transport {result['sent'] - len(arrivals) - result['dropped'] - result['skipped']}.",
        "",
        "| minute | frames processed | latency p50 / p90 / p99 (ms) | RSS at its end (MiB) | map points |",
        "|---|---:|---:|---:|---:|",
    ]
    for minute in range(int(np.ceil(args.minutes))):
        sel = (arrivals[:, 0] >= 60 * minute) & (arrivals[:, 0] < 60 * (minute + 1))
        pct = np.percentile(arrivals[sel, 1], [50, 90, 99]) if sel.any() else [float("nan")] * 3
        at = samples[samples[:, 0] < 60 * (minute + 1)]
        rss, points = (at[-1, 1], int(at[-1, 2])) if len(at) else (float("nan"), 0)
        lines.append(f"| {minute + 1} | {int(sel.sum())} | {pct[0]:.0f} / {pct[1]:.0f} / {pct[2]:.0f} | "
                     f"{rss:.0f} | {points} |")
    warm = samples[samples[:, 0] >= 60][0] if (samples[:, 0] >= 60).any() else samples[0]
    end = samples[-1]
    growth = (end[1] - warm[1]) / warm[1] if warm[1] else float("nan")
    lines += [
        "",
        f"RSS after the first minute {warm[1]:.0f} MiB (map {int(warm[2])} points), at the end {end[1]:.0f} MiB "
        f"(map {int(end[2])} points): growth {100 * growth:+.1f} %.",
    ]
    return "\n".join(lines) + "\n"


def plot(args, result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrivals = np.asarray(result["arrivals"]).reshape(-1, 2)
    samples = np.asarray(result["samples"]).reshape(-1, 3)
    minutes = np.arange(int(np.ceil(args.minutes)))
    pct = []
    for minute in minutes:
        sel = (arrivals[:, 0] >= 60 * minute) & (arrivals[:, 0] < 60 * (minute + 1))
        pct.append(np.percentile(arrivals[sel, 1], [50, 90, 99]) if sel.any() else [np.nan] * 3)
    pct = np.asarray(pct)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5.5))
    for k, label in enumerate(("p50", "p90", "p99")):
        ax1.plot(minutes + 1, pct[:, k], marker="o", label=label)
    ax1.set_xlabel("minute")
    ax1.set_ylabel("latency (ms)")
    ax1.set_ylim(bottom=0)
    ax1.legend()
    ax1.set_title(f"soak at {args.rate:g} Hz, {args.width}x{args.height}: latency per minute")
    ax2.plot(samples[:, 0] / 60, samples[:, 1], color="#4477aa")
    ax2.set_xlabel("minutes")
    ax2.set_ylabel("node RSS (MiB)", color="#4477aa")
    ax2.set_ylim(bottom=0)
    twin = ax2.twinx()
    twin.plot(samples[:, 0] / 60, samples[:, 2], color="#cc6677")
    twin.set_ylabel("map points", color="#cc6677")
    twin.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    from samosaic3d_ros.dds import use_large_data_profile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=60, help="frames of the scan, sent over and over")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID") or 71))
    parser.add_argument("--out", type=Path, default=Path("out/bench/soak"))
    args = parser.parse_args(argv)

    import rclpy

    frames = quantised_frames(args.frames, args.width, args.height, args.seed)
    log_dir = tempfile.mkdtemp(prefix="soak_")
    os.environ.update(ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_LOG_DIR=log_dir)
    use_large_data_profile()
    messages = [frame_messages(f) for f in frames]
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain)
    try:
        print(f"soaking for {args.minutes:g} min at {args.rate:g} Hz ...", flush=True)
        result = soak(context, args.domain, log_dir, messages, args.rate, 60.0 * args.minutes)
    finally:
        rclpy.try_shutdown(context=context)
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(args, result)
    (args.out / "soak.md").write_text(text)
    with open(args.out / "soak.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seconds", "rss_mib", "map_points"])
        writer.writerows([(f"{t:.1f}", f"{r:.1f}", p) for t, r, p in result["samples"]])
    plot(args, result, args.out / "soak.png")
    print(text)
    print(f"written {args.out}/soak.md, soak.csv, soak.png (node log: {log_dir})")
    return 0 if result["alive"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
