"""Class-agnostic 3D instance AP following the ScanNet benchmark protocol.

This reproduces ``BenchmarkScripts/3d_evaluation/evaluate_semantic_instance.py`` of
ScanNet with every ground-truth instance in a single class:

* thresholds ``OVERLAPS = 0.50, 0.55, ..., 0.90, 0.25`` built exactly as the script does
  (``np.append(np.arange(0.5, 0.95, 0.05), 0.25)``, so e.g. the "0.6" threshold is
  0.6000000000000001); a prediction matches a ground truth when IoU is strictly above it;
* ground-truth instances with fewer than ``min_region_size`` points are not scored, and
  predictions with fewer than ``min_region_size`` points are dropped before anything else;
* per ground truth, the first unused matching prediction (in prediction order) claims it;
  each further matching prediction adds a false positive carrying the lower of the two
  scores while the ground truth keeps the higher one (the script's ``cur_true``/``cur_score``);
* a prediction that matches no ground truth (small ones included) is a false positive
  unless more than ``threshold`` of its points lie on unlabeled points or small ground truth;
* matches are pooled over all scenes, then AP is the script's step integration of the
  precision/recall curve; AP averages the 0.50..0.90 thresholds.

Edge cases (per threshold): no scored ground truth anywhere -> NaN (as the script);
ground truth but no prediction -> 0 (as the script); ground truth and predictions but
nothing left to score (every prediction ignored, every ground truth missed) -> 0, where
the script would crash on an empty array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

OVERLAPS: np.ndarray = np.append(np.arange(0.5, 0.95, 0.05), 0.25)
"""(10,) IoU thresholds, in the script's order and with its exact float values."""

MIN_REGION_SIZE = 100
"""Points below which a ground truth is not scored and a prediction is dropped."""


@dataclass
class SceneEvalInput:
    """What is scored for one scene: N points, K predicted instances.

    gt_instance: (N,) int, ground-truth instance id per point, 0 = unlabeled
    pred_masks:  (K, N) bool, predicted instance masks (may overlap)
    pred_scores: (K,) float, confidence of each predicted instance
    name:        used in error messages only
    """

    gt_instance: np.ndarray
    pred_masks: np.ndarray
    pred_scores: np.ndarray
    name: str = "scene"

    def validate(self) -> "SceneEvalInput":
        """Raise ValueError naming the scene and field if shapes or dtypes are wrong."""
        gt, masks, scores = self.gt_instance, self.pred_masks, self.pred_scores
        if gt.ndim != 1 or not np.issubdtype(gt.dtype, np.integer):
            raise ValueError(f"{self.name}: gt_instance must be a (N,) integer array, got {gt.dtype} {gt.shape}")
        if len(gt) and gt.min() < 0:
            raise ValueError(f"{self.name}: gt_instance has negative ids; use 0 for unlabeled points")
        if masks.ndim != 2 or masks.dtype != np.bool_ or masks.shape[1] != len(gt):
            raise ValueError(
                f"{self.name}: pred_masks must be (K, {len(gt)}) bool to match gt_instance, "
                f"got {masks.dtype} {masks.shape}"
            )
        if scores.shape != (len(masks),) or not np.all(np.isfinite(scores)):
            raise ValueError(
                f"{self.name}: pred_scores must be ({len(masks)},) finite floats, got shape {scores.shape}"
            )
        return self


@dataclass
class ApResult:
    """AP numbers as fractions in [0, 1] (NaN when there is no scored ground truth).

    ap:            mean over the 0.50..0.90 thresholds
    ap50 / ap25:   at IoU 0.5 / 0.25
    per_threshold: {threshold rounded to 2 decimals: AP}, all ten thresholds
    num_gt:        ground-truth instances scored (>= min_region_size points)
    num_pred:      predictions scored (>= min_region_size points)
    """

    ap: float
    ap50: float
    ap25: float
    per_threshold: dict[float, float] = field(default_factory=dict)
    num_gt: int = 0
    num_pred: int = 0


