"""npae.metrics: the tutorial's metric, point / event metrics, ROC-AUC and average precision.

Oracles: the tutorial's ``calculate_metrics`` loop (written out below), scikit-learn's
precision_recall_fscore_support / confusion_matrix / roc_auc_score / average_precision_score,
and plain Python loops for events.
"""

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import (
    average_precision_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score,
)

from npae.errors import DataError, NonFiniteError, ShapeError
from npae.metrics import (
    evaluate, event_metrics, events, point_adjust, point_adjusted_f1, point_metrics, pr_auc,
    roc_auc, tutorial_metric,
)

@st.composite
def mask_pairs(draw, min_size=1):
    n = draw(st.integers(min_size, 80))
    pred = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    truth = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return np.array(pred), np.array(truth)


# ---------------------------------------------------------------------------------------------
# tutorial_metric
# ---------------------------------------------------------------------------------------------

def calculate_metrics_tutorial(detected_anomalies, real_indices, window_size, series_length):
    truth = np.zeros(series_length, dtype=bool)
    for idx in real_indices:
        truth[idx: idx + 10] = True
    predictions = np.zeros(series_length, dtype=bool)
    for i, is_anomaly in enumerate(detected_anomalies):
        if is_anomaly:
            predictions[i: i + window_size] = True
    tp = np.sum(predictions & truth)
    fp = np.sum(predictions & ~truth)
    fn = np.sum(~predictions & truth)
    tn = np.sum(~predictions & ~truth)
    precision = tp / (tp + fp + 1e-10)
    recall = tp / (tp + fn + 1e-10)
    f1 = 2 * (precision * recall) / (precision + recall + 1e-10)
    return {"precision": precision, "recall": recall, "f1": f1,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


@given(n_points=st.integers(12, 150), window=st.integers(2, 12), data=st.data())
def test_tutorial_metric_is_exactly_the_tutorials(n_points, window, data):
    n_windows = n_points - window + 1
    flags = np.array(data.draw(st.lists(st.booleans(), min_size=n_windows,
                                        max_size=n_windows)))
    starts = np.array(data.draw(st.lists(st.integers(0, n_points - 1), max_size=6)), dtype=int)
    want = calculate_metrics_tutorial(flags, starts, window, n_points)
    got = tutorial_metric(flags, starts, window, n_points)
    assert got == {k: v.item() for k, v in want.items()}  # bit-for-bit equal
    # a truth mask gives the same as the starts it came from
    mask = np.zeros(n_points, dtype=bool)
    for s in starts:
        mask[s:s + 10] = True
    assert tutorial_metric(flags, mask, window, n_points) == got


def test_tutorial_metric_on_the_tutorials_sizes_and_anomaly_length():
    rng = np.random.default_rng(0)
    flags = rng.random(951) > 0.95
    starts = np.array([120, 480, 702, 333, 860])
    got = tutorial_metric(flags, starts, 50, 1000)
    want = calculate_metrics_tutorial(flags, starts, 50, 1000)
    assert got["f1"] == want["f1"] and got["tn"] == want["tn"]
    assert got["tp"] + got["fn"] == 50
    # anomaly_length=20 marks twice as many true points
    assert tutorial_metric(np.zeros(951, bool), starts, 50, 1000, anomaly_length=20)["fn"] == 100
    nothing = tutorial_metric(np.zeros(951, bool), starts, 50, 1000)
    assert nothing["precision"] == 0.0 and nothing["f1"] == 0.0 and nothing["tn"] == 950


@pytest.mark.parametrize("flags, truth, window, n, error, match", [
    (np.zeros(10, bool), [3], 5, 15, ShapeError, r"got 10 window flags.*11 windows"),
    (np.zeros(11, bool), [15], 5, 15, DataError, r"starts must lie in \[0, 15\)"),
    (np.zeros(11, bool), [-1], 5, 15, DataError, r"starts must lie in \[0, 15\)"),
    (np.zeros(11, bool), [1.5], 5, 15, DataError, "integer start indices"),
    (np.zeros(11, bool), np.zeros(14, bool), 5, 15, ShapeError, r"shape \(15,\)"),
    (np.full(11, 2), [3], 5, 15, DataError, "booleans or 0/1"),
    (np.zeros(11, bool), [3], 0, 15, DataError, "window_size must be an integer >= 1"),
])
def test_tutorial_metric_bad_input(flags, truth, window, n, error, match):
    with pytest.raises(error, match=match):
        tutorial_metric(flags, truth, window, n)


# ---------------------------------------------------------------------------------------------
# point_metrics
# ---------------------------------------------------------------------------------------------

@given(mask_pairs())
def test_point_metrics_match_sklearn(pair):
    pred, truth = pair
    got = point_metrics(pred, truth)
    p, r, f, _ = precision_recall_fscore_support(truth, pred, average="binary",
                                                 zero_division=0)
    tn, fp, fn, tp = confusion_matrix(truth, pred, labels=[False, True]).ravel()
    assert (got["tp"], got["fp"], got["fn"], got["tn"]) == (tp, fp, fn, tn)
    assert got["precision"] == pytest.approx(p, abs=1e-15)
    assert got["recall"] == pytest.approx(r, abs=1e-15)
    assert got["f1"] == pytest.approx(f, abs=1e-12)
    assert all(type(v) in (int, float) for v in got.values())


def test_point_metrics_zero_division_and_integer_masks():
    none = point_metrics([0, 0, 0], [0, 1, 0])
    assert none == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 1,
                    "tn": 2}
    assert point_metrics(np.array([1, 0]), np.array([1.0, 0.0]))["f1"] == 1.0


