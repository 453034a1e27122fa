"""Metrics: how well flags and scores match the labelled anomalies.

* :func:`tutorial_metric` -- the seed tutorial's number, computed exactly as it does;
* :func:`point_metrics` -- precision / recall / F1 on points (scikit-learn's, ``zero_division=0``);
* :func:`roc_auc`, :func:`pr_auc` -- threshold-free quality of the point scores;
* :func:`events`, :func:`event_metrics` -- anomalies counted as segments, not points;
* :func:`point_adjusted_f1` -- the popular but *inflating* point-adjusted F1;
* :func:`evaluate` -- all of the above in one JSON-able dict;
* :func:`runs`, :func:`window_hits` -- the runs of True of a mask, and the windows a mask
  touches: shared with the detector (repair passes) and the report (windows covering a label).

Shape glossary: N series length, n windows, T window length.  Masks are (N,) booleans (0/1
integers are accepted), True = anomalous.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_finite, index_plain, is_int
from .errors import DataError, ShapeError

__all__ = [
    "tutorial_metric", "point_metrics", "roc_auc", "pr_auc", "events", "default_merge_gap",
    "event_metrics", "point_adjust", "point_adjusted_f1", "evaluate", "runs", "window_hits",
]


def _mask(x, name) -> np.ndarray:
    """(N,) bool from bools or 0/1 numbers."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D mask of shape (N,), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
        raise DataError(f"{name} must hold booleans or 0/1, got dtype {arr.dtype}"
                        + ("" if arr.dtype.kind not in "iuf" else
                           f" with values such as {arr[~np.isin(arr, (0, 1))][:3].tolist()}")
                        + "; threshold scores first (e.g. Threshold.apply)")
    return arr.astype(bool)


def _pair(pred, truth, pred_name="pred_mask", truth_name="truth_mask"):
    pred, truth = _mask(pred, pred_name), _mask(truth, truth_name)
    if pred.shape != truth.shape:
        raise ShapeError(f"{pred_name} and {truth_name} must have the same length, "
                         f"got {pred.shape[0]} and {truth.shape[0]}")
    return pred, truth


def _spans_mask(starts, length, n_points) -> np.ndarray:
    """(N,) bool: True on ``[s, s + length)`` for every start ``s`` (cut at N), without a loop."""
    change = np.zeros(n_points + 1, dtype=np.int64)
    np.add.at(change, starts, 1)
    np.add.at(change, np.minimum(starts + length, n_points), -1)
    return np.cumsum(change[:-1]) > 0


# ---------------------------------------------------------------------------------------------
# The tutorial's metric
# ---------------------------------------------------------------------------------------------

