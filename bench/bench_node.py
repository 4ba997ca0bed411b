"""What the ROS 2 node costs on top of the core pipeline, measured on one synthetic scan in one run.

    python bench/bench_node.py [--frames 60] [--width 640] [--height 480] [--seed 7] [--out out/bench/node.md]

a. core alone: ``OnlineSegmenter.step`` per frame, no ROS;
b. the node (a ``samosaic3d_node`` subprocess, reliable inputs) fed the same frames over DDS in
   lock-step, every pose published before the first image; per-frame stage times come from its
   /diagnostics (a 0.05 s window holding exactly one frame): input conversion, the core step inside
   the node, publishing, and the whole frame; plus the round trip images out -> frame_cloud back;
c. packing 200k labelled points into a ``PointCloud2`` with the node's ``cloud_conv`` functions;
d. the node fed colour/depth/camera_info/tf at 30 Hz, not waiting for it (reliable inputs by default:
   with best effort, Fast DDS defaults and 640x480 images no frame reached the node on the machine
   this was written on; ``--stream-qos sensor_data`` tries it), once per ``--executor`` (both by
   default, in this run); latency = arrival of /instances/frame_cloud - header stamp (wall clock at
   publish), against the worker's median processing time; histogram in ``--plot``. The node keeps only
   the newest frame while busy, so most frames are dropped by design: processed/sent.

Both the core and the node get identical images: depth is quantised to millimetres (16UC1) first.
Pipeline and mask source come from config/samosaic3d.yaml (pipeline auto: the learned model with the shipped weights; oversegment masks).
The table is printed and written to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from node_harness import CONFIG, REPO, NodeHarness, frame_messages

sys.path.insert(0, str(REPO))

DIAG_PERIOD = 0.05
FRAME_TIMEOUT = 8.0  # s for one lock-step result (the node waits up to tf_timeout = 2 s for the pose)


def quantised_frames(frames_n: int, width: int, height: int, seed: int):
    """The scan's frames without ground truth, depth rounded to millimetres (what a 16UC1 image carries)."""
    from samosaic3d_core.data.synth import SynthConfig, generate_scene

    scene = generate_scene(SynthConfig(frames=frames_n, width=width, height=height), seed=seed)
    frames = []
    for frame in scene:
        mm = np.round(np.nan_to_num(frame.depth, nan=0.0, posinf=0.0) * 1000.0).clip(0, 65535).astype(np.uint16)
        frames.append(dataclasses.replace(frame, depth=mm.astype(np.float32) / 1000.0, instance_gt=None, part_gt=None))
    return frames


def stats(ms) -> tuple[float, float]:
    ms = np.asarray(ms, np.float64)
    return (float(ms.mean()), float(np.median(ms))) if len(ms) else (float("nan"), float("nan"))


# ------------------------------------------------------------------------------------------ a. core
def bench_core(frames, params) -> tuple[list[float], dict[str, list[float]]]:
    """ms per ``step`` and the step's own stage times (ms) per frame."""
    from samosaic3d_ros.params import build_segmenter

    segmenter = build_segmenter(params)
    out, stages = [], {}
    for frame in frames:
        started = time.perf_counter()
        result = segmenter.step(frame)
        out.append((time.perf_counter() - started) * 1e3)
        for key, seconds in result.timings.items():
            stages.setdefault(key, []).append(seconds * 1e3)
    return out, stages


