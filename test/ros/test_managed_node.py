"""The managed node driven through its lifecycle over DDS (``lifecycle_msgs`` services)."""

import time

import pytest

from test.ros.ros_env import require_ros

require_ros()

from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from samosaic3d_msgs.msg import InstanceArray  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from samosaic3d_core.errors import ModelFileMissing  # noqa: E402
from samosaic3d_ros.managed_node import Samosaic3dManagedNode  # noqa: E402
from test.ros.conftest import CONFIG  # noqa: E402
from test.ros.fake_segmenter import FakeSegmenter  # noqa: E402
from test.ros.node_io import Stream  # noqa: E402
from test.ros.node_process import fake_node_command, node_env, start, stop  # noqa: E402

NODE = "/samosaic3d_node"
DEPTH = "/depth/image_raw"


def start_managed(ros, tmp_path, segmenter_factory=FakeSegmenter, **overrides):
    args = ["--ros-args", "--params-file", str(CONFIG), "-p", f"map_dir:={tmp_path}", "-p", "tf_timeout:=0.2",
            "-p", "instances_rate:=0.0"]
    for name, value in overrides.items():
        args += ["-p", f"{name}:={str(value).lower() if isinstance(value, bool) else value}"]
    return ros.add(Samosaic3dManagedNode(context=ros.context, segmenter_factory=segmenter_factory, cli_args=args))


class Lifecycle:
    def __init__(self, ros, tester):
        self.ros, self.tester = ros, tester

    def state(self, timeout: float = 5.0) -> int:
        return self.ros.call(self.tester, GetState, f"{NODE}/get_state", GetState.Request(), timeout).current_state.id

    def change(self, transition: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition))
        return self.ros.call(self.tester, ChangeState, f"{NODE}/change_state", request, timeout=20.0).success


def test_transitions_over_dds(ros, tmp_path):
    node = start_managed(ros, tmp_path)
    tester = ros.tester()
    lifecycle = Lifecycle(ros, tester)
    clouds = ros.collect(tester, PointCloud2, "instances/frame_cloud")
    instances = ros.collect(tester, InstanceArray, "instances")

    # unconfigured: parameters are declared, nothing else exists yet
    assert lifecycle.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert node.segmenter is None and tester.count_subscribers(DEPTH) == 0
    assert tester.count_publishers("/instances") == 0 and node.has_parameter("memory.short_term_size")

    # configure: models loaded, outputs and services up, still not listening
    assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == State.PRIMARY_STATE_INACTIVE
    assert isinstance(node.segmenter, FakeSegmenter)
    ros.wait_until(lambda: tester.count_publishers("/instances") == 1, what="the /instances publisher")
    assert tester.count_subscribers(DEPTH) == 0
    assert ros.call(tester, Trigger, f"{NODE}/reset", Trigger.Request()).success

    # activate: frames are processed
    assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
    stream = Stream(ros, tester)
    for k, t in enumerate((100.0, 100.1)):
        stream.send(t)
        ros.wait_until(lambda: len(clouds) > k and len(instances) > k, what=f"frame {k}")
    assert len(node.segmenter.instances()) == 2
    frames_before = len(clouds)

    # deactivate: the inputs go, the map stays
    assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.state() == State.PRIMARY_STATE_INACTIVE
    ros.wait_until(lambda: tester.count_subscribers(DEPTH) == 0, what="the node to drop its inputs")
    stream.send(100.2)
    time.sleep(0.5)  # what an active node takes to answer a frame here
    assert len(clouds) == frames_before and len(node.segmenter.instances()) == 2
    map_points = len(node.segmenter.map())

    # activate again: the same map grows
    assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
    stream = Stream(ros, tester)
    stream.send(100.3)
    ros.wait_until(lambda: len(clouds) > frames_before, what="a frame after reactivation")
    assert len(node.segmenter.map()) > map_points and len(node.segmenter.instances()) == 2

    # deactivate + cleanup: the map and the models are dropped, the outputs and services go
    assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.change(Transition.TRANSITION_CLEANUP)
    assert lifecycle.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert node.segmenter is None
    ros.wait_until(lambda: tester.count_publishers("/instances") == 0, what="the outputs to go")
    ros.wait_until(lambda: f"{NODE}/reset" not in dict(tester.get_service_names_and_types_by_node(NODE[1:], "/")),
                   what="~/reset to go")

    # configured again: a fresh, empty map
    assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
    assert len(node.segmenter.instances()) == 0

    assert lifecycle.change(Transition.TRANSITION_INACTIVE_SHUTDOWN)
    assert lifecycle.state() == State.PRIMARY_STATE_FINALIZED
    assert node.segmenter is None


def _missing_model(params):
    raise ModelFileMissing("weights not found: /nowhere/model.safetensors")


def test_a_failed_configure_says_why_and_stays_unconfigured(ros, tmp_path):
    start_managed(ros, tmp_path, segmenter_factory=_missing_model)
    tester = ros.tester()
    log: list = []
    tester.create_subscription(Log, "/rosout", log.append, 100)
    lifecycle = Lifecycle(ros, tester)
    assert not lifecycle.change(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == State.PRIMARY_STATE_UNCONFIGURED
    error = ros.wait_until(lambda: next((m.msg for m in log if m.level == Log.ERROR), None), what="the error line")
    assert error.startswith("configure failed:") and "/nowhere/model.safetensors" in error


@pytest.mark.parametrize("autostart", [True, False])
def test_autostart_configures_and_activates(ros, tmp_path, autostart):
    node = start_managed(ros, tmp_path, autostart=autostart)
    node.autostart()
    lifecycle = Lifecycle(ros, ros.tester())
    expected = State.PRIMARY_STATE_ACTIVE if autostart else State.PRIMARY_STATE_UNCONFIGURED
    assert lifecycle.state() == expected


def test_managed_main_autostarts_and_stops_cleanly(ros, tmp_path):
    """The entry point in its own process: autostart reaches active, SIGINT ends it with exit code 0."""
    proc = start(fake_node_command(tmp_path, "autostart:=true", managed=True), node_env(ros.domain_id))
    try:
        lifecycle = Lifecycle(ros, ros.tester())
        lifecycle.state(timeout=30.0)  # the process is up
        ros.wait_until(lambda: lifecycle.state() == State.PRIMARY_STATE_ACTIVE, timeout=20.0, what="active")
    finally:
        output = stop(proc)
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "configured: models loaded" in output, output