def tutorial_metric(window_flags, truth, window_size, n_points, anomaly_length=10) -> dict:
    """The seed tutorial's ``calculate_metrics``, same arithmetic, same result.

    ``window_flags`` (n,) bool, one per stride-1 window, so ``n = n_points - window_size + 1``.
    Every flagged window ``i`` marks the points ``i … i + window_size - 1`` as predicted.
    ``truth`` is either the anomaly start indices (each marks ``start … start + anomaly_length
    - 1``, cut at the end of the series; the tutorial uses 10 whatever the anomaly kind) or an
    (N,) bool mask, used as is.  Then, on points,

        precision = tp / (tp + fp + 1e-10)      recall = tp / (tp + fn + 1e-10)
        f1 = 2 · precision · recall / (precision + recall + 1e-10)

    Returns ``{"precision", "recall", "f1", "tp", "fp", "fn", "tn"}`` (Python floats and ints).
    Note how generous a flagged window is: it predicts ``window_size`` points at once, so this
    precision is low even for a perfect window detector.  See :func:`point_metrics` for plain
    point metrics on a point-level prediction.
    """
    for name, value, low in (("window_size", window_size, 1), ("n_points", n_points, 1),
                             ("anomaly_length", anomaly_length, 1)):
        if not is_int(value, low):
            raise DataError(f"{name} must be an integer >= {low}, got {value!r}")
    flags = _mask(window_flags, "window_flags")
    expected = n_points - window_size + 1
    if len(flags) != expected:
        raise ShapeError(f"got {len(flags)} window flags, but a series of {n_points} points has "
                         f"{expected} windows of size {window_size} (stride 1); pass one flag "
                         f"per window")

    truth = np.asarray(truth)
    if truth.dtype == bool:
        if truth.shape != (n_points,):
            raise ShapeError(f"a truth mask must have shape ({n_points},), got {truth.shape}")
        truth_mask = truth
    else:
        if truth.ndim != 1 or (truth.size and truth.dtype.kind not in "iu"):
            raise DataError(f"truth must be a bool mask of shape (N,) or 1-D integer start "
                            f"indices, got dtype {truth.dtype} and shape {truth.shape}")
        starts = truth.astype(np.int64)
        if starts.size and (starts.min() < 0 or starts.max() >= n_points):
            raise DataError(f"anomaly starts must lie in [0, {n_points}), got {starts.tolist()}")
        truth_mask = _spans_mask(starts, anomaly_length, n_points)

    predictions = _spans_mask(np.flatnonzero(flags), window_size, n_points)
    tp = np.sum(predictions & truth_mask)
    fp = np.sum(predictions & ~truth_mask)
    fn = np.sum(~predictions & truth_mask)
    tn = np.sum(~predictions & ~truth_mask)
    precision = tp / (tp + fp + 1e-10)
    recall = tp / (tp + fn + 1e-10)
    f1 = 2 * (precision * recall) / (precision + recall + 1e-10)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


# ---------------------------------------------------------------------------------------------
# Point metrics
# ---------------------------------------------------------------------------------------------

def _counts(pred, truth):
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(np.sum(~pred & ~truth))
    return tp, fp, fn, tn


def _prf(tp, fp, fn):
    """Precision, recall, F1; 0.0 wherever a denominator is 0 (scikit-learn's zero_division=0)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return float(precision), float(recall), float(f1)


def point_metrics(pred_mask, truth_mask) -> dict:
    """Point-wise precision, recall, F1 and the confusion counts of two (N,) masks.

    A ratio whose denominator is zero is 0.0 (scikit-learn's ``zero_division=0``): no flags gives
    precision 0, no labelled point gives recall 0.  ``f1 = 2·tp / (2·tp + fp + fn)``, which equals
    the harmonic mean of precision and recall.  Returns ``{"precision", "recall", "f1", "tp",
    "fp", "fn", "tn"}`` as Python floats and ints.
    """
    pred, truth = _pair(pred_mask, truth_mask)
    tp, fp, fn, tn = _counts(pred, truth)
    precision, recall, f1 = _prf(tp, fp, fn)
    return {"precision": precision, "recall": recall, "f1": f1,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


# ---------------------------------------------------------------------------------------------
# Threshold-free metrics
# ---------------------------------------------------------------------------------------------

def _truth_and_scores(truth, scores):
    truth = _mask(truth, "truth")
    s = np.asarray(scores)
    if s.shape != truth.shape:
        raise ShapeError(f"scores must have the shape of truth {truth.shape}, got {s.shape}; "
                         f"reduce (N, D) point scores to (N,) first, e.g. scores.mean(axis=1)")
    if s.dtype.kind not in "fiub":
        raise DataError(f"scores must hold numbers, got dtype {s.dtype}")
    s = s.astype(np.float64)
    check_finite(s, "scores", "use point_scores(..., fill='nearest') or drop those points",
                 verb="hold", where=index_plain)
    return truth, s


def _average_ranks(s):
    """Ranks 1 … N of ``s``, tied values sharing the average of their ranks."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # first/last position of each group of equal values, in sorted order
    new_group = np.r_[True, sorted_s[1:] != sorted_s[:-1]]
    group = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)
    last = np.r_[first[1:], len(s)] - 1
    ranks = np.empty(len(s))
    ranks[order] = (first[group] + last[group]) / 2.0 + 1.0
    return ranks