@pytest.mark.parametrize("pred, truth, error, match", [
    ([1, 0, 1], [1, 0], ShapeError, "same length, got 3 and 2"),
    ([[1, 0]], [[1, 0]], ShapeError, r"1-D mask"),
    ([0.5, 1], [1, 0], DataError, r"values such as \[0.5\]"),
    (["a", "b"], [1, 0], DataError, "booleans or 0/1"),
])
def test_point_metrics_bad_input(pred, truth, error, match):
    with pytest.raises(error, match=match):
        point_metrics(pred, truth)


# ---------------------------------------------------------------------------------------------
# ROC-AUC and average precision
# ---------------------------------------------------------------------------------------------

@given(n=st.integers(2, 120), levels=st.sampled_from([2, 3, 5, 1000]),
       seed=st.integers(0, 10**6))
def test_roc_auc_and_average_precision_match_sklearn_with_ties(n, levels, seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    truth[rng.integers(n)] = True
    truth[rng.integers(n)] = False
    if truth.all() or not truth.any():
        truth[0], truth[-1] = True, False
    scores = rng.integers(0, levels, size=n) / levels + truth * rng.random() * 0.3
    assert roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    assert pr_auc(truth, scores) == pytest.approx(average_precision_score(truth, scores),
                                                  abs=1e-12)


def test_auc_hand_examples():
    truth = np.array([0, 0, 1, 1])
    assert roc_auc(truth, [0.1, 0.4, 0.35, 0.8]) == 0.75
    # average precision is step-wise: recall 0.5 at precision 1, recall 1 at precision 2/3
    assert pr_auc(truth, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert roc_auc(truth, [1, 1, 1, 1]) == 0.5
    assert pr_auc(truth, [1, 1, 1, 1]) == 0.5
    assert roc_auc(truth, [0, 0, 5, 5]) == 1.0 and pr_auc(truth, [0, 0, 5, 5]) == 1.0


def test_auc_single_class_is_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(roc_auc_score([0, 0, 0], [1, 2, 3]))  # sklearn agrees
    assert math.isnan(roc_auc([0, 0, 0], [1, 2, 3]))
    assert math.isnan(roc_auc([1, 1], [1, 2]))
    assert math.isnan(pr_auc([0, 0, 0], [1, 2, 3]))
    assert pr_auc([1, 1], [1, 2]) == 1.0


def test_auc_bad_input():
    with pytest.raises(ShapeError, match=r"reduce \(N, D\) point scores"):
        roc_auc([0, 1], np.zeros((2, 2)))
    with pytest.raises(NonFiniteError, match="first at index 1"):
        pr_auc([0, 1], [0.0, np.nan])
    with pytest.raises(DataError, match="scores must hold numbers"):
        roc_auc([0, 1], ["a", "b"])


# ---------------------------------------------------------------------------------------------
# Events and point adjustment
# ---------------------------------------------------------------------------------------------

def naive_events(mask):
    segments, start = [], None
    for i, v in enumerate(mask):
        if v and start is None:
            start = i
        if not v and start is not None:
            segments.append((start, i))
            start = None
    if start is not None:
        segments.append((start, len(mask)))
    return segments


@given(mask_pairs())
def test_events_and_event_metrics_match_loops(pair):
    pred, truth = pair
    truth_events, pred_events = naive_events(truth), naive_events(pred)
    assert events(truth) == truth_events
    got = event_metrics(pred, truth)
    found = sum(any(pred[s:e]) for s, e in truth_events)
    false_alarms = sum(not any(truth[s:e]) for s, e in pred_events)
    assert got["events_found"] == found and got["events_total"] == len(truth_events)
    assert got["false_alarm_events"] == false_alarms
    assert got["alarm_events"] == len(pred_events)
    assert got["event_recall"] == (found / len(truth_events) if truth_events else 0.0)


def naive_merged(segments, gap):
    """Merge segments whose gap (False points between them) is at most ``gap``, one at a time."""
    merged = []
    for s, e in segments:
        if merged and s - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


@given(mask_pairs(), st.integers(0, 12))
def test_events_gap_merges_runs_like_a_loop(pair, gap):
    pred, _ = pair
    assert events(pred, gap=gap) == naive_merged(naive_events(pred), gap)
    assert events(pred, gap=0) == naive_events(pred)


def test_events_gap_merges_one_flickering_anomaly():
    mask = np.zeros(4300, bool)
    mask[[4191, 4195, 4197, 4198, 4199]] = True     # one 12-point anomaly, flagged in pieces
    assert events(mask) == [(4191, 4192), (4195, 4196), (4197, 4200)]
    assert events(mask, gap=3) == [(4191, 4200)]
    assert events(mask, gap=2) == [(4191, 4192), (4195, 4200)]
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(DataError, match="gap"):
            events(mask, gap=bad)


@given(mask_pairs())
def test_point_adjusted_f1_matches_a_loop_and_never_lowers_f1(pair):
    pred, truth = pair
    adjusted = pred.copy()
    for s, e in naive_events(truth):
        if pred[s:e].any():
            adjusted[s:e] = True
    np.testing.assert_array_equal(point_adjust(pred, truth), adjusted)
    assert point_adjusted_f1(pred, truth) == point_metrics(adjusted, truth)["f1"]
    assert point_adjusted_f1(pred, truth) >= point_metrics(pred, truth)["f1"] - 1e-12
    np.testing.assert_array_equal(pred, pair[0])  # not mutated


def test_event_metrics_hand_example_and_inflation():
    truth = np.zeros(40, bool)
    truth[5:15] = True   # segment 1
    truth[25:35] = True  # segment 2
    pred = np.zeros(40, bool)
    pred[14] = True      # touches segment 1 at its last point
    pred[18:21] = True   # a false alarm
    pred[35:37] = True   # right after segment 2: does not touch it
    assert events(truth) == [(5, 15), (25, 35)]
    got = event_metrics(pred, truth)
    assert got == {"events_found": 1, "events_total": 2, "event_recall": 0.5,
                   "alarm_events": 3, "false_alarm_events": 2}
    # one flagged point earns the whole first segment: F1 jumps from 1/13 to 20/35
    assert point_metrics(pred, truth)["f1"] == pytest.approx(2 / 26)
    assert point_adjusted_f1(pred, truth) == pytest.approx(20 / 35)
    assert events(np.zeros(5, bool)) == [] and events([1, 1]) == [(0, 2)]


# ---------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------

def test_evaluate_gathers_everything_as_plain_json():
    rng = np.random.default_rng(0)
    truth = np.zeros(300, bool)
    truth[50:60] = truth[200:230] = True
    scores = rng.random(300) + truth
    pred = scores > 1.2
    result = evaluate(truth, scores, pred)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert result["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert result["pr_auc"] == pytest.approx(average_precision_score(truth, scores))
    for key, value in point_metrics(pred, truth).items():
        assert result[key] == value
    for key, value in event_metrics(pred, truth).items():
        assert result[key] == value
    assert result["point_adjusted_f1"] == point_adjusted_f1(pred, truth)
    assert {type(v) for v in result.values()} <= {int, float}


def test_evaluate_undefined_aucs_become_none():
    truth = np.zeros(20, bool)
    result = evaluate(truth, np.arange(20.0), truth)
    assert result["roc_auc"] is None and result["pr_auc"] is None
    json.dumps(result, allow_nan=False)
    assert evaluate(truth, None, truth)["roc_auc"] is None
    assert result["events_total"] == 0 and result["f1"] == 0.0
