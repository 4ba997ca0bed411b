"""ScanNet-protocol AP: hand-computed cases and a literal reference of the benchmark script."""

import math
import warnings

import numpy as np
import pytest

from samosaic3d_core.eval import OVERLAPS, SceneEvalInput, average_precision, evaluate_scenes, format_ap_line

MAIN = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]


def make_scene(gt_sizes, void, preds, name="scene"):
    """GT instances 1..G as consecutive blocks of ``gt_sizes`` points, then ``void`` unlabeled points.

    preds: list of (point index array, score).
    """
    gt = np.concatenate([np.full(n, i + 1) for i, n in enumerate(gt_sizes)] + [np.zeros(void, int)]).astype(np.int64)
    masks = np.zeros((len(preds), len(gt)), bool)
    for k, (idx, _) in enumerate(preds):
        masks[k, idx] = True
    scores = np.array([s for _, s in preds], np.float64)
    return SceneEvalInput(gt, masks, scores, name)


def block(start, count):
    return np.arange(start, start + count)


def assert_all_thresholds(result, value):
    assert result.per_threshold == pytest.approx({round(float(t), 2): value for t in OVERLAPS}, abs=1e-12)


# ---------------------------------------------------------------- hand-computed cases


def test_overlaps_are_the_scripts_float_values():
    assert len(OVERLAPS) == 10 and OVERLAPS[-1] == 0.25
    assert OVERLAPS[2] == 0.6000000000000001 > 0.6  # as np.arange makes it


def test_perfect_prediction_scores_one():
    scene = make_scene([200, 150], 50, [(block(0, 200), 0.9), (block(200, 150), 0.8)])
    result = evaluate_scenes([scene])
    assert (result.ap, result.ap50, result.ap25) == (1.0, 1.0, 1.0)
    assert (result.num_gt, result.num_pred) == (2, 2)


def test_iou_exactly_060_counts_at_050_and_055_only():
    # IoU 150 / 250 = 0.6 is not strictly above 0.6; the unmatched prediction becomes an FP (AP 0)
    result = evaluate_scenes([make_scene([250], 0, [(block(0, 150), 0.7)])])
    expected = {t: 0.0 for t in MAIN} | {0.5: 1.0, 0.55: 1.0, 0.25: 1.0}
    assert result.per_threshold == expected
    assert result.ap == pytest.approx(2 / 9, abs=1e-15)
    assert (result.ap50, result.ap25) == (1.0, 1.0)


def test_iou_just_above_060_counts_up_to_060():
    result = evaluate_scenes([make_scene([250], 0, [(block(0, 151), 0.7)])])  # IoU 0.604
    assert [result.per_threshold[t] for t in MAIN] == [1.0, 1.0, 1.0] + [0.0] * 6
    assert result.ap == pytest.approx(1 / 3, abs=1e-15)


def test_iou_exactly_050_misses_ap50_but_counts_at_025():
    result = evaluate_scenes([make_scene([200], 0, [(block(0, 100), 0.7)])])
    assert (result.ap, result.ap50, result.ap25) == (0.0, 0.0, 1.0)


def test_lower_scored_duplicate_after_full_recall_costs_nothing():
    # y = [TP 0.9, FP 0.5]: the FP only adds a point at recall 1 -> AP 1 under the script's integration
    result = evaluate_scenes([make_scene([200], 0, [(block(0, 200), 0.9), (block(0, 200), 0.5)])])
    assert (result.ap, result.ap50, result.ap25) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("dup_first", [False, True])
def test_duplicate_between_two_true_positives(dup_first):
    # y = TP 0.9 (gt 1), FP 0.7 (duplicate of gt 1), TP 0.5 (gt 2):
    # precision [2/3, 1/2, 1, 1], recall [1, 1/2, 1/2, 0], step widths 1/4 each -> AP = 19/24.
    # The duplicate listed first claims gt 1 but the ground truth keeps the higher score (0.9).
    preds = [(block(0, 200), 0.9), (block(0, 200), 0.7)]
    preds = (preds[::-1] if dup_first else preds) + [(block(200, 200), 0.5)]
    result = evaluate_scenes([make_scene([200, 200], 0, preds)])
    assert_all_thresholds(result, 19 / 24)
    assert result.ap == pytest.approx(19 / 24, abs=1e-15)


