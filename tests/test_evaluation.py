"""Hand-computed cases of the ScanNet200 / Replica instance evaluation (folk.evaluation).

AP values follow ScanNet's formula: one precision/recall point per distinct confidence, an
artificial end point (recall 0, precision 1), step widths 0.5 * (r[i-1] - r[i+1]).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from folk.errors import FolkInputError
from folk.evaluation import (
    IOU_THRESHOLDS,
    Evaluator,
    InstancePrediction,
    evaluate,
    load_classes,
    scannet_average_precision,
)

CHAIR, TABLE, DOOR = 2, 4, 5  # ScanNet200 ids (head classes)
WALL, FLOOR = 1, 3  # known to ScanNet200, not evaluated
PAPER = 79  # a ScanNet200 tail class
CUSHION = 39  # a ScanNet200 common class
N = 2000
T50 = 0
T25 = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, 0.25))[0])


def _scene(*instances: tuple[int, int, int, int]) -> np.ndarray:
    """GT of N vertices, void (0) except ``(label, instance, start, stop)`` ranges."""
    ids = np.zeros(N, dtype=np.int64)
    for label, instance, start, stop in instances:
        ids[start:stop] = label * 1000 + instance
    return ids


def _pred(*instances: tuple[object, int, float]) -> InstancePrediction:
    """Predictions ``(vertices, label, confidence)``; vertices: a slice or index array."""
    masks = np.zeros((N, len(instances)), dtype=bool)
    for k, (verts, _, _) in enumerate(instances):
        masks[verts, k] = True
    return InstancePrediction(
        masks, [label for _, label, _ in instances], [conf for _, _, conf in instances]
    )


def _eval(gt, pred, dataset="scannet200", **kwargs):
    return evaluate({"s": gt}, {"s": pred}, dataset, **kwargs)


def _class_ap(result, label_id):
    return result.class_ap[result.class_ids.index(label_id)]


# -- the AP formula ---------------------------------------------------------------------------
def test_ap_formula_of_a_lower_scored_false_positive_is_one():
    assert scannet_average_precision([1, 0], [0.9, 0.1], 0) == 1.0


def test_ap_formula_of_a_higher_scored_false_positive_is_a_quarter():
    # points (score >= 0.1): p=1/2, r=1; (score >= 0.9): p=0, r=0; end: p=1, r=0
    assert scannet_average_precision([1, 0], [0.1, 0.9], 0) == pytest.approx(0.25)


def test_ap_formula_counts_hard_false_negatives_in_recall():
    # one TP, one GT missed: r=1/2 at p=1 -> widths 0.25, 0.25
    assert scannet_average_precision([1], [0.5], 1) == pytest.approx(0.5)


def test_ap_formula_groups_tied_scores_into_one_point():
    # all tied: p=1/2, r=1 then the end point: 0.5*0.5 + 1*0.5
    assert scannet_average_precision([1, 0], [1.0, 1.0], 0) == pytest.approx(0.75)
    assert scannet_average_precision([0, 1], [1.0, 1.0], 0) == pytest.approx(0.75)


def test_ap_formula_without_any_scored_entry_is_zero():
    assert scannet_average_precision([], [], 3) == 0.0


# -- matching ---------------------------------------------------------------------------------
def test_perfect_prediction_scores_one_everywhere():
    gt = _scene(
        (CHAIR, 1, 0, 300), (CHAIR, 2, 300, 450), (TABLE, 1, 500, 900), (PAPER, 1, 900, 1000)
    )
    pred = _pred(
        (slice(0, 300), CHAIR, 0.9),
        (slice(300, 450), CHAIR, 0.4),
        (slice(500, 900), TABLE, 0.7),
        (slice(900, 1000), PAPER, 0.2),
    )
    result = _eval(gt, pred)
    assert (result.ap, result.ap50, result.ap25) == (1.0, 1.0, 1.0)
    assert result.head_ap == 1.0 and result.tail_ap == 1.0
    assert math.isnan(result.common_ap)  # no common class has GT


def test_lower_scored_duplicate_is_a_false_positive():
    # chair 1 found at 0.9 and again (duplicate) at 0.8; chair 2 found at 0.7.
    # entries TP .9, FP .8, TP .7: points (p, r) = (2/3, 1), (1/2, 1/2), (1, 1/2), (1, 0)
    # widths 1/4 each -> AP = (2/3 + 1/2 + 1 + 1) / 4 = 19/24
    gt = _scene((CHAIR, 1, 0, 200), (CHAIR, 2, 200, 400))
    pred = _pred(
        (slice(0, 200), CHAIR, 0.9), (slice(0, 200), CHAIR, 0.8), (slice(200, 400), CHAIR, 0.7)
    )
    result = _eval(gt, pred)
    assert result.ap == pytest.approx(19 / 24)
    assert result.ap25 == pytest.approx(19 / 24)


def test_duplicate_keeps_the_highest_confidence_for_the_true_positive():
    # same as above with the duplicate first in order and scored higher: the GT's TP takes
    # 0.9 whichever prediction carried it, so the AP does not change
    gt = _scene((CHAIR, 1, 0, 200), (CHAIR, 2, 200, 400))
    pred = _pred(
        (slice(0, 200), CHAIR, 0.8), (slice(0, 200), CHAIR, 0.9), (slice(200, 400), CHAIR, 0.7)
    )
    assert _eval(gt, pred).ap == pytest.approx(19 / 24)


def test_gt_instance_below_100_vertices_is_ignored():
    # a 99-vertex chair: no GT for the class at all -> NaN, not counted in the mean
    gt = _scene((CHAIR, 1, 0, 99), (TABLE, 1, 200, 400))
    pred = _pred((slice(200, 400), TABLE, 0.9))
    result = _eval(gt, pred)
    assert math.isnan(_class_ap(result, CHAIR)[0])
    assert result.ap == 1.0


def test_prediction_on_a_small_gt_instance_is_not_a_false_positive():
    gt = _scene((CHAIR, 1, 0, 99), (CHAIR, 2, 200, 400))
    pred = _pred((slice(0, 120), CHAIR, 0.95), (slice(200, 400), CHAIR, 0.5))
    assert _eval(gt, pred).ap == 1.0


def test_prediction_below_100_vertices_is_dropped_and_at_100_is_counted():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 1000, 1500))
    tp = (slice(0, 200), CHAIR, 0.1)
    tiny = _pred(tp, (slice(1000, 1099), CHAIR, 0.9))  # on a table: FP if it were kept
    assert _class_ap(_eval(gt, tiny), CHAIR)[0] == 1.0
    kept = _pred(tp, (slice(1000, 1100), CHAIR, 0.9))
    assert _class_ap(_eval(gt, kept), CHAIR)[0] == pytest.approx(0.25)


def test_prediction_on_void_is_not_a_false_positive():
    gt = _scene((CHAIR, 1, 0, 200), (WALL, 1, 1000, 1500))  # label 0 and wall: void
    on_void = _pred((slice(0, 200), CHAIR, 0.1), (slice(1000, 1300), CHAIR, 0.9))
    assert _eval(gt, on_void).ap == 1.0
    on_unlabeled = _pred((slice(0, 200), CHAIR, 0.1), (slice(1600, 1900), CHAIR, 0.9))
    assert _eval(gt, on_unlabeled).ap == 1.0


def test_prediction_on_another_class_is_a_false_positive():
    # a higher-scored FP: (1/2, 1), (0, 0), end (1, 0) -> AP 1/4
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 1000, 1500))
    pred = _pred((slice(0, 200), CHAIR, 0.1), (slice(1000, 1300), CHAIR, 0.9))
    assert _class_ap(_eval(gt, pred), CHAIR)[0] == pytest.approx(0.25)


def test_mostly_void_prediction_is_ignored_only_while_its_void_share_exceeds_the_threshold():
    # 60 % of the FP lies on void: ignored at IoU thresholds below 0.6, counted from 0.6 on
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 1000, 1500))
    verts = np.r_[1500:1560, 1000:1040]
    result = _eval(gt, _pred((slice(0, 200), CHAIR, 0.1), (verts, CHAIR, 0.9)))
    chair = _class_ap(result, CHAIR)
    expected = np.where(np.round(IOU_THRESHOLDS, 2) < 0.6, 1.0, 0.25)
    np.testing.assert_allclose(chair, expected)


def test_class_without_gt_is_nan_and_left_out_of_the_mean():
    gt = _scene((CHAIR, 1, 0, 200))
    pred = _pred((slice(0, 200), CHAIR, 0.9), (slice(500, 700), DOOR, 0.99))
    result = _eval(gt, pred)
    assert math.isnan(_class_ap(result, DOOR)[0])
    assert result.ap == 1.0
    assert result.num_classes_with_gt == 1


def test_class_with_gt_but_no_prediction_scores_zero():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 700))
    result = _eval(gt, _pred((slice(0, 200), CHAIR, 0.9)))
    assert _class_ap(result, TABLE)[0] == 0.0
    assert result.ap == pytest.approx(0.5)


def test_prediction_matches_only_gt_of_its_own_class():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 700))
    pred = _pred((slice(0, 200), TABLE, 0.9), (slice(500, 700), TABLE, 0.5))
    result = _eval(gt, pred)
    assert _class_ap(result, CHAIR)[0] == 0.0
    # table: TP .5, FP .9 -> 1/4
    assert _class_ap(result, TABLE)[0] == pytest.approx(0.25)


def test_confidence_ordering_matters():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 1000, 1500))
    fp_below = _pred((slice(0, 200), CHAIR, 0.9), (slice(1000, 1300), CHAIR, 0.1))
    fp_above = _pred((slice(0, 200), CHAIR, 0.1), (slice(1000, 1300), CHAIR, 0.9))
    assert _class_ap(_eval(gt, fp_below), CHAIR)[0] == 1.0
    assert _class_ap(_eval(gt, fp_above), CHAIR)[0] == pytest.approx(0.25)


def test_confidence_one_ties_every_prediction():
    # one tied point (p=1/2, r=1) then the end point -> 0.5*1/2 + 0.5*1 = 3/4
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 1000, 1500))
    pred = _pred((slice(0, 200), CHAIR, 0.9), (slice(1000, 1300), CHAIR, 0.1))
    result = _eval(gt, pred, confidence_one=True)
    assert _class_ap(result, CHAIR)[0] == pytest.approx(0.75)
    assert result.confidence_one and result.to_dict()["confidence_one"] is True


def test_iou_exactly_at_the_threshold_does_not_match():
    # IoU = 100/200 = 0.5: no match at 0.5 (the prediction is then a plain FP), match at 0.25
    gt = _scene((CHAIR, 1, 0, 200))
    chair = _class_ap(_eval(gt, _pred((slice(0, 100), CHAIR, 0.9))), CHAIR)
    assert chair[T50] == 0.0
    assert chair[T25] == 1.0
    # IoU = 100/400 = 0.25: no match at 0.25 either
    gt = _scene((CHAIR, 1, 0, 400))
    assert _class_ap(_eval(gt, _pred((slice(0, 100), CHAIR, 0.9))), CHAIR)[T25] == 0.0


def test_iou_just_above_the_threshold_matches():
    gt = _scene((CHAIR, 1, 0, 200))
    chair = _class_ap(_eval(gt, _pred((slice(0, 101), CHAIR, 0.9))), CHAIR)
    assert chair[T50] == 1.0


def test_wall_and_floor_predictions_are_ignored_on_scannet200():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 900))
    pred = _pred(
        (slice(0, 200), CHAIR, 0.1),
        (slice(500, 900), TABLE, 0.1),
        (slice(0, 200), WALL, 0.99),
        (slice(500, 900), FLOOR, 0.99),
    )
    result = _eval(gt, pred)
    assert result.ap == 1.0
    assert WALL not in result.class_ids and len(result.class_ids) == 198


def test_a_merged_prediction_is_taken_by_the_first_gt_instance_only_at_iou_025():
    # one prediction over two 150-vertex chairs: IoU 0.5 with each. At 0.25 it matches the
    # first chair and is then taken: the second chair is missed -> (p=1, r=1/2) -> AP 1/2.
    gt = _scene((CHAIR, 1, 0, 150), (CHAIR, 2, 150, 300))
    merged = (slice(0, 300), CHAIR, 0.9)
    chair = _class_ap(_eval(gt, _pred(merged)), CHAIR)
    assert chair[T25] == pytest.approx(0.5)
    assert chair[T50] == 0.0


def test_prediction_order_decides_which_duplicate_stays_available_at_iou_025():
    # The reference marks only the first matching prediction (in input order) as taken.
    # exact (0.5) first: it is taken by chair 1 whose TP scores max(0.5, 0.9); the merged
    # prediction (0.9) is a duplicate FP at 0.5 there, and still free for chair 2 -> TP 0.9.
    # entries TP .9, FP .5, TP .9: (2/3, 1), (1, 1), end -> AP 1.
    gt = _scene((CHAIR, 1, 0, 150), (CHAIR, 2, 150, 300))
    exact, merged = (slice(0, 150), CHAIR, 0.5), (slice(0, 300), CHAIR, 0.9)
    assert _class_ap(_eval(gt, _pred(exact, merged)), CHAIR)[T25] == pytest.approx(1.0)
    # merged first: it is taken by chair 1, chair 2 is missed:
    # entries TP .9, FP .5, one hard FN: (1/2, 1/2), (1, 1/2), end -> AP 1/2
    assert _class_ap(_eval(gt, _pred(merged, exact)), CHAIR)[T25] == pytest.approx(0.5)


def test_results_pool_scenes_before_computing_ap():
    # scene a: perfect at 0.2; scene b: an FP at 0.9 (on a table) and its chair at 0.1.
    # pooled: TP .2, TP .1, FP .9 -> points (2/3, 1), (1/2, 1/2), (0, 0), end:
    # widths 1/4, 1/2, 1/4, 0 -> 1/6 + 1/4 = 5/12
    gt = {"a": _scene((CHAIR, 1, 0, 200)), "b": _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 900))}
    preds = {
        "a": _pred((slice(0, 200), CHAIR, 0.2)),
        "b": _pred((slice(0, 200), CHAIR, 0.1), (slice(500, 900), CHAIR, 0.9)),
    }
    result = evaluate(gt, preds, "scannet200")
    assert _class_ap(result, CHAIR)[0] == pytest.approx(5 / 12)


def test_head_common_tail_average_their_own_classes():
    gt = _scene((CHAIR, 1, 0, 200), (CUSHION, 1, 300, 500), (PAPER, 1, 600, 800))
    pred = _pred((slice(0, 200), CHAIR, 0.9), (slice(300, 500), CUSHION, 0.9))
    result = _eval(gt, pred)
    assert (result.head_ap, result.common_ap, result.tail_ap) == (1.0, 1.0, 0.0)
    assert result.ap == pytest.approx(2 / 3)


def test_replica_has_no_head_common_tail_and_reports_null():
    basket, bed = 3, 7
    gt = _scene((basket, 1, 0, 200), (bed, 1, 300, 800))
    pred = _pred((slice(0, 200), basket, 0.9), (slice(300, 800), bed, 0.8))
    result = _eval(gt, pred, "replica")
    assert result.ap == 1.0 and len(result.class_ids) == 48
    assert result.head_ap is None and result.common_ap is None and result.tail_ap is None
    out = result.to_dict()
    assert out["head_ap"] is None and out["tail_ap25"] is None
    assert out["classes"]["basket"]["split"] is None


def test_replica_rejects_scannet_only_label_ids():
    gt = _scene((3, 1, 0, 200))
    with pytest.raises(FolkInputError, match="unknown replica label ids"):
        _eval(gt, _pred((slice(0, 200), CHAIR, 0.9)), "replica")


def test_scene_without_predictions_counts_as_predicting_nothing_with_a_warning():
    gt = {"a": _scene((CHAIR, 1, 0, 200)), "b": _scene((CHAIR, 1, 0, 200))}
    preds = {"a": _pred((slice(0, 200), CHAIR, 0.9))}
    with pytest.warns(UserWarning, match="no predictions"):
        result = evaluate(gt, preds, "scannet200")
    assert result.missing_scenes == ("b",)
    assert result.ap == pytest.approx(0.5)  # (p=1, r=1/2): widths 1/4, 1/4


def test_json_dict_has_the_documented_keys_and_no_nan():
    gt = _scene((CHAIR, 1, 0, 200))
    result = _eval(gt, _pred((slice(0, 200), CHAIR, 0.9)))
    out = result.to_dict()
    for key in ("ap", "ap50", "ap25", "head_ap", "common_ap", "tail_ap", "classes"):
        assert key in out
    assert out["ap"] == 1.0 and out["common_ap"] is None
    assert out["classes"]["chair"] == {
        "id": CHAIR,
        "split": "head",
        "ap": 1.0,
        "ap50": 1.0,
        "ap25": 1.0,
    }
    assert out["classes"]["door"]["ap"] is None
    assert "NaN" not in result.to_json()
    assert len(out["classes"]) == 198


def test_table_prints_percentages_for_all_and_splits():
    gt = _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 700))
    text = _eval(gt, _pred((slice(0, 200), CHAIR, 0.9))).table()
    assert "all" in text and "head" in text and "tail" in text
    assert "50.0" in text


# -- bad input --------------------------------------------------------------------------------
def test_mask_length_differing_from_gt_is_an_error():
    gt = _scene((CHAIR, 1, 0, 200))
    pred = InstancePrediction(np.ones((N - 1, 1), dtype=bool), [CHAIR], [0.9])
    with pytest.raises(FolkInputError, match=f"{N - 1} vertices but the ground truth has {N}"):
        _eval(gt, pred)


def test_predicted_scene_without_gt_is_an_error():
    gt = {"a": _scene((CHAIR, 1, 0, 200))}
    with pytest.raises(FolkInputError, match="no ground truth: b"):
        evaluate(gt, {"a": _pred(), "b": _pred()}, "scannet200")


def test_unknown_label_id_is_an_error():
    gt = _scene((CHAIR, 1, 0, 200))
    with pytest.raises(FolkInputError, match=r"unknown scannet200 label ids \[12\]"):
        _eval(gt, _pred((slice(0, 200), 12, 0.9)))


def test_masks_given_as_k_by_n_get_a_transpose_hint():
    with pytest.raises(FolkInputError, match="masks.T"):
        InstancePrediction(np.zeros((2, N), dtype=bool), [CHAIR, CHAIR], [0.5, 0.5])


def test_non_finite_confidence_is_an_error():
    with pytest.raises(FolkInputError, match="finite"):
        InstancePrediction(np.zeros((N, 1), dtype=bool), [CHAIR], [float("nan")])


def test_negative_gt_value_is_an_error():
    gt = _scene((CHAIR, 1, 0, 200))
    gt[5] = -1
    with pytest.raises(FolkInputError, match="non-negative"):
        _eval(gt, _pred())


def test_no_gt_scene_is_an_error():
    with pytest.raises(FolkInputError, match="no ground-truth scene"):
        evaluate({}, {}, "scannet200")


def test_unknown_dataset_is_an_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_classes("scannet20")


def test_masks_of_any_numeric_dtype_are_read_as_nonzero():
    masks = np.zeros((N, 1), dtype=np.float16)
    masks[:200, 0] = 1.0
    gt = _scene((CHAIR, 1, 0, 200))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _eval(gt, InstancePrediction(masks, [CHAIR], [0.5])).ap == 1.0


def test_zero_suffix_value_of_an_evaluated_class_is_an_instance_as_in_the_reference():
    # label*1000 is a nonzero value of an evaluated class: the reference makes it an instance
    gt = _scene((CHAIR, 0, 0, 200))
    assert _eval(gt, _pred((slice(0, 200), CHAIR, 0.9))).ap == 1.0
    assert _eval(gt, _pred()).ap == 0.0


def test_evaluator_one_scene_at_a_time_equals_evaluate():
    gt = {"a": _scene((CHAIR, 1, 0, 200)), "b": _scene((CHAIR, 1, 0, 200), (TABLE, 1, 500, 900))}
    preds = {
        "a": _pred((slice(0, 200), CHAIR, 0.2)),
        "b": _pred((slice(0, 150), CHAIR, 0.1), (slice(500, 900), CHAIR, 0.9)),
    }
    ev = Evaluator("scannet200")
    for scene in ("b", "a"):
        ev.add_scene(scene, gt[scene], preds[scene])
    np.testing.assert_array_equal(ev.result().class_ap, evaluate(gt, preds, "scannet200").class_ap)
    with pytest.raises(FolkInputError, match="given twice"):
        ev.add_scene("a", gt["a"], preds["a"])
