#!/usr/bin/env bash
# Build the ament_cmake interface packages without a ROS install, from the ROS 2
# wheels in .venv, into install/ (build trees in build/). Skipped when unchanged.
#   msg/                 samosaic3d_msgs (always)
#   interfaces/tf2_msgs      only when no tf2_msgs is importable (no wheel exists on PyPI)
#   interfaces/vision_msgs   only when no vision_msgs is importable (no wheel either)
# In a real ROS install use colcon instead: colcon build --base-paths . msg
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
PREFIX=$ROOT/install
PY=$VENV/bin/python
STAMPS=$ROOT/.stamps
mkdir -p "$STAMPS"
log() { printf '[interfaces] %s\n' "$*"; }

PKGS=()
# a tf2_msgs / vision_msgs of our own earlier build (install/ on PYTHONPATH via env.sh) does not count
OTHER_PYTHONPATH=$(printf "%s" "${PYTHONPATH:-}" | tr ":" "\n" | { grep -v "^$PREFIX" || true; } | paste -sd: -)
for pkg in tf2_msgs vision_msgs; do
  if [ -d "$ROOT/interfaces/$pkg" ] && ! PYTHONPATH="$OTHER_PYTHONPATH" "$PY" -c "import $pkg.msg" >/dev/null 2>&1; then
    PKGS+=("$ROOT/interfaces/$pkg")
  fi
done
[ -d "$ROOT/msg" ] && [ -f "$ROOT/msg/package.xml" ] && PKGS+=("$ROOT/msg")
[ ${#PKGS[@]} -gt 0 ] || { log "nothing to build"; exit 0; }

h=$(find "${PKGS[@]}" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
if [ -f "$STAMPS/interfaces" ] && [ "$(cat "$STAMPS/interfaces")" = "$h" ] && [ -d "$PREFIX/lib" ]; then
  log "up to date"
  exit 0
fi

# The wheels' exported *rosidl_generator_pyExport.cmake files hard-code the wheel build
# machine's Python prefix; point them at this interpreter's headers and numpy.
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$PY" -c "import numpy; print(numpy.get_include())")
{ grep -rl "/opt/python/cp3" "$VENV/share" --include="*.cmake" 2>/dev/null || true; } | while read -r f; do
  sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g; s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g" "$f"
done

export PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$PREFIX:$VENV" CMAKE_PREFIX_PATH="$PREFIX:$VENV"
for src in "${PKGS[@]}"; do
  name=$(basename "$src"); b="$ROOT/build/$name"; mkdir -p "$b"
  log "building $name"
  if ! { cmake -S "$src" -B "$b" -G Ninja -DCMAKE_INSTALL_PREFIX="$PREFIX" -DPython3_EXECUTABLE="$PY" \
           -DBUILD_TESTING=OFF && cmake --build "$b" && cmake --install "$b"; } >"$b.log" 2>&1; then
    tail -30 "$b.log" >&2
    echo "[interfaces] error: building $name failed; full log: $b.log" >&2
    exit 1
  fi
done
echo "$h" >"$STAMPS/interfaces"
log "installed into $PREFIX"
