"""Counters of the node (input / processing rates, drops, skips, per-stage latency, memory sizes) and their
``diagnostic_msgs/DiagnosticArray`` form."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StatsWindow:
    """What happened since the previous snapshot, plus running totals."""

    seconds: float
    input_rate: float  # synchronised frames per second received
    processing_rate: float  # frames per second through the pipeline
    latency: dict[str, float]  # stage -> mean seconds in the window
    dropped_total: int  # frames replaced by a newer one while the worker was busy
    skipped_total: dict[str, int] = field(default_factory=dict)  # reason -> frames skipped
    skipped_window: int = 0
    memory: dict[str, int] = field(default_factory=dict)  # e.g. instances, short_term, long_term, map_points
    received_total: int = 0  # synchronised frames received since start
    processed_total: int = 0  # frames through the pipeline since start (their results were published)
    inputs_total: dict[str, int] = field(default_factory=dict)  # input stream ("color", "depth") -> messages


class PipelineStats:
    """Thread-safe counters fed by the callbacks and the worker, read by the diagnostics timer."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._received = self._processed = self._skipped_window = 0
        self.received = self.processed = 0  # totals since start
        self.inputs: Counter[str] = Counter()  # messages per input stream, before synchronisation
        self.dropped = 0
        self.skipped: Counter[str] = Counter()
        self._latency_sum: Counter[str] = Counter()
        self._latency_count: Counter[str] = Counter()
        self._memory: dict[str, int] = {}

    def on_received(self) -> None:
        with self._lock:
            self._received += 1
            self.received += 1

    def on_input(self, stream: str) -> None:
        """One message of an input stream (colour or depth image) arrived, before synchronisation."""
        with self._lock:
            self.inputs[stream] += 1

    def on_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def on_skipped(self, reason: str) -> None:
        with self._lock:
            self.skipped[reason] += 1
            self._skipped_window += 1

    def on_processed(self, timings: dict[str, float]) -> None:
        with self._lock:
            self._processed += 1
            self.processed += 1
            for stage, seconds in timings.items():
                self._latency_sum[stage] += float(seconds)
                self._latency_count[stage] += 1

    def on_stage(self, stage: str, seconds: float) -> None:
        """A stage timed outside the worker's frame (e.g. publishing, on its own thread)."""
        with self._lock:
            self._latency_sum[stage] += float(seconds)
            self._latency_count[stage] += 1

    def set_memory(self, **sizes: int) -> None:
        with self._lock:
            self._memory = {name: int(value) for name, value in sizes.items()}

    def snapshot(self) -> StatsWindow:
        """The window since the last snapshot; starts a new window."""
        with self._lock:
            now = self._clock()
            seconds = max(now - self._since, 1e-9)
            window = StatsWindow(
                seconds=seconds,
                input_rate=self._received / seconds,
                processing_rate=self._processed / seconds,
                latency={s: self._latency_sum[s] / self._latency_count[s] for s in self._latency_sum},
                dropped_total=self.dropped,
                skipped_total=dict(self.skipped),
                skipped_window=self._skipped_window,
                memory=dict(self._memory),
                received_total=self.received,
                processed_total=self.processed,
                inputs_total=dict(self.inputs),
            )
            self._since = now
            self._received = self._processed = self._skipped_window = 0
            self._latency_sum.clear()
            self._latency_count.clear()
            return window


def diagnostic_array(window: StatsWindow, stamp, name: str, worker_alive: bool = True):
    """One ``DiagnosticStatus`` summarising ``window``: ERROR if the worker died, WARN if idle or skipping."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    if not worker_alive:
        level, message = DiagnosticStatus.ERROR, "pipeline worker stopped"
    elif window.input_rate == 0:
        level, message = DiagnosticStatus.WARN, "no synchronised colour/depth frames received"
    elif window.skipped_window:
        level, message = DiagnosticStatus.WARN, f"{window.skipped_window} frames skipped (bad input), see log"
    else:
        level, message = DiagnosticStatus.OK, f"processing {window.processing_rate:.1f} Hz"
    values = [
        ("input_rate_hz", f"{window.input_rate:.2f}"),
        ("processing_rate_hz", f"{window.processing_rate:.2f}"),
        ("received_frames", str(window.received_total)),
        ("processed_frames", str(window.processed_total)),
        ("dropped_frames", str(window.dropped_total)),
        ("skipped_frames", str(sum(window.skipped_total.values()))),
    ]
    values += [(f"received_{stream}_messages", str(n)) for stream, n in sorted(window.inputs_total.items())]
    values += [(f"skipped_{reason}", str(n)) for reason, n in sorted(window.skipped_total.items())]
    values += [(f"latency_{stage}_ms", f"{seconds * 1e3:.1f}") for stage, seconds in sorted(window.latency.items())]
    values += [(f"memory_{key}", str(n)) for key, n in sorted(window.memory.items())]
    status = DiagnosticStatus(
        level=level, name=name, message=message, hardware_id="samosaic3d",
        values=[KeyValue(key=k, value=v) for k, v in values],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
