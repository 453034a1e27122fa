"""npae.scoring: window errors, point scores, thresholds.

Oracles: explicit loops over windows and steps, np.percentile / statistics.median, and the
tutorial's ``detect_anomalies``.
"""

import json
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npae.errors import DataError, NonFiniteError, NotFittedError, ShapeError
from npae.scoring import Threshold, point_scores, window_errors


# ---------------------------------------------------------------------------------------------
# window_errors
# ---------------------------------------------------------------------------------------------

def test_window_errors_match_loops():
    rng = np.random.default_rng(0)
    x, x_hat = rng.normal(size=(7, 5, 3)), rng.normal(size=(7, 5, 3))
    x_before = x.copy()
    e = window_errors(x, x_hat, keep_squared=True)
    np.testing.assert_array_equal(x, x_before)
    for i in range(7):
        sq = [[(x_hat[i, t, d] - x[i, t, d]) ** 2 for d in range(3)] for t in range(5)]
        assert e.window[i] == pytest.approx(sum(map(sum, sq)) / 15, rel=1e-12)
        for t in range(5):
            assert e.per_step[i, t] == pytest.approx(sum(sq[t]) / 3, rel=1e-12)
        for d in range(3):
            assert e.per_feature[i, d] == pytest.approx(sum(sq[t][d] for t in range(5)) / 5,
                                                        rel=1e-12)
    np.testing.assert_allclose(e.squared, (x - x_hat) ** 2)
    assert window_errors(x, x_hat).squared is None


def test_window_errors_two_d_input_is_one_feature():
    rng = np.random.default_rng(1)
    x, x_hat = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    e = window_errors(x, x_hat)
    np.testing.assert_allclose(e.window, ((x - x_hat) ** 2).mean(axis=1))
    np.testing.assert_allclose(e.per_step, (x - x_hat) ** 2)
    np.testing.assert_allclose(e.per_feature[:, 0], e.window)


@pytest.mark.parametrize("x, x_hat, error, match", [
    (np.zeros((2, 3, 1)), np.zeros((2, 3, 2)), ShapeError, "same shape"),
    (np.zeros(5), np.zeros(5), ShapeError, r"\(n, T, D\) or \(n, T\)"),
    (np.zeros((0, 3, 1)), np.zeros((0, 3, 1)), ShapeError, "non-empty"),
    (np.zeros((2, 3)), np.array([[0, 0, 0], [0, np.nan, 0]]), NonFiniteError,
     r"x_hat holds NaN.*\(1, 1\)"),
])
def test_window_errors_bad_input(x, x_hat, error, match):
    with pytest.raises(error, match=match):
        window_errors(x, x_hat)


# ---------------------------------------------------------------------------------------------
# point_scores
# ---------------------------------------------------------------------------------------------

def naive_point_scores(e, n_points, stride, how, fill):
    """One Python list per point, then aggregate; uncovered points by a linear search."""
    n, T = e.shape[:2]
    collected = [[] for _ in range(n_points)]
    for i in range(n):
        for t in range(T):
            collected[i * stride + t].append(e[i, t])
    agg = {"mean": lambda v: np.mean(v, axis=0), "max": lambda v: np.max(v, axis=0),
           "min": lambda v: np.min(v, axis=0)}[how]
    tail = e.shape[2:]
    out = np.full((n_points,) + tail, np.nan)
    covered = [p for p in range(n_points) if collected[p]]
    for p in covered:
        out[p] = agg(np.array(collected[p]))
    if fill == "nearest":
        filled = out.copy()
        for p in range(n_points):
            if not collected[p]:
                best = min(covered, key=lambda c: (abs(c - p), c))  # earlier on a tie
                filled[p] = out[best]
        out = filled
    return out


@given(T=st.integers(2, 8), stride=st.integers(1, 11), n=st.integers(1, 9),
       extra=st.integers(0, 10), D=st.sampled_from([0, 1, 2]),
       how=st.sampled_from(["mean", "max", "min"]), fill=st.sampled_from(["nearest", "nan"]),
       seed=st.integers(0, 2**16))
