"""``replay`` into a node the caller started before the bag existed: the map comes back, the node is the
caller's to stop, and a node that dies during start-up is reported with its log."""

import pytest

from test.ros.conftest import next_domain_id
from test.ros.ros_env import require_ros

require_ros()

pytestmark = pytest.mark.slow


def _frames(count: int):
    from samosaic3d_core.data.synth import SynthConfig, generate_scene

    scene = generate_scene(SynthConfig(frames=count, width=160, height=120), seed=3)
    return [scene.frame(i) for i in range(len(scene))]


def test_a_node_started_before_the_bag_is_written_maps_it_and_stays_the_callers(tmp_path):
    from samosaic3d_ros.bag.replay import NodeProcess, ReplayConfig, replay
    from samosaic3d_ros.bag.writer import write_bag

    config = ReplayConfig(domain_id=next_domain_id(), overrides={"pipeline": "baseline", "masks.source": "oversegment"})
    with NodeProcess(config) as node:
        bag = tmp_path / "scene.mcap"
        write_bag(bag, _frames(4))  # while the node loads
        result = replay(bag, config, node=node)
        assert result.frames_processed == 4 and len(result.final_map.xyz) > 0
        assert node.proc.poll() is None  # not replay's to stop
        node.request_stop()
    assert node.proc.returncode == 0  # SIGINT, then a clean exit
    assert node.log_path.is_file()


def test_a_node_that_dies_at_start_up_is_reported_with_its_log(tmp_path):
    from samosaic3d_ros.bag.replay import NodeProcess, ReplayConfig, replay
    from samosaic3d_ros.bag.writer import write_bag

    bag = tmp_path / "scene.mcap"
    write_bag(bag, _frames(2))
    config = ReplayConfig(domain_id=next_domain_id(), overrides={"device": "tpu"})  # refused: exit code 1
    with pytest.raises(RuntimeError, match=r"exited with code 1 during start-up \(log: .*node\.log\)"):
        replay(bag, config)
    with NodeProcess(config) as node:
        assert node.proc.wait(timeout=120) == 1
    assert "device" in node.log_path.read_text()


SLOW_SHUTDOWN = """
import signal, sys, time
signals = []
signal.signal(signal.SIGINT, lambda *_: sys.exit(3) if signals else signals.append(1))
print("ready", flush=True)
while not signals:
    time.sleep(0.01)
print("stopping", flush=True)
time.sleep(1.0)  # a shutdown that takes a while (the node joins its worker)
"""


def test_a_node_asked_to_stop_gets_one_sigint_while_it_shuts_down(monkeypatch):
    import sys
    import time

    from samosaic3d_ros.bag import replay as replay_module

    monkeypatch.setattr(replay_module, "_node_command", lambda config: [sys.executable, "-c", SLOW_SHUTDOWN])

    def wait_for(word):
        deadline = time.monotonic() + 10
        while word not in node.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)

    with replay_module.NodeProcess(replay_module.ReplayConfig(domain_id=next_domain_id())) as node:
        wait_for("ready")
        node.request_stop()
        wait_for("stopping")  # leaving the block stops the node while it is shutting down
    assert node.proc.returncode == 0  # a second SIGINT (from leaving the with block) would end it with 3