@dataclass
class SceneMatches:
    """Overlap counts of one scene, all AP needs (the script's ``assign_instances_for_scan``).

    G ground-truth instances (all sizes, ascending id), P predictions kept after the size
    filter (input order). Small enough to keep for many scenes before pooling.
    min_region_size: the size filter these counts were made with
    gt_count:   (G,) points per ground truth
    pred_count: (P,) points per prediction
    pred_score: (P,) float64
    inter:      (P, G) points shared by prediction and ground truth
    void_inter: (P,) prediction points on unlabeled points
    """

    gt_count: np.ndarray
    pred_count: np.ndarray
    pred_score: np.ndarray
    inter: np.ndarray
    void_inter: np.ndarray
    min_region_size: int


def match_scene(scene: SceneEvalInput, min_region_size: int = MIN_REGION_SIZE) -> SceneMatches:
    """Count the overlaps of ``scene``'s predictions with its ground truth."""
    scene.validate()
    gt_ids, gt_index = np.unique(scene.gt_instance, return_inverse=True)
    gt_index = gt_index.reshape(-1)
    if len(gt_ids) and gt_ids[0] == 0:  # column 0 of the overlap table = unlabeled
        gt_ids = gt_ids[1:]
    else:
        gt_index = gt_index + 1
    num_cols = len(gt_ids) + 1
    gt_count = np.bincount(gt_index, minlength=num_cols)[1:].astype(np.int64)

    pred_count = scene.pred_masks.sum(axis=1).astype(np.int64)
    keep = np.flatnonzero(pred_count >= min_region_size)
    table = np.zeros((len(keep), num_cols), np.int64)
    for row, k in enumerate(keep):
        table[row] = np.bincount(gt_index[scene.pred_masks[k]], minlength=num_cols)
    return SceneMatches(
        gt_count=gt_count,
        pred_count=pred_count[keep],
        pred_score=np.asarray(scene.pred_scores, np.float64)[keep],
        inter=table[:, 1:],
        void_inter=table[:, 0],
        min_region_size=int(min_region_size),
    )


def _iou(inter: np.ndarray, gt_count: np.ndarray, pred_count: np.ndarray) -> np.ndarray:
    """IoU from point counts; broadcasting like the arguments."""
    return inter / (gt_count + pred_count - inter)


def _collect(scene: SceneMatches, threshold: float) -> tuple[list[float], list[float], int]:
    """One scene at one threshold: (y_true, y_score) entries and the count of missed ground truth."""
    min_region_size = scene.min_region_size
    y_true: list[float] = []
    y_score: list[float] = []
    missed = 0
    used = np.zeros(len(scene.pred_count), bool)  # the script's pred_visited
    scored_gt = np.flatnonzero(scene.gt_count >= min_region_size)
    for g in scored_gt:
        best = None
        for p in np.flatnonzero(scene.inter[:, g] > 0):
            if used[p] or not _iou(scene.inter[p, g], scene.gt_count[g], scene.pred_count[p]) > threshold:
                continue
            score = scene.pred_score[p]
            if best is None:
                best = score
                used[p] = True
            else:  # a duplicate: the lower of the two scores becomes a false positive
                y_true.append(0.0)
                y_score.append(min(best, score))
                best = max(best, score)
        if best is None:
            missed += 1
        else:
            y_true.append(1.0)
            y_score.append(best)

    small_gt = scene.gt_count < min_region_size
    for p in range(len(scene.pred_count)):
        ious = _iou(scene.inter[p], scene.gt_count, scene.pred_count[p])
        if np.any((scene.inter[p] > 0) & (ious > threshold)):
            continue  # matched some ground truth, possibly a small one: counted above or not at all
        num_ignore = scene.void_inter[p] + scene.inter[p, small_gt].sum()
        if float(num_ignore) / scene.pred_count[p] <= threshold:
            y_true.append(0.0)
            y_score.append(scene.pred_score[p])
    return y_true, y_score, missed


