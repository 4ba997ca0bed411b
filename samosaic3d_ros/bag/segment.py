"""Segment a bag's frames into a map, in the core (offline) or through the node over DDS, with per-frame times.

Both take the inputs ``discover`` found. The offline run reads the frames as the node builds
them (``read_frames``) and steps the segmenter, timing each stage of every frame; the node run
replays the bag into ``samosaic3d_node`` in lock-step (``replay``) and times each frame's round
trip. Each keeps one frame to show in the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samosaic3d_core.types import Frame, MaskResult, SceneMap
from samosaic3d_ros.bag.discover import BagInputs
from samosaic3d_ros.params import NodeParams

GROUND_TRUTH_MASKS = ("sim", "oracle")
"""Mask sources that read ground truth (only the offline run can give it to them)."""


@dataclass
class SegmentRun:
    """What a run produced: the map, frame counts, and one timing row per processed frame."""

    mode: str
    """offline or node"""
    scene_map: SceneMap
    frames: int
    """depth images read from the bag (offline; the frames skipped as the node skips them included) or frames
    sent to the node"""
    processed: int
    seconds: float
    columns: list[str]
    """names of the timing columns (milliseconds)"""
    rows: list[tuple[int, float, list[float]]] = field(default_factory=list)
    """(frame index, stamp in seconds, milliseconds per column)"""
    shown: Frame | None = None
    """a frame for the report's overview"""
    shown_masks: MaskResult | None = None
    """the masks the segmenter saw in ``shown`` (None: not kept, compute them)"""

    def mean_ms(self) -> dict[str, float]:
        """Mean milliseconds per timing column."""
        if not self.rows:
            return {}
        values = np.array([ms for _, _, ms in self.rows], np.float64)
        return {name: round(float(values[:, i].mean()), 2) for i, name in enumerate(self.columns)}


def segment_offline(bag: str | Path, inputs: BagInputs, params: NodeParams, max_frames: int | None = None
                    ) -> SegmentRun:
    """Step the core segmenter over the bag's frames; ``shown``: the frame with the most frame instances."""
    from samosaic3d_ros.bag.reader import message_count, read_frames, without_ground_truth
    from samosaic3d_ros.params import build_segmenter

    segmenter = build_segmenter(params)
    with_gt = params.segmenter.masks.source in GROUND_TRUTH_MASKS
    rows, stages, shown, masks, most = [], [], None, None, -1
    started = time.perf_counter()
    for frame in read_frames(bag, params, inputs.topics, max_frames):
        result = segmenter.step(frame if with_gt else without_ground_truth(frame))
        stages = stages or [s for s in result.timings if s != "total"] + ["total"]
        rows.append((frame.index, frame.timestamp, [result.timings.get(s, 0.0) * 1e3 for s in stages]))
        if len(result.frame_instances) > most:
            shown, most, masks = frame, len(result.frame_instances), result.masks
    seconds = time.perf_counter() - started
    depth_images = message_count(bag, inputs.topics.depth)
    frames = depth_images if max_frames is None else min(depth_images, max_frames)
    return SegmentRun("offline", segmenter.map(), frames, len(rows), seconds, stages, rows, shown, masks)


def segment_node(bag: str | Path, inputs: BagInputs, params: NodeParams, params_file: str | None, overrides: dict,
                 max_frames: int | None = None) -> SegmentRun:
    """Replay the bag into the node in lock-step; ``shown``: the middle frame sent."""
    from samosaic3d_ros.bag.reader import read_frames
    from samosaic3d_ros.bag.replay import ReplayConfig, replay

    config = ReplayConfig(params_file=params_file, overrides={**overrides, **inputs.node_parameters()},
                          topics=inputs.topics, pose_topic=inputs.pose_topic, max_frames=max_frames)
    result = replay(bag, config)
    rows = [(i, stamp * 1e-9, [seconds * 1e3])
            for i, (stamp, seconds) in enumerate(sorted(result.frame_seconds.items()))]
    middle = result.frames_sent // 2
    shown = next((f for f in read_frames(bag, params, inputs.topics, max_frames) if f.index >= middle), None)
    return SegmentRun("node", result.final_map, result.frames_sent, result.frames_processed, result.seconds,
                      ["round_trip"], rows, shown)
