"""The demo writes its report, through the node and offline."""

import json

import pytest

from test.ros.conftest import next_domain_id
from test.ros.ros_env import require_ros

require_ros()

pytestmark = pytest.mark.usefixtures("ros_commands")  # demo is registered by setup.py


@pytest.mark.slow
@pytest.mark.parametrize("offline", [True, False])
def test_demo_writes_report_and_prints_the_ap_line(tmp_path, monkeypatch, capsys, offline):
    from samosaic3d_core.cli.main import main

    monkeypatch.setenv("ROS_DOMAIN_ID", str(next_domain_id()))
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--frames", "8", "--width", "320", "--height", "240"]
    assert main(argv + (["--offline"] if offline else [])) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("AP=") and f"report: {out / 'report'}/" in lines[-2]
    report = out / "report"
    for name in ("overview.png", "map_top_down.png", "map_perspective.png", "metrics.json", "map.ply", "map.npz"):
        assert (report / name).stat().st_size > 0, name
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["frames_processed"] == 8 and metrics["map_instances"] > 0
    assert 0.0 <= metrics["label_noise"] <= 1.0 and metrics["objects"] > 0
    assert 0.0 < metrics["label_noise_gt"] < 1.0  # a generated room: objects beside unlabelled structure
    assert 0 < metrics["object_instances"] <= metrics["map_instances"]
    assert metrics["mode"].startswith("offline" if offline else "ROS 2 node")
    assert f"AP={metrics['AP']:.4f}" in lines[-1]
    if offline:
        assert "stream_fps" not in metrics
    else:  # the lock-step rate once the node runs is faster than the rate with its start-up counted
        assert metrics["stream_fps"] > metrics["fps"] > 0
        assert 0 < metrics["round_trip_ms"] < 1e3 * metrics["segment_seconds"] / 8
