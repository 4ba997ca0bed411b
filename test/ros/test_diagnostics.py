from test.ros.ros_env import require_ros

require_ros()

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402

from samosaic3d_ros.diagnostics import PipelineStats, diagnostic_array  # noqa: E402


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_window_rates_latency_and_totals():
    clock = Clock()
    stats = PipelineStats(clock)
    for _ in range(4):
        stats.on_received()
    stats.on_dropped()
    stats.on_input("color")
    stats.on_input("color")
    stats.on_input("depth")
    stats.on_processed({"masks": 0.25, "merge": 0.5})
    stats.on_processed({"masks": 0.75})
    stats.on_skipped("tf")
    stats.set_memory(instances=3, map_points=1000)
    clock.now = 102.0
    window = stats.snapshot()
    assert (window.seconds, window.input_rate, window.processing_rate) == (2.0, 2.0, 1.0)
    assert window.latency == {"masks": 0.5, "merge": 0.5}
    assert (window.dropped_total, window.skipped_total, window.skipped_window) == (1, {"tf": 1}, 1)
    assert (window.received_total, window.processed_total) == (4, 2)
    assert window.inputs_total == {"color": 2, "depth": 1}
    clock.now = 103.0
    quiet = stats.snapshot()  # a new window: rates restart, totals stay
    assert (quiet.input_rate, quiet.latency, quiet.skipped_window, quiet.dropped_total) == (0.0, {}, 0, 1)
    assert (quiet.received_total, quiet.processed_total) == (4, 2)
    assert quiet.memory == {"instances": 3, "map_points": 1000}


def test_levels_and_values():
    clock = Clock()
    stats = PipelineStats(clock)
    clock.now = 101.0
    idle = diagnostic_array(stats.snapshot(), Time(sec=5), "n: pipeline").status[0]
    assert idle.level == DiagnosticStatus.WARN and idle.message == "no synchronised colour/depth frames received"
    stats.on_received()
    stats.on_input("depth")
    stats.on_processed({"masks": 0.012})
    clock.now = 102.0
    ok = diagnostic_array(stats.snapshot(), Time(sec=6), "n: pipeline").status[0]
    values = {kv.key: kv.value for kv in ok.values}
    assert ok.level == DiagnosticStatus.OK and values["latency_masks_ms"] == "12.0"
    assert values["processing_rate_hz"] == "1.00" and values["dropped_frames"] == "0"
    assert values["received_frames"] == "1" and values["processed_frames"] == "1"
    assert values["received_depth_messages"] == "1" and "received_color_messages" not in values
    stats.on_received()
    clock.now = 103.0
    dead = diagnostic_array(stats.snapshot(), Time(sec=7), "n: pipeline", worker_alive=False).status[0]
    assert dead.level == DiagnosticStatus.ERROR
