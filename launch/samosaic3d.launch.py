"""Start samosaic3d_node (and RViz on request).

    ros2 launch samosaic3d samosaic3d.launch.py
    ros2 launch samosaic3d samosaic3d.launch.py camera:=/camera/camera rviz:=true
    ros2 launch samosaic3d samosaic3d.launch.py params_file:=$(ros2 pkg prefix samosaic3d)/share/samosaic3d/config/jetson.yaml
    ros2 launch samosaic3d samosaic3d.launch.py use_sim_time:=true   # with `ros2 bag play --clock ...`
    ros2 launch samosaic3d samosaic3d.launch.py managed:=true          # lifecycle node, left unconfigured
    ros2 launch samosaic3d samosaic3d.launch.py managed:=true autostart:=true

The node loads config/samosaic3d.yaml first, then ``params_file`` (so that file only needs
the values it changes). Its generic input topics are remapped into the camera namespace;
the defaults fit realsense2_camera with ``align_depth.enable:=true``.

``managed:=true`` starts the managed (lifecycle) node instead, ``samosaic3d_managed_node``: it waits
unconfigured for a lifecycle manager (or ``ros2 lifecycle set``), unless ``autostart:=true``.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = "samosaic3d"


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    default_params = os.path.join(share, "config", "samosaic3d.yaml")
    camera = LaunchConfiguration("camera")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)

    arguments = [
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="YAML with samosaic3d_node parameters, applied over config/samosaic3d.yaml"),
        DeclareLaunchArgument("camera", default_value="/camera", description="namespace of the RGB-D camera topics"),
        DeclareLaunchArgument("color_topic", default_value="color/image_raw",
                              description="colour image topic inside the camera namespace"),
        DeclareLaunchArgument("depth_topic", default_value="aligned_depth_to_color/image_raw",
                              description="depth image (registered to colour) inside the camera namespace"),
        DeclareLaunchArgument("camera_info_topic", default_value="aligned_depth_to_color/camera_info",
                              description="camera info of the depth image inside the camera namespace"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag replay)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with rviz/samosaic3d.rviz"),
        DeclareLaunchArgument("managed", default_value="false",
                              description="start the managed (lifecycle) node, samosaic3d_managed_node"),
        DeclareLaunchArgument("autostart", default_value="false",
                              description="managed node: configure and activate it at start-up"),
    ]
    common = dict(
        package=PACKAGE,
        name="samosaic3d_node",
        output="screen",
        emulate_tty=True,
        remappings=[
            ("color/image_raw", [camera, "/", LaunchConfiguration("color_topic")]),
            ("depth/image_raw", [camera, "/", LaunchConfiguration("depth_topic")]),
            ("depth/camera_info", [camera, "/", LaunchConfiguration("camera_info_topic")]),
        ],
    )
    parameters = [default_params, LaunchConfiguration("params_file"), {"use_sim_time": use_sim_time}]
    node = Node(executable="samosaic3d_node", parameters=parameters,
                condition=UnlessCondition(LaunchConfiguration("managed")), **common)
    autostart = ParameterValue(LaunchConfiguration("autostart"), value_type=bool)
    managed = LifecycleNode(executable="samosaic3d_managed_node", namespace="",
                            parameters=parameters + [{"autostart": autostart}],
                            condition=IfCondition(LaunchConfiguration("managed")), **common)
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", os.path.join(share, "rviz", "samosaic3d.rviz")],
        parameters=[{"use_sim_time": use_sim_time}],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription(arguments + [node, managed, rviz])