def test_higher_scored_false_positive_and_missed_ground_truth():
    # y = [TP 0.5, FP 0.9], gt 2 missed: precision [1/2, 0, 1], recall [1/2, 0, 0],
    # step widths [1/4, 1/4, 0] -> AP = 1/8
    scene = make_scene([200, 250], 0, [(block(0, 200), 0.5), (block(200, 110), 0.9)])  # IoU 0.44 with gt 2
    result = evaluate_scenes([scene])
    assert result.per_threshold[0.5] == 0.125
    assert result.per_threshold[0.25] == 1.0  # IoU 0.45 > 0.25: two true positives


def test_missed_ground_truth_halves_recall():
    # one TP, one 100-point ground truth without prediction: precision [1, 1], recall [1/2, 0] -> 0.5
    result = evaluate_scenes([make_scene([200, 100], 0, [(block(0, 200), 0.9)])])
    assert_all_thresholds(result, 0.5)
    assert result.num_gt == 2


def test_predictions_on_unlabeled_points_are_ignored():
    scene = make_scene([200], 300, [(block(0, 200), 0.5), (block(200, 150), 0.95)])
    result = evaluate_scenes([scene])
    assert (result.ap, result.ap50, result.ap25) == (1.0, 1.0, 1.0)
    assert result.num_pred == 2


def test_partly_unlabeled_prediction_is_fp_above_its_ignored_share():
    # X: 120 unlabeled + 80 points of gt 1 (IoU 80/420), score 0.9; ignored share 0.6.
    # Ignored at 0.5, 0.55, 0.25 (0.6 > t) -> AP 1; an FP above the TP at 0.6..0.9 -> AP 0.25.
    idx = np.concatenate([block(300, 120), block(0, 80)])
    scene = make_scene([300], 120, [(block(0, 300), 0.5), (idx, 0.9)])
    result = evaluate_scenes([scene])
    assert [result.per_threshold[t] for t in MAIN] == [1.0, 1.0] + [0.25] * 7
    assert result.ap == pytest.approx(3.75 / 9, abs=1e-15)
    assert (result.ap50, result.ap25) == (1.0, 1.0)


def test_ignored_share_equal_to_threshold_is_fp():
    # X: 50 unlabeled + 50 points of gt 1 (IoU 50/350), score 0.9: share 0.5 <= 0.5 -> FP at 0.5
    # and above (AP 0.25); at 0.25 the share exceeds the threshold -> ignored (AP 1)
    idx = np.concatenate([block(300, 50), block(0, 50)])
    result = evaluate_scenes([make_scene([300], 50, [(block(0, 300), 0.5), (idx, 0.9)])])
    assert (result.ap, result.ap50, result.ap25) == (0.25, 0.25, 1.0)


def test_small_ground_truth_is_not_scored_and_its_points_are_ignored():
    # gt 1 has 99 points (not scored), gt 2 has 200 (perfectly predicted)
    on_small = (np.concatenate([block(0, 99), block(299, 1)]), 0.99)  # IoU 0.99 with the small gt
    small_and_void = (np.concatenate([block(0, 99), block(299, 50)]), 0.98)  # IoU 0.66, all points ignored
    scene = make_scene([99, 200], 50, [(block(99, 200), 0.5), on_small, small_and_void])
    result = evaluate_scenes([scene])
    assert (result.ap, result.ap50, result.ap25) == (1.0, 1.0, 1.0)
    assert (result.num_gt, result.num_pred) == (1, 3)


@pytest.mark.parametrize("size, ap, ap25", [(99, 1.0, 1.0), (100, 0.25, 1.0)])
def test_prediction_below_min_region_size_is_dropped(size, ap, ap25):
    # a high-scored partial prediction of gt 1: 99 points -> dropped; 100 points (IoU 0.5) -> FP
    # at 0.5..0.9 (AP 0.25), and a lower-scored duplicate of the TP at 0.25 (AP 1)
    scene = make_scene([200], 0, [(block(0, size), 0.9), (block(0, 200), 0.5)])
    result = evaluate_scenes([scene])
    assert (result.ap, result.ap50, result.ap25) == (ap, ap, ap25)
    assert result.num_pred == (1 if size == 99 else 2)


