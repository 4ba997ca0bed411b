"""A map instance's confidence (``MemoryConfig.confidence``): what ``SceneMemory.instances`` and
``scene_map`` report as its score, the order AP ranks instances in.

The frame model's scores, averaged over the frames an instance was built from, ranked the map's
instances no better than chance on the validation scenes (docs/map_quality.md, "Instance
confidence"); the support the map holds for an instance, the voxels it owns, ranks them far
better: instances that match no object are mostly small leftovers. How often frames re-observe an
instance, how rarely they hand its surface to another instance and how firmly the map holds its
voxels rank them better still: pieces of an object and leftovers of fused objects are seen as parts
of other instances, and their voxels change hands.
"""

from __future__ import annotations

import numpy as np


def check_confidence(kind: str, half_voxels: float, half_frames: float) -> None:
    """ValueError unless the ``MemoryConfig`` confidence settings are usable."""
    if kind not in ("model", "support", "learned"):
        raise ValueError(f"confidence must be 'model', 'support' or 'learned', got {kind!r}")
    if half_voxels <= 0 or half_frames < 0:
        raise ValueError(f"confidence_voxels must be > 0 and confidence_frames >= 0, got {half_voxels} and {half_frames}")


def instance_confidence(kind: str, model_score: np.ndarray, num_voxels: np.ndarray, obs_count: np.ndarray,
                        half_voxels: float, half_frames: float, evidence: np.ndarray | None = None) -> np.ndarray:
    """(R,) float32 confidence of R instances.

    kind: "model" (``model_score``, the running mean of the frame model's scores) or "support":
    n / (n + ``half_voxels``) for n voxels, times k / (k + ``half_frames``) for k observing frames
    when ``half_frames`` > 0, times ``evidence`` (R,) in [0, 1] when given: what the frames
    that saw it say (``MemoryConfig.confidence_kept`` and ``confidence_votes``).
    """
    if kind == "model":
        return np.asarray(model_score, np.float32)
    voxels = np.asarray(num_voxels, np.float64)
    score = voxels / (voxels + half_voxels)
    if half_frames:
        frames = np.asarray(obs_count, np.float64)
        score *= frames / (frames + half_frames)
    if evidence is not None:
        score *= np.clip(np.asarray(evidence, np.float64), 0.0, 1.0)
    return score.astype(np.float32)