def average_precision(y_true: np.ndarray, y_score: np.ndarray, num_missed: int) -> float:
    """The script's area under the precision/recall curve.

    y_true:     (M,) 1 for true positives, 0 for false positives
    y_score:    (M,) their confidences
    num_missed: ground-truth instances without a match (the script's hard false negatives)

    Precision and recall are taken at every distinct score s (detections with score >= s),
    plus the point (recall 0, precision 1); each precision is weighted by half the recall
    span between its neighbours on the curve. Returns 0.0 when M == 0.
    """
    if len(y_score) == 0:
        return 0.0
    order = np.argsort(y_score)
    scores = np.asarray(y_score, np.float64)[order]
    true_cumsum = np.cumsum(np.asarray(y_true, np.float64)[order])
    _, first = np.unique(scores, return_index=True)  # first index of each distinct score
    num_true = true_cumsum[-1]
    true_below = np.append(true_cumsum, 0.0)[first - 1]  # trues with a strictly lower score
    tp = num_true - true_below
    fp = len(scores) - first - tp
    fn = true_below + num_missed
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    padded = np.concatenate([recall[:1], recall, [0.0]])
    widths = 0.5 * padded[:-2] - 0.5 * padded[2:]  # (recall[i-1] - recall[i+1]) / 2
    return float(np.dot(precision, widths))


def evaluate_scenes(scenes: Sequence[SceneEvalInput], min_region_size: int = MIN_REGION_SIZE) -> ApResult:
    """Pooled ScanNet-protocol AP over ``scenes`` (one scene gives that scene's AP)."""
    return evaluate_matches([match_scene(scene, min_region_size) for scene in scenes])


def evaluate_matches(matches: Sequence[SceneMatches]) -> ApResult:
    """Pooled AP over scenes already reduced by ``match_scene``."""
    if len({m.min_region_size for m in matches}) > 1:
        raise ValueError("scenes were matched with different min_region_size values; match them all alike")
    num_gt = sum(int(np.sum(m.gt_count >= m.min_region_size)) for m in matches)
    num_pred = sum(len(m.pred_count) for m in matches)
    per_threshold: dict[float, float] = {}
    for threshold in OVERLAPS:
        y_true: list[float] = []
        y_score: list[float] = []
        missed = 0
        for m in matches:
            scene_true, scene_score, scene_missed = _collect(m, threshold)
            y_true += scene_true
            y_score += scene_score
            missed += scene_missed
        if num_gt == 0:
            value = float("nan")
        elif num_pred == 0:
            value = 0.0
        else:
            value = average_precision(np.array(y_true), np.array(y_score), missed)
        per_threshold[round(float(threshold), 2)] = value
    values = np.array(list(per_threshold.values()))
    main = values[~np.isclose(OVERLAPS, 0.25)]
    return ApResult(
        ap=float(np.mean(main)),  # NaN only without ground truth, and then at every threshold
        ap50=per_threshold[0.5],
        ap25=per_threshold[0.25],
        per_threshold=per_threshold,
        num_gt=num_gt,
        num_pred=num_pred,
    )


def format_ap_line(result: ApResult) -> str:
    """``AP=0.4123 AP50=0.6012 AP25=0.7800`` (fractions, 4 decimals; ``nan`` without ground truth)."""
    return f"AP={result.ap:.4f} AP50={result.ap50:.4f} AP25={result.ap25:.4f}"


def ap_entries(result: ApResult) -> dict:
    """``{"AP": 0.4123, "AP50": 0.6012, "AP25": 0.78}`` for a metrics.json (4 decimals; None for NaN)."""
    values = {"AP": result.ap, "AP50": result.ap50, "AP25": result.ap25}
    return {name: None if np.isnan(value) else round(float(value), 4) for name, value in values.items()}
