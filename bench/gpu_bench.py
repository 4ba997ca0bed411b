"""End-to-end timing on one GPU: FastSAM-s masks + the learned pipeline on generated 640x480 frames.

    bash bench/gpu_bench.sh                 # on a CUDA machine: installs the matching spconv, then this
    python bench/gpu_bench.py --device cpu --frames 8 --width 320 --height 240   # the same path on a CPU

What runs per frame:
* FastSAM-s: the network is built from ultralytics' own model definition (``yolov8s-seg.yaml`` with one
  class, which is what FastSAM-s is) with random weights, saved as a checkpoint and loaded through the
  project's ``fastsam`` mask source, FP16 on CUDA. Random weights time the same as trained ones in the
  network; their detections are not objects, so
* the fragments handed on to the 3D pipeline are the generated scene's SAM-like ``sim`` fragments
  (what trained FastSAM gives on these scenes in count and shape). Their cost is a stand-in and is
  left out of the end-to-end figure; it is printed on its own line.
* the learned pipeline (pose refinement, lifting, sparse U-Net + F2I, I2S association, memory) on
  ``--device``, FP32 (``--amp`` runs the frame model under FP16 autocast, to try).

Prints per-stage ms (mean / median / p95 over the frames after ``--warmup``) and the end-to-end
ms and FPS, and writes the table to ``--out``. Stops early, with what it has, after ``--budget-s``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from common import write_report

STAGES = ("fastsam", "refine", "lift", "frame_model", "associate", "memory")


def fastsam_s_checkpoint(path: Path) -> Path:
    """Write a FastSAM-s-shaped network (ultralytics' yolov8s-seg definition, 1 class) with random weights."""
    import torch
    from ultralytics.nn.tasks import SegmentationModel

    torch.manual_seed(0)
    model = SegmentationModel("yolov8s-seg.yaml", nc=1, verbose=False)
    model.args = {"task": "segment"}
    torch.save({"model": model.half(), "train_args": {"task": "segment"}}, path)
    return path


class TimedFastSAM:
    """Mask source: runs FastSAM (timed, device synchronised) and returns the ``sim`` fragments."""

    def __init__(self, fastsam, stand_in, device: str):
        self.fastsam, self.stand_in, self.device = fastsam, stand_in, device
        self.fastsam_s: list[float] = []
        self.stand_in_s: list[float] = []
        self.fastsam_masks: list[int] = []

    def __call__(self, frame):
        started = time.perf_counter()
        result = self.fastsam(frame)
        _synchronise(self.device)
        self.fastsam_s.append(time.perf_counter() - started)
        self.fastsam_masks.append(len(result))
        started = time.perf_counter()
        masks = self.stand_in(frame)
        self.stand_in_s.append(time.perf_counter() - started)
        return masks


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def build(args, device: str, weights: Path):
    import torch

    from samosaic3d_core.masks import make_mask_source
    from samosaic3d_core.pipeline import OnlineSegmenter, SegmenterConfig

    config = SegmenterConfig.from_flat({"pipeline": "learned", "device": device, "masks.source": "sim",
                                        "masks.sim.seed": 12345})
    seg = OnlineSegmenter.from_config(config)
    fp16 = args.fp16 and device.startswith("cuda")
    # random weights score every anchor alike: a confidence floor of 0 and ``max_det`` keep the number
    # of decoded masks at what trained FastSAM finds in a room (--fastsam-masks), so post-processing is timed too
    fastsam = make_mask_source("fastsam", weights=str(weights), device=device, imgsz=args.fastsam_imgsz, half=fp16,
                               conf=0.0, max_det=args.fastsam_masks)
    seg.mask_source = TimedFastSAM(fastsam, seg.mask_source, device)
    if args.amp and device.startswith("cuda"):
        model = seg.frame_model

        def autocast_frame_model(*inputs):
            with torch.autocast("cuda", dtype=torch.float16):
                return model(*inputs)

        seg.frame_model = autocast_frame_model
    return seg, fp16


def run(args, seg, frames, device: str) -> tuple[dict[str, np.ndarray], int]:
    """Per-stage ms of the counted frames (after the warm-up); stops after ``budget_s``."""
    timed: TimedFastSAM = seg.mask_source
    per_stage: dict[str, list[float]] = {key: [] for key in (*STAGES, "sim stand-in", "end-to-end")}
    started_all = time.perf_counter()
    done = 0
    for i, frame in enumerate(frames):
        if time.perf_counter() - started_all > args.budget_s:
            print(f"budget of {args.budget_s:g} s reached after {i} frames", flush=True)
            break
        started = time.perf_counter()
        result = seg.step(frame)
        _synchronise(device)
        total = time.perf_counter() - started
        done = i + 1
        if i < args.warmup:
            continue
        stand_in = timed.stand_in_s[-1]
        stage = dict(result.timings, fastsam=timed.fastsam_s[-1])
        for key in STAGES:
            per_stage[key].append(stage.get(key, 0.0) * 1e3)
        per_stage["sim stand-in"].append(stand_in * 1e3)
        per_stage["end-to-end"].append((total - stand_in) * 1e3)
    return {key: np.asarray(v) for key, v in per_stage.items()}, done


def describe_machine(device: str, threads: int) -> str:
    import spconv
    import torch

    if device.startswith("cuda"):
        what = f"GPU {torch.cuda.get_device_name(torch.device(device))}, CUDA runtime {torch.version.cuda}"
    else:
        what = f"CPU only ({os.cpu_count()} cores, {threads} torch threads)"
    return f"{what}; torch {torch.__version__}, spconv {spconv.__version__}, Python {platform.python_version()}"


def table(args, stages, done: int, device: str, threads: int, fp16: bool, masks_per_frame: float) -> str:
    e2e = stages["end-to-end"]
    lines = [
        f"# GPU benchmark: FastSAM-s + learned pipeline, {args.width}x{args.height}, {done} frames "
        f"({args.warmup} warm-up), seed {args.seed}",
        "",
        f"Machine: {describe_machine(device, threads)}.",
        f"FastSAM-s: random weights, imgsz {args.fastsam_imgsz}, {'FP16' if fp16 else 'FP32'}, "
        f"{masks_per_frame:.0f} masks decoded per frame; frame model {'FP16 autocast' if args.amp else 'FP32'}.",
        "",
        "| stage | mean ms | median ms | p95 ms |",
        "|---|---:|---:|---:|",
    ]
    for key in (*STAGES, "end-to-end", "sim stand-in"):
        v = stages[key]
        if len(v):
            lines.append(f"| {key} | {v.mean():.1f} | {np.median(v):.1f} | {np.percentile(v, 95):.1f} |")
    fps = 1e3 / e2e.mean() if len(e2e) else float("nan")
    lines += [
        "",
        "end-to-end = the whole step with FastSAM, less the sim stand-in (fragments a trained FastSAM would give).",
        "",
        f"END-TO-END: {e2e.mean() if len(e2e) else float('nan'):.1f} ms/frame, {fps:.1f} FPS",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--warmup", type=int, default=10, help="frames not counted (CUDA/cuDNN warm-up)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--device", default="auto", help="auto (cuda:0 when available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--fastsam-imgsz", type=int, default=640, help="FastSAM inference size (longest side)")
    parser.add_argument("--fastsam-masks", type=int, default=100, help="masks FastSAM decodes per frame")
    parser.add_argument("--no-fp16", dest="fp16", action="store_false", help="FastSAM in FP32 on CUDA")
    parser.add_argument("--amp", action="store_true", help="run the frame model under FP16 autocast (CUDA)")
    parser.add_argument("--budget-s", type=float, default=360.0, help="stop the frame loop after this many seconds")
    parser.add_argument("--out", type=Path, default=Path("out/bench/gpu.md"))
    args = parser.parse_args(argv)
    if args.frames <= args.warmup:
        parser.error("--frames must be more than --warmup")
    os.environ.setdefault("YOLO_OFFLINE", "1")

    import torch

    from samosaic3d_core.data.synth import SynthConfig, generate_scene

    device = ("cuda:0" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    threads = torch.get_num_threads()
    if not device.startswith("cuda"):
        print("no CUDA device: timing the CPU path (not a GPU figure)", flush=True)
    print(f"generating {args.frames} frames {args.width}x{args.height} ...", flush=True)
    frames = list(generate_scene(SynthConfig(frames=args.frames, width=args.width, height=args.height), seed=args.seed))
    with tempfile.TemporaryDirectory(prefix="gpu_bench_") as tmp:
        weights = fastsam_s_checkpoint(Path(tmp) / "fastsam-s-random.pt")
        seg, fp16 = build(args, device, weights)
        print(f"running on {device} ...", flush=True)
        stages, done = run(args, seg, frames, device)
    if done <= args.warmup:
        print(f"only {done} frames ran within --budget-s {args.budget_s:g}: nothing counted")
        return 1
    masks = float(np.mean(seg.mask_source.fastsam_masks)) if seg.mask_source.fastsam_masks else 0.0
    text = table(args, stages, done, device, threads, fp16, masks)
    write_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
