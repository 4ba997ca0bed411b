"""Static checks of what cannot run here (launch_ros, RViz, Docker): files parse, names and paths agree."""

from __future__ import annotations

import py_compile
import re
import runpy
import sys
import types
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from samosaic3d_core.cli.main import COMMAND_GROUP
from samosaic3d_ros.params import NodeParams
from test.ros.conftest import REPO
from test.ros.setup_py import read_setup_kwargs

LAUNCH = REPO / "launch" / "samosaic3d.launch.py"


@pytest.fixture(scope="module")
def setup_kwargs() -> dict:
    return read_setup_kwargs()


def entry_points(setup_kwargs, group: str = "console_scripts") -> dict[str, str]:
    return dict(line.replace(" ", "").split("=") for line in setup_kwargs["entry_points"][group])


def test_node_executable_is_a_console_script(setup_kwargs):
    assert entry_points(setup_kwargs)["samosaic3d_node"] == "samosaic3d_ros.node:main"
    assert (REPO / "setup.cfg").read_text().count("$base/lib/samosaic3d") == 2  # where ros2 run looks


def test_ros_commands_are_registered_for_the_core_command_line(setup_kwargs):
    assert entry_points(setup_kwargs, COMMAND_GROUP) == {
        "demo": "samosaic3d_ros.commands.demo",
        "make-bag": "samosaic3d_ros.commands.make_bag",
        "eval-bag": "samosaic3d_ros.commands.eval_bag",
        "segment-bag": "samosaic3d_ros.commands.segment_bag",
        "params": "samosaic3d_ros.commands.params",
        "doctor": "samosaic3d_ros.commands.doctor",
    }


def test_package_names_agree(setup_kwargs):
    name = ElementTree.parse(REPO / "package.xml").getroot().findtext("name")
    assert name == setup_kwargs["name"] == "samosaic3d"
    assert (REPO / "resource" / name).is_file()


def test_data_files_install_launch_config_rviz(setup_kwargs):
    installed = {dest: sorted(Path(f).name for f in files) for dest, files in setup_kwargs["data_files"]}
    assert installed["share/samosaic3d/launch"] == ["samosaic3d.launch.py"]
    configs = installed["share/samosaic3d/config"]
    shipped = [p.name for p in (REPO / "config").iterdir() if p.suffix in (".yaml", ".xml")]
    assert configs == sorted(shipped)  # every config ships, the DDS profile too
    assert {"jetson.yaml", "samosaic3d.yaml"} <= set(configs)
    assert installed["share/samosaic3d/rviz"] == ["samosaic3d.rviz"]


def test_interface_packages_are_valid():
    catkin_pkg = pytest.importorskip("catkin_pkg.package")
    for folder in (REPO / "msg", REPO / "interfaces" / "tf2_msgs", REPO / "interfaces" / "vision_msgs"):
        package = catkin_pkg.parse_package(str(folder / "package.xml"))
        package.validate()
        assert package.package_format == 3 and "rosidl_interface_packages" in [g.name for g in package.member_of_groups]
        listed = re.findall(r'"((?:msg|srv)/\w+\.(?:msg|srv))"', (folder / "CMakeLists.txt").read_text())
        assert listed and all((folder / f).is_file() for f in listed)
        assert sorted(listed) == sorted(str(p.relative_to(folder)) for p in folder.glob("*/*.*") if p.suffix in (".msg", ".srv"))


# --- the launch file, with launch / launch_ros replaced by recording stubs -------------------------


class Recorder:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class IfCondition(Recorder):
    pass


class UnlessCondition(Recorder):
    pass


class LaunchConfiguration(Recorder):
    def __repr__(self):
        return f"$({self.args[0]})"


def stub_modules() -> dict[str, types.ModuleType]:
    modules = {}
    for name, attrs in {
        "launch": {"LaunchDescription": Recorder},
        "launch.actions": {"DeclareLaunchArgument": Recorder},
        "launch.conditions": {"IfCondition": IfCondition, "UnlessCondition": UnlessCondition},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Recorder, "LifecycleNode": Recorder},
        "launch_ros.parameter_descriptions": {"ParameterValue": Recorder},
        "ament_index_python": {},
        "ament_index_python.packages": {"get_package_share_directory": lambda package: str(REPO)},
    }.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        modules[name] = module
    return modules


@pytest.fixture
def launch_description(monkeypatch):
    for name, module in stub_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    namespace = runpy.run_path(str(LAUNCH))
    return namespace["generate_launch_description"]()


def test_launch_file_compiles():
    py_compile.compile(str(LAUNCH), doraise=True)