def test_point_scores_match_the_naive_loop(T, stride, n, extra, D, how, fill, seed):
    n_points = (n - 1) * stride + T + extra % stride  # keeps the window count at n
    shape = (n, T) if D == 0 else (n, T, D)
    e = np.random.default_rng(seed).exponential(size=shape)
    got = point_scores(e, n_points, stride=stride, how=how, fill=fill)
    want = naive_point_scores(e, n_points, stride, how, fill)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    has_gaps = (n > 1 and stride > T) or extra % stride > 0
    assert np.isnan(got).any() == (fill == "nan" and has_gaps)


def test_point_scores_on_the_tutorial_setup():
    # stride 1: the first and last points are covered by one window, the middle by T
    e = np.random.default_rng(0).exponential(size=(951, 50))
    got = point_scores(e, 1000)
    assert got[0] == e[0, 0] and got[-1] == e[-1, -1]
    assert got[500] == pytest.approx(np.mean([e[500 - t, t] for t in range(50)]), rel=1e-12)
    assert point_scores(e, 1000, how="max")[500] == max(e[500 - t, t] for t in range(50))


def test_min_localises_a_single_bad_point():
    # a model whose error spreads over every step of every window that contains point p
    N, T, p = 60, 8, 30
    starts = np.arange(N - T + 1)
    contains_p = (starts <= p) & (p < starts + T)
    e = np.repeat(contains_p[:, None].astype(float), T, axis=1)
    assert np.flatnonzero(point_scores(e, N, how="min") > 0).tolist() == [p]
    assert (point_scores(e, N, how="max") > 0).sum() == 2 * T - 1
    assert (point_scores(e, N, how="mean") > 0).sum() == 2 * T - 1


