# SAMosaic3D-ROS on a CUDA workstation: ROS 2 Jazzy + torch (CUDA 12.6) + spconv-cu126 + ultralytics.
#
#   docker build -t samosaic3d .
#   docker run --rm -it --gpus all --network host --ipc host \
#       -v $HOME/models:/models samosaic3d                      # launches the node
#   docker run ... samosaic3d ros2 launch samosaic3d samosaic3d.launch.py camera:=/camera/camera
#
# Needs the NVIDIA Container Toolkit on the host (driver >= 560 for CUDA 12.6). The torch wheels
# bring their own CUDA runtime; spconv must match it: torch from the cu126 index + spconv-cu126
# (spconv's newest CUDA build). Change TORCH_CUDA and SPCONV_PACKAGE together.
ARG ROS_DISTRO=jazzy
FROM ros:${ROS_DISTRO}-ros-base

ARG ROS_DISTRO
ARG TORCH_CUDA=cu126
ARG TORCH_VERSION=2.7.1
ARG TORCHVISION_VERSION=0.22.1
ARG SPCONV_PACKAGE=spconv-cu126==2.3.8

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# the image's Python is the distribution's; ROS's message modules are built against its numpy 1.x
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_CONSTRAINT=/etc/pip-constraints.txt \
    YOLO_OFFLINE=1 PYTHONUNBUFFERED=1

RUN apt-get update && apt-get install -y --no-install-recommends \
        python3-pip python3-colcon-common-extensions \
        ros-${ROS_DISTRO}-tf2-ros-py ros-${ROS_DISTRO}-tf2-msgs ros-${ROS_DISTRO}-message-filters \
        ros-${ROS_DISTRO}-launch-ros ros-${ROS_DISTRO}-launch-testing-ros ros-${ROS_DISTRO}-std-srvs ros-${ROS_DISTRO}-sensor-msgs \
        ros-${ROS_DISTRO}-visualization-msgs ros-${ROS_DISTRO}-vision-msgs ros-${ROS_DISTRO}-diagnostic-msgs ros-${ROS_DISTRO}-nav-msgs \
        libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

RUN echo "numpy<2" > /etc/pip-constraints.txt \
    && pip install torch==${TORCH_VERSION} torchvision==${TORCHVISION_VERSION} \
        --index-url https://download.pytorch.org/whl/${TORCH_CUDA} \
    && pip install "${SPCONV_PACKAGE}" ultralytics-opencv-headless scipy scikit-image numba safetensors PyYAML tqdm

WORKDIR /opt/samosaic3d
COPY . .
# the node package (.) and the interface package (msg/); a ROS install brings tf2_msgs and vision_msgs itself
RUN source /opt/ros/${ROS_DISTRO}/setup.bash \
    && colcon build --base-paths . msg --cmake-args -DBUILD_TESTING=OFF \
    && rm -rf build log

# full-resolution images between the camera driver and the node on one host (see the file)
ENV FASTDDS_DEFAULT_PROFILES_FILE=/opt/samosaic3d/install/samosaic3d/share/samosaic3d/config/fastdds_large_data.xml

COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "samosaic3d", "samosaic3d.launch.py"]