def two_scenes():
    scene_a = make_scene([200], 0, [(block(0, 200), 0.8)], "a")
    scene_b = make_scene([200, 200], 0, [(block(0, 200), 0.6), (block(200, 100), 0.7)], "b")
    return scene_a, scene_b


def test_scenes_are_pooled_not_averaged():
    scene_a, scene_b = two_scenes()
    b = evaluate_scenes([scene_b])
    assert (b.ap, b.ap50, b.ap25) == (0.125, 0.125, 1.0)
    # pooled y: TP 0.8, TP 0.6, FP 0.7 and one missed gt: precision [2/3, 1/2, 1, 1],
    # recall [2/3, 1/3, 1/3, 0], step widths 1/6 each -> AP = 19/36 (mean of scene APs: 0.5625)
    pooled = evaluate_scenes([scene_a, scene_b])
    assert pooled.ap == pytest.approx(19 / 36, abs=1e-15)
    assert pooled.ap50 == pytest.approx(19 / 36, abs=1e-15)
    assert pooled.ap25 == pytest.approx(1.0, abs=1e-15)  # thirds: 0.9999999999999999, as the script
    assert (pooled.num_gt, pooled.num_pred) == (3, 3)


def test_no_ground_truth_is_nan_and_no_prediction_is_zero():
    no_gt = evaluate_scenes([make_scene([], 300, [(block(0, 150), 0.9)])])
    assert math.isnan(no_gt.ap) and math.isnan(no_gt.ap50) and math.isnan(no_gt.ap25)
    assert format_ap_line(no_gt) == "AP=nan AP50=nan AP25=nan"
    no_pred = evaluate_scenes([make_scene([200], 0, [])])
    assert (no_pred.ap, no_pred.ap50, no_pred.ap25) == (0.0, 0.0, 0.0)
    # ground truth and predictions but nothing to score (the script would crash here): 0
    only_ignored = evaluate_scenes([make_scene([200], 200, [(block(200, 200), 0.9)])])
    assert (only_ignored.ap, only_ignored.ap50, only_ignored.ap25) == (0.0, 0.0, 0.0)


def test_average_precision_direct():
    assert average_precision(np.array([1.0, 0.0]), np.array([0.5, 0.9]), 0) == 0.25
    assert average_precision(np.array([]), np.array([]), 3) == 0.0
    assert average_precision(np.array([0.0]), np.array([0.9]), 1) == 0.0


def test_format_ap_line():
    scene_a, scene_b = two_scenes()
    assert format_ap_line(evaluate_scenes([scene_a, scene_b])) == "AP=0.5278 AP50=0.5278 AP25=1.0000"


def test_bad_inputs_are_named():
    gt = np.zeros(10, np.int64)
    with pytest.raises(ValueError, match="kitchen: pred_masks must be"):
        evaluate_scenes([SceneEvalInput(gt, np.zeros((1, 9), bool), np.ones(1), "kitchen")])
    with pytest.raises(ValueError, match="pred_scores"):
        evaluate_scenes([SceneEvalInput(gt, np.zeros((1, 10), bool), np.array([np.nan]))])
    with pytest.raises(ValueError, match="gt_instance"):
        evaluate_scenes([SceneEvalInput(gt - 1, np.zeros((0, 10), bool), np.zeros(0))])


# ---------------------------------------------------------------- literal reference of the script
# evaluate_semantic_instance.py with one class: every non-zero gt id is an instance of that
# class (no "group" ids), void = points with gt id 0, prediction order = row order.


def ref_assign(scene, key, min_size=100):
    gt_ids = scene.gt_instance
    gt_instances = []
    for gid in np.unique(gt_ids):
        if gid == 0:
            continue
        gt_instances.append({"instance_id": int(gid), "vert_count": int((gt_ids == gid).sum()), "matched_pred": []})
    bool_void = gt_ids == 0
    pred_instances = []
    for k in range(len(scene.pred_masks)):
        pred_mask = scene.pred_masks[k]
        num = np.count_nonzero(pred_mask)
        if num < min_size:
            continue
        pred = {"filename": f"{key}/{k}", "vert_count": num, "confidence": float(scene.pred_scores[k]),
                "void_intersection": np.count_nonzero(np.logical_and(bool_void, pred_mask))}
        matched_gt = []
        for gt in gt_instances:
            intersection = np.count_nonzero(np.logical_and(gt_ids == gt["instance_id"], pred_mask))
            if intersection > 0:
                gt_copy, pred_copy = dict(gt), dict(pred)
                gt_copy["intersection"] = intersection
                pred_copy["intersection"] = intersection
                matched_gt.append(gt_copy)
                gt["matched_pred"].append(pred_copy)
        pred["matched_gt"] = matched_gt
        pred_instances.append(pred)
    return gt_instances, pred_instances