# ------------------------------------------------------------------------------------------ c. packing
def bench_packing(n: int = 200_000, repeats: int = 7) -> dict[str, float]:
    from std_msgs.msg import Header

    from samosaic3d_ros.cloud_conv import array_to_cloud, labelled_points
    from samosaic3d_core.colors import instance_rgb_packed

    rng = np.random.default_rng(0)
    xyz = rng.uniform(-5, 5, (n, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    ids = rng.integers(0, 60, n).astype(np.int32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    header = Header(frame_id="map")
    times: dict[str, list[float]] = {"instance_rgb": [], "labelled_points": [], "array_to_cloud": [], "all": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        colours = instance_rgb_packed(ids, rgb)
        t1 = time.perf_counter()
        points = labelled_points(xyz, colours, ids, scores)
        t2 = time.perf_counter()
        msg = array_to_cloud(points, header)
        t3 = time.perf_counter()
        assert msg.width == n
        for key, dt in (("instance_rgb", t1 - t0), ("labelled_points", t2 - t1), ("array_to_cloud", t3 - t2),
                        ("all", t3 - t0)):
            times[key].append(dt * 1e3)
    return {key: float(np.median(v)) for key, v in times.items()}


# ------------------------------------------------------------------------------------------ b., d. the node
def bench_lockstep(context, domain, log_dir, messages) -> dict:
    """Every frame through the node, one at a time; per-frame stage times (ms) from /diagnostics."""
    harness = NodeHarness(context, domain, log_dir, "lockstep", input_qos="reliable", tf_timeout=2.0,
                          diagnostics_period=DIAG_PERIOD)
    stages: dict[str, list[float]] = {}
    round_trip, skipped = [], 0
    try:
        harness.wait_ready()
        # every pose first (stamps 50 ms apart, inside the node's 10 s TF cache), so that a late /tf sample
        # cannot hold up a frame: the lock-step times measure images in -> results out
        base = time.time_ns()
        stamps = [base + i * 50_000_000 for i in range(len(messages))]
        for msgs, stamp in zip(messages, stamps):
            harness.send_tf(msgs[3], stamp)
        harness.info.publish(messages[0][2])  # and the camera info, before any image
        time.sleep(1.0)
        for i, (msgs, stamp) in enumerate(zip(messages, stamps)):
            n_diag = len(harness.diagnostics)
            sent = time.time()
            harness.send(msgs, stamp, tf=False)
            try:
                harness.wait(lambda: any(s == stamp for s, _ in harness.clouds), FRAME_TIMEOUT, f"frame {i}")
            except TimeoutError:  # skipped by the node (its log says why)
                skipped += 1
                continue
            arrived = next(a for s, a in harness.clouds if s == stamp)
            round_trip.append((arrived - sent) * 1e3)

            def window():  # the first window since this frame was sent that processed a frame: exactly this one
                return next((d for d in harness.diagnostics[n_diag:] if float(d["processing_rate_hz"]) > 0), None)

            harness.wait(lambda: window() is not None, 5.0, f"diagnostics of frame {i}")
            for key, value in window().items():
                if key.startswith("latency_") and key.endswith("_ms"):
                    stages.setdefault(key[len("latency_"):-len("_ms")], []).append(float(value))
    finally:
        harness.close()
    return {"stages": stages, "round_trip": round_trip, "skipped": skipped}


def bench_stream(context, domain, log_dir, messages, rate_hz: float, seconds: float, qos: str,
                 executor: str = "single_threaded", queue_depth: int | None = None) -> dict:
    """Publish at ``rate_hz`` for ``seconds`` (frames cycled), not waiting for the node; ``qos``: the inputs';
    ``executor`` and ``queue_depth`` (``input_queue_depth``; None: the config's): the node's parameters."""
    depth = {} if queue_depth is None else {"input_queue_depth": queue_depth}
    harness = NodeHarness(context, domain, log_dir, f"stream_{executor}", input_qos=qos, executor=executor, **depth)
    try:
        harness.wait_ready()
        harness.send(messages[0], time.time_ns(), prime=True)  # warm-up frame, not counted
        harness.wait(lambda: harness.clouds, 30.0, "the warm-up frame")
        time.sleep(0.5)
        warmup_clouds = len(harness.clouds)
        n_diag = len(harness.diagnostics)
        sent_stamps = set()
        period = 1.0 / rate_hz
        start = time.perf_counter()
        total = int(round(seconds * rate_hz))
        for i in range(total):
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamp = time.time_ns()
            sent_stamps.add(stamp)
            harness.send(messages[(i + 1) % len(messages)], stamp)
        # let the node finish its last frame and publish a diagnostics window after it
        time.sleep(2.0)
        harness.wait(lambda: len(harness.diagnostics) > n_diag, 5.0, "final diagnostics")
        time.sleep(1.2)
        latency = [(a - s * 1e-9) * 1e3 for s, a in harness.clouds[warmup_clouds:] if s in sent_stamps]
        processing = [float(d["latency_frame_ms"]) for d in harness.diagnostics[n_diag:] if "latency_frame_ms" in d]
        final = harness.diagnostics[-1]
        base = harness.diagnostics[n_diag - 1] if n_diag else {}

        def counted(key):  # the node's running total over the stream (diagnostics before and after it)
            return int(final.get(key, 0)) - int(base.get(key, 0))

        dropped, skipped = counted("dropped_frames"), counted("skipped_frames")
        received, node_processed = counted("received_frames"), counted("processed_frames")
        color, depth = counted("received_color_messages"), counted("received_depth_messages")
    finally:
        harness.close()
    return {"sent": total, "processed": len(latency), "latency": latency, "dropped": dropped, "skipped": skipped,
            "received": received, "node_processed": node_processed, "color": color, "depth": depth,
            "seconds": seconds, "qos": qos, "executor": executor, "processing": processing, "queue_depth": queue_depth}


# ------------------------------------------------------------------------------------------ report
def machine_note() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} CPU cores{f' ({model})' if model else ''}, load average {load:.1f} at start, " \
           f"Python {platform.python_version()}"


def stage_split(stages: dict[str, list[float]]) -> str:
    return ", ".join(f"{k} {np.mean(v):.1f}" for k, v in stages.items() if k in CORE_STAGES)


CORE_STAGES = ("refine", "masks", "lift", "frame_model", "associate", "memory")


def stream_rows(args, streams) -> list[str]:
    """Part d: one column per executor that streamed."""
    def cells(fn):
        return " | ".join(fn(stream) for stream in streams)

    def pct(stream):
        lat = np.asarray(stream["latency"])
        return np.percentile(lat, [50, 90, 99]) if len(lat) else [float("nan")] * 3

    def processing(stream):
        return float(np.median(stream["processing"])) if stream["processing"] else float("nan")

    def lost(stream):
        return stream["sent"] - stream["processed"] - stream["dropped"] - stream["skipped"]

    first = streams[0]
    return [
        f"| d. stream at {args.rate:g} Hz for {first['seconds']:g} s ({first['qos']} QoS"
        + (f", input_queue_depth {first['queue_depth']}" if first["queue_depth"] is not None else "") + "), executor | "
        + cells(lambda st: f"`{st['executor']}`") + " |",
        "|---|" + "---:|" * len(streams),
        "| end-to-end latency p50 / p90 / p99 (ms) | " + cells(lambda st: "{:.0f} / {:.0f} / {:.0f}".format(*pct(st))) + " |",
        "| median processing time (worker's whole frame, ms) | " + cells(lambda st: f"{processing(st):.0f}") + " |",
        "| latency p99 / median processing time | " + cells(lambda st: f"{pct(st)[2] / processing(st):.2f}") + " |",
        "| frames processed / sent | " + cells(lambda st: f"{st['processed']} / {st['sent']}") + " |",
        "| dropped by the node while busy (by design: newest frame wins) | " + cells(lambda st: str(st["dropped"])) + " |",
        "| skipped by the node (bad input / no pose) | " + cells(lambda st: str(st["skipped"])) + " |",
        "| not seen by the node (lost in transport or unsynchronised) | " + cells(lambda st: str(lost(st))) + " |",
        "| of those: never received as a synchronised frame (sent - received) | "
        + cells(lambda st: str(st["sent"] - st["received"])) + " |",
        "| colour / depth images the node never received (sent - received) | "
        + cells(lambda st: f"{st['sent'] - st['color']} / {st['sent'] - st['depth']}") + " |",
        "| of those: processed, but the frame cloud did not come back | "
        + cells(lambda st: str(st["node_processed"] - st["processed"])) + " |",
        "| received and neither processed, dropped nor skipped (in flight at the end) | "
        + cells(lambda st: str(st["received"] - st["node_processed"] - st["dropped"] - st["skipped"])) + " |",
    ]


def plot_latency(streams, path: Path) -> None:
    """Histogram of end-to-end latency per executor, with the 2x median processing time mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(streams), 1, figsize=(7, 2.6 * len(streams)), squeeze=False)
    top = max((max(st["latency"]) for st in streams if st["latency"]), default=1.0)
    bins = np.linspace(0, top * 1.02, 60)
    for ax, stream in zip(axes[:, 0], streams):
        lat = np.asarray(stream["latency"])
        ax.hist(lat, bins=bins, color="#4477aa")
        if stream["processing"]:
            limit = 2 * float(np.median(stream["processing"]))
            ax.axvline(limit, color="#cc3311", ls="--", label=f"2 x median processing ({limit:.0f} ms)")
        if len(lat):
            p99 = float(np.percentile(lat, 99))
            ax.axvline(p99, color="black", ls=":", label=f"p99 ({p99:.0f} ms)")
        ax.set_title(f"executor {stream['executor']}: {stream['processed']} of {stream['sent']} frames processed")
        ax.set_ylabel("frames")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("end-to-end latency: frame_cloud arrival - image stamp (ms)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(args, core_ms, core_stages, lock, pack, streams) -> str:
    core_mean, core_med = stats(core_ms)
    st = lock["stages"]
    frame_mean, frame_med = stats(st.get("frame", []))
    step_mean, step_med = stats(st.get("total", []))
    in_mean, in_med = stats(st.get("input", []))
    pub_mean, pub_med = stats(st.get("publish", []))
    rt_mean, rt_med = stats(lock["round_trip"])
    rows = [
        ("a. core alone: `segmenter.step`", f"{core_mean:.1f}", f"{core_med:.1f}", "1.00"),
        ("b. node, core step inside the node", f"{step_mean:.1f}", f"{step_med:.1f}", f"{step_mean / core_mean:.2f}"),
        ("b. node, input (messages -> Frame, pose)", f"{in_mean:.1f}", f"{in_med:.1f}", f"{in_mean / core_mean:.2f}"),
        ("b. node, publish (clouds, instances, markers; publisher thread)", f"{pub_mean:.1f}", f"{pub_med:.1f}",
         f"{pub_mean / core_mean:.2f}"),
        ("b. node, whole frame (`latency_frame_ms`)", f"{frame_mean:.1f}", f"{frame_med:.1f}",
         f"{frame_mean / core_mean:.2f}"),
        ("b. node overhead: whole frame - core alone", f"{frame_mean - core_mean:.1f}", f"{frame_med - core_med:.1f}",
         f"{(frame_mean - core_mean) / core_mean:.2f}"),
        ("b. lock-step round trip: publish -> frame_cloud received", f"{rt_mean:.1f}", f"{rt_med:.1f}",
         f"{rt_mean / core_mean:.2f}"),
        ("c. PointCloud2 packing, 200k points (median of 7)", "", f"{pack['all']:.1f}", f"{pack['all'] / core_mean:.2f}"),
    ]
    lines = [
        f"# samosaic3d_node vs core: {len(core_ms)} frames {args.width}x{args.height}, seed {args.seed}, "
        f"pipeline {args.pipeline}",
        "",
        f"Machine: {machine_note()}.",
        "",
        "| measure | mean ms | median ms | ratio to core mean |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        f"Core stage means (ms), alone: {stage_split(core_stages)}; inside the node: {stage_split(st)}.",
        "",
        f"c. packing split (median ms): instance_rgb {pack['instance_rgb']:.1f}, labelled_points "
        f"{pack['labelled_points']:.1f}, array_to_cloud {pack['array_to_cloud']:.1f}.",
        "",
        *stream_rows(args, streams),
        "",
        f"Lock-step: all poses are published before the first image; {lock['skipped']} frames got no result "
        f"within {FRAME_TIMEOUT:g} s (skipped by the node, see its log). Node stage times are the node's own "
        f"per-frame /diagnostics values (0.1 ms resolution); latency = frame_cloud arrival - header stamp (wall clock).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    from samosaic3d_ros.dds import use_large_data_profile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=30.0, help="stream rate of part d (Hz)")
    parser.add_argument("--stream-seconds", type=float, default=10.0, help="duration of part d (s)")
    parser.add_argument("--stream-qos", choices=["reliable", "sensor_data"], default="reliable",
                        help="input QoS of part d (node parameter input_qos and the publishers; default reliable)")
    parser.add_argument("--executor", choices=["single_threaded", "multi_threaded", "both"], default="both",
                        help="node parameter executor for part d (both: one stream each, in this run)")
    parser.add_argument("--input-queue-depth", type=int, default=None,
                        help="node parameter input_queue_depth for part d (default: config/samosaic3d.yaml's)")
    parser.add_argument("--plot", type=Path, default=Path("out/bench/node_latency.png"),
                        help="latency histogram of part d")
    parser.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID") or 70))
    parser.add_argument("--out", type=Path, default=Path("out/bench/node.md"))
    args = parser.parse_args()

    import rclpy

    from samosaic3d_ros.params import params_from_yaml

    started = time.perf_counter()
    params = params_from_yaml(CONFIG)
    args.pipeline = f"{params.segmenter.pipeline} / {params.segmenter.masks.source} masks"
    print(f"pipeline {params.segmenter.pipeline}, masks {params.segmenter.masks.source}; generating {args.frames} frames ...", flush=True)
    frames = quantised_frames(args.frames, args.width, args.height, args.seed)
    print("a. core alone ...", flush=True)
    core_ms, core_stages = bench_core(frames, params)
    print("c. PointCloud2 packing ...", flush=True)
    pack = bench_packing()

    log_dir = tempfile.mkdtemp(prefix="bench_node_")
    os.environ.update(ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_LOG_DIR=log_dir)
    use_large_data_profile()  # full-resolution images in shared memory (config/fastdds_large_data.xml)
    messages = [frame_messages(f) for f in frames]
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=args.domain)
    try:
        print("b. node lock-step ...", flush=True)
        lock = bench_lockstep(context, args.domain, log_dir, messages)
        print(f"b. done: {len(lock['round_trip'])} frames, {lock['skipped']} skipped", flush=True)
        executors = ["single_threaded", "multi_threaded"] if args.executor == "both" else [args.executor]
        streams = []
        for executor in executors:
            print(f"d. node stream at {args.rate:g} Hz, executor {executor} ...", flush=True)
            streams.append(bench_stream(context, args.domain, log_dir, messages, args.rate, args.stream_seconds,
                                        args.stream_qos, executor, args.input_queue_depth))
    finally:
        rclpy.try_shutdown(context=context)
    text = table(args, core_ms, core_stages, lock, pack, streams)
    plot_latency(streams, args.plot)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written {args.out} and {args.plot} in {time.perf_counter() - started:.0f} s (node logs: {log_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
