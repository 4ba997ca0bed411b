"""ament_python package ``samosaic3d``; also installs with ``pip install -e .``."""

from glob import glob

from setuptools import find_packages, setup

package_name = "samosaic3d"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(include=["samosaic3d_core", "samosaic3d_core.*", "samosaic3d_ros", "samosaic3d_ros.*"]),
    package_data={"samosaic3d_core": ["checkpoints/*.safetensors", "checkpoints/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", glob("launch/*.launch.py")),
        (f"share/{package_name}/config", sorted(glob("config/*.yaml") + glob("config/*.xml"))),
        (f"share/{package_name}/rviz", glob("rviz/*.rviz")),
    ],
    python_requires=">=3.10",
    install_requires=["numpy", "setuptools"],
    zip_safe=False,
    maintainer="SAMosaic3D maintainers",
    maintainer_email="maintainers@samosaic3d.org",
    description="Online 3D instance segmentation from posed RGB-D: SAMosaic3D core and ROS 2 node",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "samosaic3d = samosaic3d_core.cli.main:main",
            "samosaic3d_node = samosaic3d_ros.node:main",
            "samosaic3d_managed_node = samosaic3d_ros.managed_node:main",
        ],
        # subcommands of `samosaic3d` that live in the ROS package (read by samosaic3d_core.cli.main)
        "samosaic3d.commands": [
            "demo = samosaic3d_ros.commands.demo",
            "make-bag = samosaic3d_ros.commands.make_bag",
            "eval-bag = samosaic3d_ros.commands.eval_bag",
            "segment-bag = samosaic3d_ros.commands.segment_bag",
            "params = samosaic3d_ros.commands.params",
            "doctor = samosaic3d_ros.commands.doctor",
        ],
    },
)