def test_point_scores_do_not_mutate_input():
    e = np.random.default_rng(0).random((5, 4))
    before = e.copy()
    point_scores(e, 8, how="max")
    np.testing.assert_array_equal(e, before)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones((5, 4)), 10), {}, ShapeError, r"n_points=10 with stride=1 \(that gives 7"),
    ((np.ones((5, 4)), 3), {}, ShapeError, r"that gives 0 windows"),
    ((np.ones((5, 4)), 8), {"how": "median"}, DataError, "how must be"),
    ((np.ones((5, 4)), 8), {"fill": "zero"}, DataError, "fill must be"),
    ((np.ones((5, 4)), 8), {"stride": 0}, DataError, "stride must be an integer >= 1"),
    ((np.ones(5), 8), {}, ShapeError, r"\(n, T\) or \(n, T, D\)"),
    ((np.full((5, 4), np.inf), 8), {}, NonFiniteError, "step_errors holds NaN"),
])
def test_point_scores_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        point_scores(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Threshold
# ---------------------------------------------------------------------------------------------

def detect_anomalies_tutorial(errors, threshold_percentile=95):
    threshold = np.percentile(errors, threshold_percentile)
    return errors > threshold, threshold


@given(seed=st.integers(0, 10**6), q=st.floats(0, 100), n=st.integers(1, 300))
def test_percentile_threshold_is_the_tutorials(seed, q, n):
    scores = np.random.default_rng(seed).exponential(size=n)
    flags, value = detect_anomalies_tutorial(scores, q)
    thr = Threshold("percentile", q=q)
    assert thr.fit(scores) == value
    np.testing.assert_array_equal(thr.apply(scores), flags)


def test_threshold_methods_values():
    rng = np.random.default_rng(3)
    scores = rng.exponential(size=501)
    assert Threshold().fit(scores) == np.percentile(scores, 95)
    assert Threshold("mean_std", k=2).fit(scores) == pytest.approx(
        statistics.fmean(scores) + 2 * statistics.pstdev(scores), rel=1e-12)
    assert Threshold("mean_std").fit(scores) == pytest.approx(
        scores.mean() + 3 * scores.std(), rel=1e-12)
    med = statistics.median(scores.tolist())
    mad = statistics.median([abs(s - med) for s in scores.tolist()])
    assert Threshold("mad", k=2.5).fit(scores) == pytest.approx(med + 2.5 * 1.4826 * mad,
                                                                rel=1e-12)
    assert Threshold("contamination", contamination=0.05).fit(scores) == pytest.approx(
        np.percentile(scores, 95), rel=1e-12)
    # PyOD convention: about a fraction c of distinct training scores is flagged
    c = Threshold("contamination", contamination=0.2)
    assert c.fit_apply(scores).sum() == 100


def test_mad_is_robust_to_outliers_and_mean_std_is_not():
    normal = np.random.default_rng(0).normal(1.0, 0.1, size=1000)
    polluted = np.r_[normal, np.full(20, 1000.0)]
    mad_shift = Threshold("mad").fit(polluted) - Threshold("mad").fit(normal)
    std_shift = Threshold("mean_std").fit(polluted) - Threshold("mean_std").fit(normal)
    assert abs(mad_shift) < 0.05 and std_shift > 100


def test_apply_is_strictly_greater_and_keeps_shape():
    thr = Threshold("percentile", q=50)
    assert thr.fit([1.0, 2.0, 3.0]) == 2.0
    np.testing.assert_array_equal(thr.apply([[2.0, 2.0000001], [1.0, 5.0]]),
                                  [[False, True], [False, True]])


def test_threshold_round_trip_and_reapply_on_new_scores():
    train = np.random.default_rng(0).exponential(size=200)
    test = np.random.default_rng(1).exponential(size=50) * 3
    for method, param in [("percentile", {"q": 90}), ("mean_std", {"k": 2}),
                          ("mad", {}), ("contamination", {"contamination": 0.3})]:
        thr = Threshold(method, **param)
        thr.fit(train)
        restored = Threshold.from_dict(json.loads(json.dumps(thr.to_dict())))
        assert restored.value_ == thr.value_ and restored.param == thr.param
        np.testing.assert_array_equal(restored.apply(test), test > thr.value_)
    unfitted = Threshold.from_dict(Threshold("mad").to_dict())
    assert unfitted.value_ is None and unfitted.param == 3.0


@pytest.mark.parametrize("method, param, match", [
    ("percentile", {"q": 101}, r"q is a percentile and must be in \[0, 100\]"),
    ("percentile", {"q": float("nan")}, "q must be a finite number"),
    ("mean_std", {"k": -1}, "k .* must be >= 0"),
    ("mad", {"k": "3"}, "k must be a finite number"),
    ("contamination", {"contamination": 0.6}, r"in \(0, 0.5\]"),
    ("contamination", {"contamination": 0}, r"in \(0, 0.5\]"),
    ("percentile", {"k": 3}, r"takes only q=, got \['k'\]"),
    ("otsu", {}, "unknown threshold method 'otsu'"),
])
def test_threshold_bad_parameters(method, param, match):
    with pytest.raises(DataError, match=match):
        Threshold(method, **param)


def test_threshold_bad_scores_and_order():
    with pytest.raises(DataError, match="scores is empty"):
        Threshold().fit([])
    with pytest.raises(NonFiniteError, match="NaN or infinity"):
        Threshold("mad").fit([1.0, np.nan])
    with pytest.raises(NotFittedError, match="call fit"):
        Threshold().apply([1.0])
    thr = Threshold()
    thr.fit([1.0, 2.0])
    with pytest.raises(NonFiniteError, match="NaN or infinity"):
        thr.apply([np.inf])
    with pytest.raises(DataError, match="needs a dict with a 'method'"):
        Threshold.from_dict({"method": "nope"})
    with pytest.raises(DataError, match="value must be a finite number or None"):
        Threshold.from_dict({"method": "mad", "value": float("inf")})


def test_pot_threshold_extrapolates_an_exponential_tail():
    """Peaks over threshold on Exp(1) scores: the threshold at risk r is the true quantile
    -ln(r) (within 5 %), beyond the largest of the 2,000 scores for r = 1e-5."""
    from npae.scoring import Threshold

    rng = np.random.default_rng(0)
    big = rng.exponential(size=200_000)
    for risk in (1e-3, 1e-4):
        assert Threshold("pot", risk=risk).compute(big) == pytest.approx(-np.log(risk), rel=0.05)
    small = rng.exponential(size=2000)
    assert Threshold("pot", risk=1e-5).compute(small) > small.max()
    with pytest.raises(DataError, match="risk"):
        Threshold("pot", risk=0.5)
