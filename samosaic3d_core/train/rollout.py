"""Merge problems from the pipeline's own association (rollouts), for the temporal stage.

The teacher-forced replay (``samosaic3d_core.train.temporal.TeacherForcedReplay``) builds the map
a perfect associator would build: every map instance holds one object. At run time the merger
meets maps it built itself, in which a map instance may already hold two touching objects (the
first frame that grouped them decided it), and keeps sending both objects' frame instances to it.
A rollout replays a scene as run time does: room structure removed, the learned associator's own
decisions (a given merger), consolidation, and records each frame's stage-1 problem with targets
taken from the map as it is:

    ground truth of a map instance  = the majority ground-truth id of the voxels it owns
    G_ij = 1 iff frame instance i and map instance j have the same non-zero ground-truth id

so a frame instance of the minority object of a fused map instance is taught not to join it
(DAgger-style: the states come from the learner's policy, the labels from the expert).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from samosaic3d_core.geometry import majority_vote
from samosaic3d_core.i2s_association import LearnedAssociator
from samosaic3d_core.lift import LiftConfig
from samosaic3d_core.memory import MemoryConfig, SceneMemory
from samosaic3d_core.pipeline import FrameModel
from samosaic3d_core.train.temporal import MergeProblem, merge_problem, observe_frame
from samosaic3d_core.types import Frame


class RolloutReplay:
    """Replays one scene through the run-time pipeline with ``associator``'s own decisions."""

    def __init__(self, frame_model: FrameModel, lift_config: LiftConfig, memory_config: MemoryConfig,
                 associator: LearnedAssociator):
        self.frame_model, self.lift_config, self.associator = frame_model, lift_config, associator
        self.memory = SceneMemory(memory_config)
        self._voxel_gt = np.zeros(0, np.int64)  # ground-truth id per map voxel row (latest frame's majority)

    def map_gt_ids(self, ids: np.ndarray) -> np.ndarray:
        """(S,) majority ground-truth id of the voxels each map id owns (0 = mostly no object)."""
        owner = np.asarray(self.memory.voxel_owners(), np.int64)
        owned = owner > 0
        by_id = majority_vote(owner[owned], self._voxel_gt[owned], self.memory.num_ids + 1)
        return by_id[np.asarray(ids, np.int64)]

    def step(self, frame: Frame, masks) -> Optional[MergeProblem]:
        """Segment and integrate ``frame`` as run time does; returns its merge problem (None without pairs)."""
        points, gt_ids, obs, short = observe_frame(self.memory, self.frame_model, self.lift_config, frame, masks,
                                                   drop_structure=True)
        problem = None
        if len(gt_ids) and len(short):
            problem = merge_problem(obs, short, gt_ids, self.map_gt_ids(short.ids))
        matches = np.asarray(self.associator(obs, self.memory), np.int64)
        self.memory.integrate(obs, matches)
        self._record_voxel_gt(frame, points, obs)
        return problem

    def _record_voxel_gt(self, frame: Frame, points, obs) -> None:
        point_gt = np.maximum(frame.instance_gt.reshape(-1)[points.pixel].astype(np.int64), 0)
        voxel_gt = majority_vote(obs.voxel_inverse, point_gt, len(obs.voxel_key))
        rows = self.memory.voxel_rows(obs.voxel_key)
        if self.memory.num_voxels > len(self._voxel_gt):
            grown = np.zeros(self.memory.num_voxels, np.int64)
            grown[: len(self._voxel_gt)] = self._voxel_gt
            self._voxel_gt = grown
        kept = rows >= 0
        self._voxel_gt[rows[kept]] = voxel_gt[kept]