def roc_auc(truth, scores) -> float:
    """Area under the ROC curve of ``scores`` (N,) against the (N,) labels ``truth``.

    The probability that a random anomalous point scores higher than a random normal one, ties
    counting one half -- equal to scikit-learn's ``roc_auc_score`` (trapezoids over a curve
    whose tied scores form one step).  Computed from ranks (Mann-Whitney U):
    ``AUC = (Σ ranks of positives - P(P+1)/2) / (P·Q)`` with P positives, Q negatives.

    Returns NaN when ``truth`` holds only one class (AUC is undefined; scikit-learn also
    returns NaN, with a warning).
    """
    truth, s = _truth_and_scores(truth, scores)
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _average_ranks(s)
    u = ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def pr_auc(truth, scores) -> float:
    """Average precision of ``scores`` (N,) against ``truth`` (N,), as scikit-learn computes it.

        AP = Σ_k (R_k - R_{k-1}) · P_k

    over the distinct score values taken as thresholds, from the highest down (``score >=
    threshold`` is flagged), with R_0 = 0: a step-wise sum, *not* a trapezoid (trapezoids
    over-estimate).  Equals ``sklearn.metrics.average_precision_score``.

    Returns NaN when ``truth`` has no positive (scikit-learn returns 0.0 with a warning there).
    """
    truth, s = _truth_and_scores(truth, scores)
    n_pos = int(truth.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    s_desc, t_desc = s[order], truth[order]
    # the last position of each group of tied scores is where that threshold's counts are read
    last_of_group = np.r_[np.flatnonzero(s_desc[1:] != s_desc[:-1]), len(s) - 1]
    tp = np.cumsum(t_desc)[last_of_group]
    flagged = last_of_group + 1
    precision = tp / flagged
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


# ---------------------------------------------------------------------------------------------
# Events (segments)
# ---------------------------------------------------------------------------------------------

def runs(mask):
    """(starts, ends) int arrays of the runs of True in ``mask``; ``ends`` exclusive.

    The one place runs are found: the event metrics below, the figures' shading and the anomaly
    map.  ``mask`` is read as a flat boolean vector (0/1 numbers too, unchecked: callers that
    take masks from users check them first); an empty mask has no run.
    """
    m = np.asarray(mask, dtype=bool).reshape(-1)
    edges = np.diff(np.r_[0, m.view(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def window_hits(mask, window_size, stride=1, n_windows=None):
    """Which windows cover at least one True of the (N,) ``mask``: bool (n,), or None.

    Window ``i`` covers points ``[i*stride, i*stride + window_size)``.  With ``n_windows=None``
    the windows are all those that fit in the N points (the detector's windows of a mask it
    made itself); with ``n_windows`` they are that many from point 0 (a report's windows of its
    labels), and the answer is None when there are none or they do not fit in the N points:
    they were cut from another series, and a guess would mislead.  ``mask=None`` (no labels)
    gives None.  One cumulative sum, no loop over windows.
    """
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool).reshape(-1)
    T, stride = int(window_size), int(stride)
    if n_windows is None:
        starts = np.arange(0, m.size - T + 1, stride)
    else:
        starts = np.arange(int(n_windows)) * stride
        if starts.size == 0 or starts[-1] + T > m.size:
            return None
    c = np.concatenate([[0], np.cumsum(m, dtype=np.int64)])
    return c[starts + T] - c[starts] > 0


def default_merge_gap(window_size) -> int:
    """The gap :func:`events` merges over by default in ``npae detect`` and ``npae score``: a
    tenth of the window (at least 1), so a flickering anomaly is one event while distinct
    anomalies stay apart."""
    return max(1, int(window_size) // 10)


def events(truth_mask, gap=0) -> list:
    """The contiguous runs of True in an (N,) mask, as ``[(start, end_exclusive), …]``.

    ``gap``: runs separated by at most ``gap`` False points are merged into one event (the
    False points between them included), so one anomaly whose flags flicker — ``4191``,
    ``4195``, ``4197–4199`` — is reported once.  ``gap=0`` (the default) keeps every run.
    """
    if not is_int(gap, 0):
        raise DataError(f"gap must be an integer >= 0 (points between two runs that are still "
                        f"one event), got {gap!r}")
    starts, ends = runs(_mask(truth_mask, "truth_mask"))
    if len(starts) > 1 and gap > 0:
        keep = np.r_[True, starts[1:] - ends[:-1] > gap]   # a run that starts a new event
        starts, ends = starts[keep], ends[np.r_[keep[1:], True]]
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def _touches(starts, ends, other):
    """For each run ``[s, e)``, whether ``other`` has a True inside it."""
    csum = np.r_[0, np.cumsum(other)]
    return csum[ends] - csum[starts] > 0


def event_metrics(pred_mask, truth_mask) -> dict:
    """Count anomalies as events (labelled segments) rather than points.

    * ``events_found`` -- labelled segments with at least one flagged point;
    * ``events_total`` -- labelled segments;
    * ``event_recall`` -- ``events_found / events_total`` (0.0 when there is no segment);
    * ``alarm_events`` -- runs of consecutive flagged points;
    * ``false_alarm_events`` -- those runs that touch no labelled point.

    Python ints and floats.
    """
    pred, truth = _pair(pred_mask, truth_mask)
    t_starts, t_ends = runs(truth)
    p_starts, p_ends = runs(pred)
    found = int(_touches(t_starts, t_ends, pred).sum())
    false_alarms = int((~_touches(p_starts, p_ends, truth)).sum())
    total = len(t_starts)
    return {"events_found": found, "events_total": total,
            "event_recall": found / total if total else 0.0,
            "alarm_events": len(p_starts), "false_alarm_events": false_alarms}


def point_adjust(pred_mask, truth_mask) -> np.ndarray:
    """(N,) bool: ``pred_mask`` with every labelled segment it touches filled in completely."""
    pred, truth = _pair(pred_mask, truth_mask)
    adjusted = pred.copy()
    t_starts, t_ends = runs(truth)
    hit = _touches(t_starts, t_ends, pred)
    adjusted |= _spans_mask(t_starts[hit], t_ends[hit] - t_starts[hit], len(truth))
    return adjusted


def point_adjusted_f1(pred_mask, truth_mask) -> float:
    """Point-adjusted F1: F1 after :func:`point_adjust`.

    If any point of a labelled segment is flagged, the *whole* segment counts as detected.
    WARNING: this inflates scores, often badly -- one lucky flag inside a long segment earns
    recall for all its points, and random flags can reach a high point-adjusted F1.  It is
    reported because papers use it; compare models with :func:`point_metrics` and
    :func:`event_metrics` instead.
    """
    adjusted = point_adjust(pred_mask, truth_mask)
    tp, fp, fn, _ = _counts(adjusted, _mask(truth_mask, "truth_mask"))
    return _prf(tp, fp, fn)[2]


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------

def evaluate(truth_mask, point_scores, pred_mask) -> dict:
    """All point and event metrics in one dict of plain Python values (ready for ``json.dump``).

    ``truth_mask`` and ``pred_mask`` are (N,) bool; ``point_scores`` is (N,) (or ``None`` to
    skip the AUCs).  Keys: precision, recall, f1, tp, fp, fn, tn (:func:`point_metrics`),
    roc_auc, pr_auc (``None`` when undefined: one class only, or no scores), events_found,
    events_total, event_recall, alarm_events, false_alarm_events (:func:`event_metrics`),
    point_adjusted_f1.
    """
    result = point_metrics(pred_mask, truth_mask)
    for name, fn in (("roc_auc", roc_auc), ("pr_auc", pr_auc)):
        value = None if point_scores is None else fn(truth_mask, point_scores)
        result[name] = None if value is None or math.isnan(value) else value
    result.update(event_metrics(pred_mask, truth_mask))
    result["point_adjusted_f1"] = point_adjusted_f1(pred_mask, truth_mask)
    return result
