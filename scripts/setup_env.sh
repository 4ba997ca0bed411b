#!/usr/bin/env bash
# Create/refresh the project virtual environment at .venv/ and build the ROS 2
# interface package(s) into install/. Safe to re-run: each step is skipped when
# its inputs have not changed (hash stamps in .stamps/).
#
#   scripts/setup_env.sh            # everything
#   SAMOSAIC3D_NO_ROS=1 scripts/setup_env.sh   # core only (no ROS wheels / msg build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=$ROOT/.venv
STAMPS=$ROOT/.stamps
PY=${PYTHON:-python3}
mkdir -p "$STAMPS"

log() { printf '[setup] %s\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }

# 1. system library Open3D needs (Debian: libusb-1.0-0)
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing libusb-1.0-0 (needed by open3d)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "[setup] error: libusb-1.0.so.0 is missing; install it with 'sudo apt-get install libusb-1.0-0'" >&2
    exit 1
  fi
fi

# 2. virtual environment with pinned dependencies
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PY" -m venv "$VENV"; }
REQS=(requirements/torch.txt requirements/core.txt)
[ "${SAMOSAIC3D_NO_ROS:-0}" = 1 ] || REQS+=(requirements/ros.txt)
h=$(hash_of "${REQS[@]}" setup.py)
if ! stamp_ok venv "$h"; then
  log "installing pinned dependencies (first run downloads torch: a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel 2>&1 | grep -v '^WARNING: Location' || true
  for r in "${REQS[@]}"; do
    "$VENV/bin/pip" install -q -r "$r" 2>&1 | grep -v '^WARNING: Location' || true
  done
  "$VENV/bin/pip" install -q --no-deps -e . 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c "import torch, spconv, scipy, open3d, ultralytics" >/dev/null 2>&1 \
    || { echo "[setup] error: dependency install incomplete (import check failed)" >&2; exit 1; }
  echo "$h" >"$STAMPS/venv"
else
  log "dependencies up to date"
fi

# 3. interface packages (ament_cmake) built from the ROS wheels, into install/
if [ "${SAMOSAIC3D_NO_ROS:-0}" != 1 ]; then
  "$ROOT/scripts/build_interfaces.sh"
fi
log "ready: source scripts/env.sh (or use make targets)"