def ref_evaluate(scenes, min_region_size=100):
    matches = [ref_assign(s, i, min_region_size) for i, s in enumerate(scenes)]
    aps = []
    for overlap_th in OVERLAPS:
        pred_visited = {p["filename"]: False for _, preds in matches for p in preds}
        y_true, y_score = np.empty(0), np.empty(0)
        hard_false_negatives = 0
        has_gt = has_pred = False
        for all_gt, pred_instances in matches:
            gt_instances = [gt for gt in all_gt if gt["vert_count"] >= min_region_size]
            has_gt = has_gt or bool(gt_instances)
            has_pred = has_pred or bool(pred_instances)
            cur_true = np.ones(len(gt_instances))
            cur_score = np.ones(len(gt_instances)) * (-float("inf"))
            cur_match = np.zeros(len(gt_instances), dtype=bool)
            for gti, gt in enumerate(gt_instances):
                found_match = False
                for pred in gt["matched_pred"]:
                    if pred_visited[pred["filename"]]:
                        continue
                    union = gt["vert_count"] + pred["vert_count"] - pred["intersection"]
                    overlap = float(pred["intersection"]) / union
                    if overlap > overlap_th:
                        confidence = pred["confidence"]
                        if cur_match[gti]:
                            max_score = max(cur_score[gti], confidence)
                            min_score = min(cur_score[gti], confidence)
                            cur_score[gti] = max_score
                            cur_true = np.append(cur_true, 0)
                            cur_score = np.append(cur_score, min_score)
                            cur_match = np.append(cur_match, True)
                        else:
                            found_match = True
                            cur_match[gti] = True
                            cur_score[gti] = confidence
                            pred_visited[pred["filename"]] = True
                if not found_match:
                    hard_false_negatives += 1
            cur_true = cur_true[cur_match]
            cur_score = cur_score[cur_match]
            for pred in pred_instances:
                found_gt = False
                for gt in pred["matched_gt"]:
                    overlap = float(gt["intersection"]) / (gt["vert_count"] + pred["vert_count"] - gt["intersection"])
                    if overlap > overlap_th:
                        found_gt = True
                        break
                if not found_gt:
                    num_ignore = pred["void_intersection"]
                    for gt in pred["matched_gt"]:
                        if gt["vert_count"] < min_region_size:
                            num_ignore += gt["intersection"]
                    if float(num_ignore) / pred["vert_count"] <= overlap_th:
                        cur_true = np.append(cur_true, 0)
                        cur_score = np.append(cur_score, pred["confidence"])
            y_true = np.append(y_true, cur_true)
            y_score = np.append(y_score, cur_score)

        if has_gt and has_pred and len(y_score) == 0:
            ap_current = 0.0  # the script raises IndexError here; our documented choice
        elif has_gt and has_pred:
            score_arg_sort = np.argsort(y_score)
            y_score_sorted = y_score[score_arg_sort]
            y_true_sorted = y_true[score_arg_sort]
            y_true_sorted_cumsum = np.cumsum(y_true_sorted)
            _, unique_indices = np.unique(y_score_sorted, return_index=True)
            num_prec_recall = len(unique_indices) + 1
            num_examples = len(y_score_sorted)
            num_true_examples = y_true_sorted_cumsum[-1]
            precision = np.zeros(num_prec_recall)
            recall = np.zeros(num_prec_recall)
            y_true_sorted_cumsum = np.append(y_true_sorted_cumsum, 0)
            for idx_res, idx_scores in enumerate(unique_indices):
                cumsum = y_true_sorted_cumsum[idx_scores - 1]
                tp = num_true_examples - cumsum
                fp = num_examples - idx_scores - tp
                fn = cumsum + hard_false_negatives
                precision[idx_res] = float(tp) / (tp + fp)
                recall[idx_res] = float(tp) / (tp + fn)
            precision[-1] = 1.0
            recall[-1] = 0.0
            recall_for_conv = np.append(recall[0], recall)
            recall_for_conv = np.append(recall_for_conv, 0.0)
            step_widths = np.convolve(recall_for_conv, [-0.5, 0, 0.5], "valid")
            ap_current = np.dot(precision, step_widths)
        elif has_gt:
            ap_current = 0.0
        else:
            ap_current = float("nan")
        aps.append(ap_current)
    aps = np.array(aps)
    with warnings.catch_warnings():  # nanmean of all-NaN (no ground truth) warns
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(aps[:-1]), aps[0], aps[-1], aps


