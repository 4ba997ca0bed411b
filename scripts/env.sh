# Source this file (bash/zsh) to use the project's venv and locally built ROS 2
# interfaces:  . scripts/env.sh
# ROS traffic stays on this machine (LOCALHOST discovery) unless you override it.
_s3d_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_s3d_py=$(ls -d "$_s3d_root"/install/lib/python3.*/site-packages 2>/dev/null | head -n1)
export PATH="$_s3d_root/.venv/bin:$PATH"
# the checkout itself first, so a second worktree sharing the venv imports its own code
export PYTHONPATH="$_s3d_root${PYTHONPATH:+:$PYTHONPATH}"
[ -n "$_s3d_py" ] && export PYTHONPATH="$_s3d_py${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_s3d_root/install/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$_s3d_root/install:$_s3d_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export YOLO_OFFLINE=1
unset _s3d_root _s3d_py
