#!/usr/bin/env bash
# Source ROS and the built workspace, then run the command (default: the launch file).
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source /opt/samosaic3d/install/setup.bash
exec "$@"