def random_scene(rng, name):
    """Ground truth of mixed sizes (some below 100 points) and unlabeled points; predictions that
    copy, shrink, grow, merge or duplicate ground truth plus random blobs; scores with ties."""
    sizes = rng.choice([40, 99, 100, 101, 150, 200, 250, 300, 377], size=rng.integers(0, 7))
    void = int(rng.integers(0, 300))
    gt = np.concatenate([np.full(n, i + 1) for i, n in enumerate(sizes)] + [np.zeros(void, int)]).astype(np.int64)
    gt = gt[rng.permutation(len(gt))]
    n = len(gt)
    masks = []
    for _ in range(rng.integers(0, 12)):
        kind = rng.integers(0, 5)
        if kind == 0 and len(sizes):  # noisy copy of one or two ground truths
            ids = rng.choice(np.arange(1, len(sizes) + 1), size=rng.integers(1, 3))
            mask = np.isin(gt, ids) & (rng.random(n) < rng.uniform(0.4, 1.0))
            mask |= rng.random(n) < rng.uniform(0.0, 0.15)
        elif kind == 1 and masks:  # duplicate of an earlier prediction, slightly changed
            mask = masks[rng.integers(len(masks))] ^ (rng.random(n) < 0.02)
        elif kind == 3 and len(sizes):  # exact counts: IoU and ignored shares hit the thresholds exactly
            gid = rng.integers(1, len(sizes) + 1)
            inside = rng.permutation(np.flatnonzero(gt == gid))[: rng.choice([50, 60, 75, 99, 100, 150])]
            outside = rng.permutation(np.flatnonzero(gt != gid))[: rng.choice([0, 25, 50, 100])]
            mask = np.zeros(n, bool)
            mask[np.concatenate([inside, outside])] = True
        elif kind == 2:  # mostly unlabeled points
            mask = ((gt == 0) & (rng.random(n) < 0.8)) | (rng.random(n) < 0.05)
        else:  # random blob
            mask = rng.random(n) < rng.uniform(0.05, 0.6)
        masks.append(mask)
    masks = np.array(masks, bool).reshape(-1, n)
    scores = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=len(masks)) + rng.choice([0.0, 0.01], size=len(masks))
    return SceneEvalInput(gt, masks, scores, name)


@pytest.mark.parametrize("seed", range(40))
def test_matches_literal_reference_on_random_scenes(seed):
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng, f"s{i}") for i in range(int(rng.integers(1, 4)))]
    ref_ap, ref_ap50, ref_ap25, ref_all = ref_evaluate(scenes)
    result = evaluate_scenes(scenes)
    np.testing.assert_array_equal(np.array(list(result.per_threshold.values())), ref_all)
    np.testing.assert_array_equal([result.ap, result.ap50, result.ap25], [ref_ap, ref_ap50, ref_ap25])


def test_reference_agrees_with_hand_computed_cases():
    # guards the reference itself: it must reproduce the exact numbers above
    scene_a, scene_b = two_scenes()
    assert ref_evaluate([scene_a, scene_b])[0] == pytest.approx(19 / 36, abs=1e-15)
    preds = [(block(0, 200), 0.9), (block(0, 200), 0.7), (block(200, 200), 0.5)]
    assert ref_evaluate([make_scene([200, 200], 0, preds)])[1] == pytest.approx(19 / 24, abs=1e-15)
