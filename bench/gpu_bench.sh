#!/usr/bin/env bash
# GPU benchmark in one go, within 8 minutes: FastSAM-s + the learned pipeline at 640x480.
#
#   bash bench/gpu_bench.sh                      # defaults: 80 frames (10 warm-up), FastSAM FP16
#   bash bench/gpu_bench.sh --amp --frames 120   # any bench/gpu_bench.py option
#
# 1. On a CUDA machine, makes sure spconv is the build for torch's CUDA runtime (the requirements pin
#    the CPU build): installs spconv-cu126 for CUDA >= 12.6 (13.x included: the CUDA 12.6 build runs on
#    newer drivers), -cu124, -cu121, -cu120 or -cu118 below that. Needs pip and the package index once.
# 2. Runs bench/gpu_bench.py, which prints per-stage ms and END-TO-END ms/FPS and writes out/bench/gpu.md.
# Without a GPU the same path runs on the CPU (the test suite checks it that way).
# PYTHON selects the interpreter (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT_S=480
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export YOLO_OFFLINE=1 PYTHONUNBUFFERED=1

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  cuda=$("$PY" -c 'import torch; print(torch.version.cuda)')
  # the same choice `samosaic3d doctor` suggests
  want=$("$PY" -c 'import sys; from samosaic3d_ros.commands.doctor import spconv_package as p; w = p(sys.argv[1]); sys.exit(f"torch CUDA {sys.argv[1]} is older than any spconv build (11.8)") if w is None else print(w)' "$cuda")
  if "$PY" -c 'import sys; from spconv.cppconstants import CPU_ONLY_BUILD; sys.exit(1 if CPU_ONLY_BUILD else 0)' 2>/dev/null; then
    echo "spconv: a CUDA build is installed"
  else
    echo "spconv: installing $want for torch's CUDA $cuda (replacing the CPU build) ..."
    "$PY" -m pip uninstall -y -q spconv cumm >/dev/null 2>&1 || true
    "$PY" -m pip install -q "$want"
  fi
else
  echo "no CUDA device visible to torch: the CPU path runs (its timings are not a GPU figure)"
fi

left=$((LIMIT_S - SECONDS))
if [ "$left" -lt 60 ]; then
  echo "gpu_bench.sh: less than a minute of the $LIMIT_S s left after set-up" >&2
  exit 1
fi
# the frame loop stops itself 60 s before the limit, leaving time to print and write the table
exec timeout "$left" "$PY" bench/gpu_bench.py --budget-s "$((left - 60))" "$@"