def test_launch_describes_the_node(launch_description, setup_kwargs):
    entities = launch_description.args[0]
    declared = {e.args[0]: e.kwargs for e in entities if "default_value" in e.kwargs}
    assert set(declared) == {"params_file", "camera", "color_topic", "depth_topic", "camera_info_topic", "use_sim_time",
                             "rviz", "managed", "autostart"}
    assert all(declared[name]["default_value"] == "false" for name in ("rviz", "use_sim_time", "managed", "autostart"))
    nodes = [e.kwargs for e in entities if "executable" in e.kwargs]
    node, managed = (n for n in nodes if n["package"] == "samosaic3d")
    assert node["executable"] == "samosaic3d_node" and managed["executable"] == "samosaic3d_managed_node"
    for started in (node, managed):
        assert started["executable"] in entry_points(setup_kwargs) and started["name"] == "samosaic3d_node"
        assert repr(started["condition"].args[0]) == "$(managed)"
    assert (type(node["condition"]).__name__, type(managed["condition"]).__name__) == ("UnlessCondition", "IfCondition")
    assert managed["parameters"][:3] == node["parameters"] and managed["remappings"] == node["remappings"]
    autostart = managed["parameters"][3]["autostart"]
    assert repr(autostart.args[0]) == "$(autostart)" and autostart.kwargs == {"value_type": bool}

    defaults, user, overrides = node["parameters"]
    assert Path(defaults) == REPO / "config" / "samosaic3d.yaml" and Path(defaults).is_file()
    assert repr(user) == "$(params_file)" and Path(declared["params_file"]["default_value"]) == Path(defaults)
    sim_time = overrides["use_sim_time"]
    assert repr(sim_time.args[0]) == "$(use_sim_time)" and sim_time.kwargs == {"value_type": bool}
    yaml_root = yaml.safe_load(Path(defaults).read_text())
    assert node["name"] in yaml_root  # the YAML section applies to this node name

    remaps = {src: "".join(part if isinstance(part, str) else repr(part) for part in dst) for src, dst in node["remappings"]}
    params = NodeParams()
    assert remaps == {
        params.color_topic: "$(camera)/$(color_topic)",
        params.depth_topic: "$(camera)/$(depth_topic)",
        params.camera_info_topic: "$(camera)/$(camera_info_topic)",
    }

    rviz = next(n for n in nodes if n["package"] == "rviz2")
    assert Path(rviz["arguments"][1]) == REPO / "rviz" / "samosaic3d.rviz"
    assert repr(rviz["condition"].args[0]) == "$(rviz)"


# --- RViz ---------------------------------------------------------------------------------------


def test_rviz_config_shows_the_outputs_in_the_map_frame():
    from samosaic3d_ros import outputs

    config = yaml.safe_load((REPO / "rviz" / "samosaic3d.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == NodeParams().map_frame
    displays = {d["Name"]: d for d in manager["Displays"]}
    published = {"/" + t for t in (outputs.CLOUD_TOPIC, outputs.FRAME_CLOUD_TOPIC, outputs.MARKERS_TOPIC, outputs.OVERLAY_TOPIC)}
    shown = {d["Topic"]["Value"] for d in displays.values() if "Topic" in d}
    assert shown == published
    cloud = displays["Instance map"]
    assert cloud["Class"] == "rviz_default_plugins/PointCloud2" and cloud["Color Transformer"] == "RGB8"
    assert cloud["Topic"]["Value"] == "/" + outputs.CLOUD_TOPIC
    assert cloud["Topic"]["Durability Policy"] == ("Transient Local" if NodeParams().cloud_transient_local else "Volatile")
    assert displays["Instance boxes"]["Class"] == "rviz_default_plugins/MarkerArray"
    assert set(displays["Instance boxes"]["Namespaces"]) == {f"{NodeParams().marker_namespace}/{s}" for s in ("boxes", "labels")}
    assert displays["Mask overlay"]["Class"] == "rviz_default_plugins/Image"


# --- Docker -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "docker/Dockerfile.jetson"])
def test_dockerfiles_agree_with_the_package(dockerfile):
    text = (REPO / dockerfile).read_text()
    for source in re.findall(r"^COPY (\S+) \S+$", text, re.M):
        assert source == "." or (REPO / source).exists(), source
    assert "colcon build --base-paths . msg" in text
    assert re.search(r'^ENTRYPOINT \["/entrypoint.sh"\]', text, re.M)
    command = re.search(r"^CMD (\[.*?\])$", text, re.M | re.S).group(1)
    words = yaml.safe_load(command.replace("\\\n", " "))
    assert words[:4] == ["ros2", "launch", "samosaic3d", "samosaic3d.launch.py"] and (REPO / "launch" / words[3]).is_file()
    for word in words[4:]:
        name, value = word.split(":=")
        assert name == "params_file" and value.endswith("/share/samosaic3d/config/jetson.yaml")
        assert (REPO / "config" / Path(value).name).is_file()
    entrypoint = REPO / "docker" / "entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111 and "install/setup.bash" in entrypoint.read_text()


def test_workstation_image_pairs_torch_and_spconv_cuda():
    text = (REPO / "Dockerfile").read_text()
    torch_cuda = re.search(r"^ARG TORCH_CUDA=(cu\d+)$", text, re.M).group(1)
    spconv = re.search(r"^ARG SPCONV_PACKAGE=spconv-(cu\d+)==", text, re.M).group(1)
    assert torch_cuda == spconv
    assert re.search(r"^FROM ros:\$\{ROS_DISTRO\}-ros-base$", text, re.M) and "ARG ROS_DISTRO=jazzy" in text
