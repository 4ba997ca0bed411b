"""bench/gpu_bench.sh on a machine without a GPU: the same path runs on the CPU and prints its table."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_bench_script_runs_its_cpu_path(tmp_path):
    out = tmp_path / "gpu.md"
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        ["bash", "bench/gpu_bench.sh", "--frames", "4", "--warmup", "1", "--width", "160", "--height", "128",
         "--fastsam-imgsz", "160", "--fastsam-masks", "20", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the CPU path runs" in proc.stdout
    match = re.search(r"END-TO-END: ([\d.]+) ms/frame, ([\d.]+) FPS", proc.stdout)
    assert match and float(match.group(1)) > 0 and float(match.group(2)) > 0
    table = out.read_text()
    assert "4 frames (1 warm-up)" in table
    for stage in ("fastsam", "refine", "lift", "frame_model", "associate", "memory", "end-to-end", "sim stand-in"):
        assert re.search(rf"^\| {stage} \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$", table, re.M), stage
    # FastSAM decoded masks (random weights, no confidence floor): its post-processing was timed too
    decoded = re.search(r"(\d+) masks decoded per frame", table)
    assert decoded and 0 < int(decoded.group(1)) <= 20


def test_gpu_bench_refuses_fewer_frames_than_warm_up():
    proc = subprocess.run([sys.executable, "bench/gpu_bench.py", "--frames", "2", "--warmup", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--frames must be more than --warmup" in proc.stderr
