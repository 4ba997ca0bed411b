"""bench/soak.py's report and plot from a made-up result (the soak itself is a benchmark, not a test)."""

import sys
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import soak  # noqa: E402

ARGS = Namespace(minutes=2.0, rate=30.0, width=640, height=480, seed=7)


def made_up_result(alive=True):
    arrivals = [(t, 300.0 + (t % 7)) for t in range(0, 120, 2)]  # one frame every 2 s, 300-306 ms
    samples = [(float(t), 900.0 + 0.1 * t, 1000 * min(t, 30)) for t in range(120)]
    return {"alive": alive, "arrivals": arrivals, "samples": samples, "sent": 3600, "seconds": 120.0,
            "dropped": 3530, "skipped": 0}


def test_report_has_a_row_per_minute_and_the_memory_growth(tmp_path):
    text = soak.report(ARGS, made_up_result())
    assert "Node alive at the end: yes" in text and "lost in transport 10." in text
    rows = [line for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert rows == ["| 1 | 30 | 303 / 306 / 306 | 906 | 30000 |", "| 2 | 30 | 303 / 306 / 306 | 912 | 30000 |"]
    assert "RSS after the first minute 906 MiB (map 30000 points), at the end 912 MiB" in text
    assert "growth +0.7 %" in text
    soak.plot(ARGS, made_up_result(), tmp_path / "soak.png")
    assert (tmp_path / "soak.png").read_bytes()[:4] == b"\x89PNG"


def test_a_crash_is_reported():
    assert "NO (crashed)" in soak.report(ARGS, made_up_result(alive=False))
