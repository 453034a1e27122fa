"""npae.data: synthetic series, anomaly injection, sliding windows, scalers, batches.

Oracles: the closed-form series with the same Generator draws, the tutorial's list-of-slices
window construction, scikit-learn's scalers, and plain Python loops.
"""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import preprocessing as skp

from npae._checks import check_finite, index_plain, is_int, window_count
from npae.data import (
    ANOMALY_KINDS, MinMaxScaler, NoScaler, StandardScaler, batches, inject_anomalies,
    iterate_batches, make_scaler, n_windows, scaler_from_dict, sliding_windows,
    synthetic_series, window_starts,
)
from npae.errors import DataError, NonFiniteError, NotFittedError, ShapeError


# ---------------------------------------------------------------------------------------------
# synthetic_series
# ---------------------------------------------------------------------------------------------

def test_synthetic_series_is_trend_plus_sine_plus_generator_noise():
    t = np.arange(300)
    noise = np.random.default_rng(7).normal(0, 0.3, 300)
    expected = 0.02 * t + 2.0 * np.sin(2 * np.pi * t / 30) + noise
    got = synthetic_series(300, trend=0.02, amplitude=2.0, period=30, noise_std=0.3, seed=7)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_synthetic_series_defaults_are_the_tutorials():
    t = np.arange(1000)
    got = synthetic_series(noise_std=0.0, seed=0)
    np.testing.assert_allclose(got, 0.01 * t + 5 * np.sin(2 * np.pi * t / 50), atol=1e-12)
    noisy = synthetic_series(seed=0)
    assert noisy.shape == (1000,)
    assert 0.4 < np.std(noisy - got) < 0.6


def test_synthetic_series_seed_rng_and_global_state():
    a = synthetic_series(200, seed=3)
    np.testing.assert_array_equal(a, synthetic_series(200, seed=3))
    assert not np.allclose(a, synthetic_series(200, seed=4))
    # rng overrides seed
    np.testing.assert_array_equal(
        synthetic_series(200, seed=99, rng=np.random.default_rng(3)), a)
    # NumPy's global random state is untouched
    np.random.seed(11)
    expected_next = np.random.rand()
    np.random.seed(11)
    synthetic_series(50, seed=1)
    assert np.random.rand() == expected_next


@pytest.mark.parametrize("kwargs, match", [
    ({"n_points": 0}, "n_points must be at least 1"),
    ({"n_points": 2.5}, "n_points must be an integer"),
    ({"period": 0}, "period must be positive"),
    ({"noise_std": -1.0}, "noise_std must be >= 0"),
    ({"trend": float("nan")}, "trend must be a finite number"),
])
def test_synthetic_series_bad_arguments(kwargs, match):
    with pytest.raises(DataError, match=match):
        synthetic_series(**kwargs)


# ---------------------------------------------------------------------------------------------
# inject_anomalies
# ---------------------------------------------------------------------------------------------

def _segments_mask(starts, length, n):
    mask = np.zeros(n, dtype=bool)
    for s in starts:
        mask[s:s + length] = True
    return mask


@pytest.mark.parametrize("kind, sign", [("spike", 1), ("dip", -1)])
def test_spike_and_dip_add_one_uniform_magnitude_over_ten_points(kind, sign):
    series = synthetic_series(1000, seed=0)
    before = series.copy()
    out, starts, labels = inject_anomalies(series, 5, kind, seed=1)
    np.testing.assert_array_equal(series, before)  # input untouched
    assert out is not series and not np.shares_memory(out, series)
    assert starts.dtype.kind == "i" and len(set(starts.tolist())) == 5
    assert list(starts) == sorted(starts)
    assert starts.min() >= 100 and starts.max() < 900
    np.testing.assert_array_equal(labels, _segments_mask(starts, 10, 1000))
    diff = sign * (out - series)
    assert np.all(diff[~labels] == 0)
    assert np.all((diff[labels] >= 15) & (diff[labels] <= 50))  # two may overlap
    isolated = [s for s in starts if not any(0 < abs(s - o) < 10 for o in starts)]
    assert len(isolated) >= 3
    for s in isolated:  # a non-overlapped segment holds one constant magnitude
        seg = diff[s:s + 10]
        np.testing.assert_allclose(seg, seg[0])
        assert 15 <= seg[0] <= 25


def test_flat_sets_twenty_points_to_the_original_mean():
    series = synthetic_series(1000, seed=2)
    out, starts, labels = inject_anomalies(series, 3, "flat", seed=5, margin=100)
    np.testing.assert_array_equal(labels, _segments_mask(starts, 20, 1000))
    np.testing.assert_allclose(out[labels], series.mean())
    np.testing.assert_array_equal(out[~labels], series[~labels])


def test_level_shift_and_length_override():
    series = np.zeros(600)
    out, starts, labels = inject_anomalies(series, 1, "level_shift", magnitude=(3, 4), seed=0)
    s = starts[0]
    assert labels.sum() == 50 and labels[s:s + 50].all()
    assert 3 <= out[s] <= 4 and np.all(out[s:s + 50] == out[s])
    out, starts, labels = inject_anomalies(series, 1, "level_shift", length=7, seed=0)
    assert labels.sum() == 7 and np.count_nonzero(out) == 7


def test_noise_burst_std_is_a_third_of_the_magnitude():
    series = np.zeros(5000)
    out, starts, labels = inject_anomalies(series, 1, "noise_burst", length=3000,
                                           magnitude=30.0, margin=1000, seed=4)
    np.testing.assert_array_equal(out[~labels], 0)
    assert labels.sum() == min(3000, 5000 - starts[0])
    assert 9.3 < out[labels].std() < 10.7


def test_anomaly_at_the_end_is_cut_not_wrapped():
    out, starts, labels = inject_anomalies(np.zeros(30), 1, "level_shift", margin=14,
                                           magnitude=1.0, seed=0)
    assert starts[0] in (14, 15)
    np.testing.assert_array_equal(np.flatnonzero(labels), np.arange(starts[0], 30))
    np.testing.assert_array_equal(out, labels.astype(float))


def test_kind_list_applies_in_sorted_start_order_and_mixed_uses_known_kinds():
    series = np.zeros(400)
    out, starts, labels = inject_anomalies(series, 2, ["spike", "dip"], margin=50,
                                           magnitude=10.0, seed=3)
    assert np.all(out[starts[0]:starts[0] + 10] >= 10 - 1e-12)  # may be overlapped by the dip
    assert out[starts[1]] <= 0
    out, starts, labels = inject_anomalies(synthetic_series(3000, seed=1), 20, "mixed",
                                           seed=8)
    again = inject_anomalies(synthetic_series(3000, seed=1), 20, "mixed", seed=8)
    np.testing.assert_array_equal(out, again[0])
    lengths = set(ANOMALY_KINDS.values())
    assert labels.sum() <= 20 * max(lengths)
    assert len(ANOMALY_KINDS) == 5


def test_inject_is_deterministic_and_rng_wins():
    series = synthetic_series(500, seed=0)
    a = inject_anomalies(series, 3, seed=10)
    b = inject_anomalies(series, 3, seed=123, rng=np.random.default_rng(10))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = inject_anomalies(series, 3, seed=11)
    assert not np.array_equal(a[0], c[0])


def test_multivariate_all_features_or_one():
    series = np.zeros((500, 3))
    out, starts, labels = inject_anomalies(series, 2, "spike", magnitude=5.0, seed=0)
    assert out.shape == (500, 3) and labels.shape == (500,)
    for j in range(3):
        np.testing.assert_array_equal(out[:, j], np.where(labels, out[:, 0], 0))
    assert np.all(out[labels] >= 5)
    out, starts, labels = inject_anomalies(series, 2, "spike", magnitude=5.0, feature=1,
                                           seed=0)
    assert np.all(out[:, [0, 2]] == 0) and np.all(out[labels, 1] >= 5)
    # flat uses each feature's own mean
    series = np.column_stack([np.arange(500.0), -np.arange(500.0)])
    out, _, labels = inject_anomalies(series, 1, "flat", seed=0)
    np.testing.assert_allclose(out[labels], [[249.5, -249.5]] * 20)


def test_zero_anomalies_returns_an_unchanged_copy():
    series = np.arange(10.0)
    out, starts, labels = inject_anomalies(series, 0, margin=100)
    np.testing.assert_array_equal(out, series)
    assert starts.shape == (0,) and not labels.any()


def test_integer_series_becomes_float():
    out, _, labels = inject_anomalies(np.zeros(300, dtype=int), 1, magnitude=2.5, seed=0)
    assert out.dtype == np.float64 and np.allclose(out[labels], 2.5)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros(250), 60), {}, DataError, r"only 50 possible start points.*\[100, 150\)"),
    ((np.zeros(150), 1), {}, DataError, "only 0 possible start points"),
    ((np.zeros(300), 1, "wiggle"), {}, DataError, "unknown anomaly kind 'wiggle'"),
    ((np.zeros(300), 2, ["spike"]), {}, DataError, "one kind per anomaly"),
    ((np.zeros(300), -1), {}, DataError, "n_anomalies must be at least 0"),
    ((np.zeros(300), 1), {"magnitude": (5, 1)}, DataError, "low <= high"),
    ((np.zeros(300), 1), {"length": 0}, DataError, "length must be at least 1"),
    ((np.zeros((300, 2)), 1), {"feature": 2}, DataError, r"indices in \[0, 2\)"),
    ((np.zeros((30, 2, 2)), 1), {}, ShapeError, r"shape \(N,\) or \(N, D\)"),
    ((np.r_[np.zeros(5), np.nan], 1), {}, NonFiniteError, "first at index 5"),
    ((np.array(["a", "b"]), 1), {}, DataError, "must hold numbers"),
])
def test_inject_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        inject_anomalies(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Sliding windows
# ---------------------------------------------------------------------------------------------

def create_windows_tutorial(series, window_size):
    """The tutorial's list-of-slices construction (the oracle)."""
    windows = []
    for i in range(len(series) - window_size + 1):
        windows.append(series[i:i + window_size])
    return np.array(windows)


def test_sliding_windows_match_the_tutorial_and_are_a_view():
    series = synthetic_series(300, seed=0)
    w = sliding_windows(series, 50)
    assert w.shape == (251, 50, 1)
    np.testing.assert_array_equal(w[:, :, 0], create_windows_tutorial(series, 50))
    assert np.shares_memory(w, series)
    assert not w.flags.writeable
    with pytest.raises(ValueError):
        w[0, 0, 0] = 1.0


@given(
    n=st.integers(2, 60), t=st.integers(2, 12), stride=st.integers(1, 7), d=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_sliding_windows_equal_naive_slices(n, t, stride, d, seed):
    if t > n:
        t = n
    series = np.random.default_rng(seed).normal(size=(n, d))
    w = sliding_windows(series, t, stride)
    naive = np.array([series[s:s + t] for s in range(0, n - t + 1, stride)])
    np.testing.assert_array_equal(w, naive)
    assert np.shares_memory(w, series)
    np.testing.assert_array_equal(window_starts(n, t, stride),
                                  list(range(0, n - t + 1, stride)))
    assert n_windows(n, t, stride) == len(naive)


def test_sliding_windows_on_a_non_contiguous_input():
    base = np.arange(40.0).reshape(20, 2)
    series = base[::2, ::-1]
    w = sliding_windows(series, 3, 2)
    np.testing.assert_array_equal(w, [series[s:s + 3] for s in range(0, 8, 2)])
    assert np.shares_memory(w, base)


@pytest.mark.parametrize("series, size, stride, error, match", [
    (np.zeros(10), 1, 1, DataError, "window_size must be at least 2"),
    (np.zeros(10), 11, 1, DataError, "fewer than one window of window_size=11"),
    (np.zeros(10), 3, 0, DataError, "stride must be at least 1"),
    (np.zeros(10), 3.0, 1, DataError, "window_size must be an integer"),
    (np.zeros((4, 3, 2)), 2, 1, ShapeError, r"got shape \(4, 3, 2\)"),
    (np.r_[np.zeros(7), np.inf, 0.0], 3, 1, NonFiniteError, "first at index 7"),
    (np.array([[0.0, 1], [2, np.nan]]), 2, 1, NonFiniteError, r"first at index \(1, 1\)"),
    (np.zeros(0), 2, 1, DataError, "empty"),
])
def test_sliding_windows_bad_input(series, size, stride, error, match):
    with pytest.raises(error, match=match):
        sliding_windows(series, size, stride)


def test_window_starts_bad_input():
    with pytest.raises(DataError, match="fewer than one window"):
        window_starts(5, 6, 1)
    with pytest.raises(DataError, match="stride must be at least 1"):
        window_starts(5, 2, -1)


# ---------------------------------------------------------------------------------------------
# The shared checks (npae._checks): one helper per kind, used by data, scoring, train, detector …
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, minimum, ok", [
    (3, None, True), (np.int64(3), None, True), (np.uint8(0), 0, True), (0, None, True),
    (3, 3, True), (2, 3, False), (-1, 0, False),
    (True, None, False), (np.bool_(True), None, False), (False, 0, False),
    (3.0, None, False), (np.float64(3), None, False), ("3", None, False), (None, None, False),
])
def test_is_int(value, minimum, ok):
    """An integer of Python or NumPy, never a bool nor a whole float."""
    assert is_int(value, minimum) is ok


def test_check_finite_names_the_first_bad_value():
    a = np.zeros((3, 4))
    a[2, 1], a[1, 3] = np.inf, np.nan        # (1, 3) comes first in C order
    with pytest.raises(NonFiniteError) as info:
        check_finite(a, "x", "fill it")
    assert str(info.value) == "x holds NaN or infinity (first at index (1, 3)); fill it"
    with pytest.raises(NonFiniteError, match=r"^s hold NaN or infinity \(first at index 2\)$"):
        check_finite(np.r_[0.0, 1.0, np.nan], "s", verb="hold", where=index_plain)
    with pytest.raises(DataError, match=r"^f: its w holds NaN or infinity; retrain$") as info:
        check_finite(np.r_[-np.inf], "f: its w", "retrain", where=None, error=DataError)
    assert not isinstance(info.value, NonFiniteError)
    with pytest.raises(NonFiniteError, match=r"first at row 0, col 1\)"):
        check_finite([[1.0, np.nan]], "m", where=lambda i: f"row {i[0]}, col {i[1]}")
    for fine in (np.zeros((2, 2)), np.arange(5), np.array([True, False]), np.float32([1e38]),
                 np.zeros(0), [1.0, 2.0]):
        check_finite(fine, "fine")            # no error, nothing returned


def test_check_finite_is_what_the_callers_raise():
    """The messages the modules gave before the helper, word for word (from data, scoring, train,
    the detector's input and metrics: one per way of naming a position)."""
    from npae.detector import _as_array
    from npae.metrics import roc_auc
    from npae.scoring import point_scores
    from npae.train import fit
    from npae import RNNAutoencoder

    x = np.zeros((6, 2))
    x[4, 1] = np.nan
    cases = [
        (lambda: sliding_windows(x, 2), "series holds NaN or infinity (first at index (4, 1)); "
         "fill or drop the missing values (e.g. interpolate) before windowing or scaling"),
        (lambda: sliding_windows(x[:, 1], 2), "series holds NaN or infinity (first at index 4); "
         "fill or drop the missing values (e.g. interpolate) before windowing or scaling"),
        (lambda: point_scores(x, 7), "step_errors holds NaN or infinity (first at index (4, 1)); "
         "check the model's output or the data before scoring"),
        (lambda: fit(RNNAutoencoder(2, 3, 2, seed=0), x[None], epochs=1),
         "windows hold NaN or infinity (first at index (0, 4, 1)); fill or drop missing values "
         "before windowing"),
        (lambda: _as_array(x, "series"), "series holds NaN or infinity (first at row 4, feature "
         "1); fill or drop missing values first (e.g. forward-fill or interpolate)"),
        (lambda: _as_array(x[None], "windows"), "windows holds NaN or infinity (first at series 0, "
         "step 4, feature 1); fill or drop missing values first (e.g. forward-fill or interpolate)"),
        (lambda: roc_auc(np.array([0, 1, 0, 1, 0, 1]), x[:, 1]), "scores hold NaN or infinity "
         "(first at index 4); use point_scores(..., fill='nearest') or drop those points"),
    ]
    for call, message in cases:
        with pytest.raises(NonFiniteError) as info:
            call()
        assert str(info.value) == message


@given(n=st.integers(0, 80), t=st.integers(1, 12), stride=st.integers(1, 9))
def test_window_count_is_the_number_of_windows(n, t, stride):
    """The one formula, (N - T) // stride + 1 (0 for a series shorter than a window), against
    the windows themselves and the checked public n_windows."""
    count = window_count(n, t, stride)
    assert count == len(range(0, n - t + 1, stride))
    if t >= 2 and n >= t:
        assert count == n_windows(n, t, stride) == len(sliding_windows(np.zeros(n), t, stride))
        assert count == len(window_starts(n, t, stride))


def test_window_count_is_what_the_detector_scores():
    """score_series and coverage_positions count windows with it: every window scored, every
    point placed in the windows that cover it."""
    from npae.detector import coverage_positions, score_series

    for N, T, s in [(20, 4, 1), (20, 4, 3), (23, 5, 5), (8, 8, 2)]:
        seen = []
        wscore = score_series(lambda xb: seen.append(len(xb)) or xb * 0.5,
                              np.arange(float(N))[:, None], T, stride=s)[0]
        assert len(wscore) == sum(seen) == window_count(N, T, s)
        lo, hi = coverage_positions(N, T, s)
        n = window_count(N, T, s)
        for j in range(N):
            jj = min(j, (n - 1) * s + T - 1)   # past the last window: the last covered point
            steps = [jj - i * s for i in range(n) if 0 <= jj - i * s <= T - 1]
            assert (lo[j], hi[j]) == (min(steps), max(steps))


# ---------------------------------------------------------------------------------------------
# Scalers
# ---------------------------------------------------------------------------------------------

# rounded, so that a feature's range is either 0 or >= 1e-6: scikit-learn's MinMaxScaler treats
# ranges below 2e-15 as constant, npae does not (see test_scalers_are_unit_free)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 6))


@given(train=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5),
                                              st.integers(1, 3)), elements=finite),
       test_seed=st.integers(0, 1000))
def test_scalers_per_feature_match_sklearn_on_flattened_steps(train, test_seed):
    n, t, d = train.shape
    test = np.random.default_rng(test_seed).normal(size=(4, t, d)) * 100
    for ours, theirs in ((StandardScaler(), skp.StandardScaler()),
                         (MinMaxScaler(), skp.MinMaxScaler())):
        train_copy = train.copy()
        ours.fit(train)
        np.testing.assert_array_equal(train, train_copy)  # no mutation
        theirs.fit(train.reshape(-1, d))
        got = ours.transform(test)
        want = theirs.transform(test.reshape(-1, d)).reshape(test.shape)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        assert np.isfinite(ours.transform(train)).all()
        np.testing.assert_allclose(ours.inverse_transform(got), test, rtol=1e-9, atol=1e-6)


def test_standard_scaler_per_position_is_the_tutorials_sklearn_call():
    windows = create_windows_tutorial(synthetic_series(200, seed=1), 20)  # (n, T)
    tutorial = skp.StandardScaler().fit(windows)
    ours = StandardScaler(per="position").fit(windows)
    np.testing.assert_allclose(ours.transform(windows), tutorial.transform(windows), atol=1e-12)
    assert ours.mean_.shape == (20, 1)
    w3 = windows[..., None]
    np.testing.assert_allclose(StandardScaler(per="position").fit_transform(w3)[..., 0],
                               tutorial.transform(windows), atol=1e-12)
    # per feature differs: one mean over all positions
    per_feature = StandardScaler().fit(w3)
    assert per_feature.mean_.shape == (1,)
    np.testing.assert_allclose(per_feature.mean_, windows.mean())


def test_scalers_accept_series_of_rank_one_and_two():
    series = synthetic_series(100, seed=0)
    z = StandardScaler().fit_transform(series)
    assert z.shape == (100,)
    np.testing.assert_allclose(z, (series - series.mean()) / series.std())
    two = np.column_stack([series, 3 * series + 1])
    m = MinMaxScaler().fit_transform(two)
    np.testing.assert_allclose(m.min(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(m.max(axis=0), 1)
    # windows of the series scaled with the series' scaler equal the windows of the scaled series
    sc = StandardScaler().fit(two)
    np.testing.assert_allclose(sc.transform(sliding_windows(two, 10)),
                               sliding_windows(sc.transform(two), 10))


@pytest.mark.parametrize("value", [0.0, 0.1, 7.0, 1e6 + 0.1, -3e-8])
def test_constant_feature_gives_no_nan(value):
    data = np.column_stack([np.full(50, value), np.arange(50.0)])
    z = StandardScaler().fit(data)
    assert z.scale_[0] == 1.0
    out = z.transform(data)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], 0, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], skp.StandardScaler().fit_transform(data)[:, 1])
    m = MinMaxScaler().fit_transform(data)
    assert np.isfinite(m).all() and np.all(m[:, 0] == 0)
    np.testing.assert_allclose(MinMaxScaler().fit(data).inverse_transform(m), data)


@pytest.mark.parametrize("unit", [1e-150, 1e-9, 1e12])
def test_scalers_are_unit_free(unit):
    data = np.random.default_rng(0).normal(size=(40, 3)) + np.array([0.0, 5.0, -2.0])
    for scaler in (StandardScaler(), MinMaxScaler()):
        np.testing.assert_allclose(scaler.fit_transform(data * unit),
                                   scaler.fit_transform(data), rtol=1e-9, atol=1e-12)


def test_scalers_keep_float32_and_convert_integers():
    x32 = np.arange(20, dtype=np.float32).reshape(10, 2)
    assert StandardScaler().fit_transform(x32).dtype == np.float32
    xi = np.arange(20).reshape(10, 2)
    out = MinMaxScaler().fit_transform(xi)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[:, 0], np.arange(10) / 9)


def test_minmax_feature_range():
    data = np.arange(11.0)
    out = MinMaxScaler(feature_range=(-1, 1)).fit_transform(data)
    np.testing.assert_allclose(out, np.linspace(-1, 1, 11))
    np.testing.assert_allclose(out, skp.MinMaxScaler((-1, 1)).fit_transform(data[:, None])[:, 0])


def test_no_scaler_is_identity_and_needs_no_fit():
    data = np.arange(12.0).reshape(2, 3, 2)
    out = NoScaler().transform(data)
    np.testing.assert_array_equal(out, data)
    assert not np.shares_memory(out, data)
    np.testing.assert_array_equal(NoScaler().fit(data).inverse_transform(data), data)


@pytest.mark.parametrize("name", ["standard", "minmax", "none"])
def test_scaler_dict_round_trip_through_json(name):
    rng = np.random.default_rng(0)
    train, test = rng.normal(3, 2, size=(30, 8, 2)), rng.normal(size=(5, 8, 2))
    scaler = make_scaler(name).fit(train)
    text = json.dumps(scaler.to_dict())
    restored = scaler_from_dict(json.loads(text))
    assert type(restored) is type(scaler)
    np.testing.assert_array_equal(restored.transform(test), scaler.transform(test))
    again = type(scaler).from_dict(json.loads(text))
    np.testing.assert_array_equal(again.inverse_transform(test), scaler.inverse_transform(test))


def test_position_scaler_round_trip_keeps_per_and_range():
    data = np.random.default_rng(1).normal(size=(10, 5, 1))
    s = MinMaxScaler(per="position", feature_range=(2, 3)).fit(data)
    r = scaler_from_dict(json.loads(json.dumps(s.to_dict())))
    assert r.per == "position" and r.feature_range == (2.0, 3.0)
    np.testing.assert_array_equal(r.transform(data), s.transform(data))


def test_scaler_errors():
    with pytest.raises(NotFittedError, match="call fit"):
        StandardScaler().transform(np.zeros((3, 1)))
    with pytest.raises(NotFittedError, match="call fit"):
        MinMaxScaler().inverse_transform(np.zeros((3, 1)))
    sc = StandardScaler().fit(np.random.default_rng(0).normal(size=(10, 4, 2)))
    with pytest.raises(ShapeError, match=r"fitted with features D = \(2,\)"):
        sc.transform(np.zeros((10, 4, 3)))
    with pytest.raises(ShapeError, match=r"got shape \(2, 2, 2, 2\)"):
        sc.transform(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ShapeError, match=r"\(n, T, D\) or \(n, T\)"):
        StandardScaler(per="position").fit(np.zeros(10))
    with pytest.raises(NonFiniteError, match="first at index"):
        StandardScaler().fit(np.array([1.0, np.nan]))
    with pytest.raises(DataError, match="empty"):
        MinMaxScaler().fit(np.zeros((0, 2)))
    with pytest.raises(DataError, match="per must be 'feature' or 'position'"):
        StandardScaler(per="time")
    with pytest.raises(DataError, match="low < high"):
        MinMaxScaler(feature_range=(1, 1))
    with pytest.raises(DataError, match="unknown scaler 'robust'"):
        make_scaler("robust")
    with pytest.raises(DataError, match="'name' must be one of"):
        scaler_from_dict({"name": "robust"})
    with pytest.raises(DataError, match="missing keys"):
        StandardScaler.from_dict({"name": "standard", "per": "feature", "mean_": [0.0]})
    with pytest.raises(DataError, match="NaN or infinity"):
        StandardScaler.from_dict({"name": "standard", "per": "feature", "mean_": [0.0],
                                  "scale_": [float("nan")]})


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

@given(n=st.integers(0, 100), batch_size=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_iterate_batches_partition_and_determinism(n, batch_size, seed):
    got = list(iterate_batches(n, batch_size, seed=seed))
    sizes = [len(b) for b in got]
    expected_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert sizes == expected_sizes
    flat = np.concatenate(got) if got else np.array([], dtype=int)
    np.testing.assert_array_equal(np.sort(flat), np.arange(n))
    again = list(iterate_batches(n, batch_size, rng=np.random.default_rng(seed)))
    assert all(np.array_equal(a, b) for a, b in zip(got, again)) and len(got) == len(again)


def test_batches_shuffle_changes_with_seed_and_unshuffled_are_views():
    data = np.arange(200.0).reshape(100, 2)
    a = np.concatenate(list(iterate_batches(100, 32, seed=0)))
    b = np.concatenate(list(iterate_batches(100, 32, seed=1)))
    assert not np.array_equal(a, b)
    ordered = list(batches(data, 32, shuffle=False))
    assert [len(x) for x in ordered] == [32, 32, 32, 4]
    assert all(np.shares_memory(x, data) for x in ordered)
    np.testing.assert_array_equal(np.concatenate(ordered), data)
    shuffled = list(batches(data, 32, seed=5))
    idx = list(iterate_batches(100, 32, seed=5))
    for x, i in zip(shuffled, idx):
        np.testing.assert_array_equal(x, data[i])
    np.testing.assert_array_equal(np.concatenate(list(iterate_batches(5, 2, shuffle=False))),
                                  np.arange(5))


def test_batch_errors():
    with pytest.raises(DataError, match="batch_size must be at least 1"):
        list(iterate_batches(10, 0))
    with pytest.raises(DataError, match="n must be at least 0"):
        list(iterate_batches(-1, 2))
    with pytest.raises(DataError, match="batch_size must be at least 1"):
        list(batches(np.zeros(3), 0, shuffle=False))
    with pytest.raises(ShapeError, match="at least one axis"):
        list(batches(np.float64(1.0), 2))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        list(iterate_batches(3, 2, rng=42))


def test_tutorial_data_is_one_draw_shared_by_demo_and_explain():
    from npae.commands import explain
    from npae.data import tutorial_data

    clean, series, starts, labels = tutorial_data(42)
    rng = np.random.default_rng(42)                      # the tutorial's order of draws
    want_clean = synthetic_series(1000, rng=rng)
    want_series, want_starts, want_labels = inject_anomalies(want_clean, 5, "spike", rng=rng)
    np.testing.assert_array_equal(clean, want_clean)
    np.testing.assert_array_equal(series, want_series)
    assert starts.tolist() == want_starts.tolist() == [250, 373, 421, 615, 657]
    np.testing.assert_array_equal(labels, want_labels)
    # explain's window comes from the same series as the demo's
    class Args:
        seed, window = 42, 50
    e_series, e_starts, _, _ = explain._data(Args)
    np.testing.assert_array_equal(e_series, series)
    assert e_starts.tolist() == starts.tolist()
    assert tutorial_data(7)[2].tolist() != starts.tolist()


# ---------------------------------------------------------------------------------------------
# The automatic window: dominant period by autocorrelation
# ---------------------------------------------------------------------------------------------

from npae.data import auto_window_size, autocorrelation, dominant_period  # noqa: E402


def _seasonal(period, n, seed, noise=0.3, trend=0.0, shape="sine"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    if shape == "sine":
        base = np.sin(2 * np.pi * t / period + phase)
    else:  # a sharp daily-like pulse: one bump per period
        base = np.exp(-0.5 * (((t + phase * period) % period - period / 2) / (period / 10)) ** 2)
    return base + trend * t / n + noise * rng.normal(size=n)


@given(period=st.integers(6, 300), seed=st.integers(0, 2**31), shape=st.sampled_from(["sine", "pulse"]),
       trend=st.sampled_from([0.0, 3.0]))
def test_dominant_period_finds_the_known_period(period, seed, shape, trend):
    """Series with a known period (sine or one pulse per period, noise, optionally a trend that
    rises by 3 amplitudes): the period is found within 5 % (a sine's broad peak moves with the
    noise) or one lag; at least 4 periods of data."""
    n = max(4 * period, 600)
    found = dominant_period(_seasonal(period, n, seed, trend=trend, shape=shape))
    assert found is not None and abs(found - period) <= max(1, round(0.05 * period)), found


def test_autocorrelation_matches_the_direct_sum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).cumsum(axis=0)
    r = autocorrelation(x, 30)
    t = np.arange(200)
    expected = []
    for d in range(2):
        A = np.column_stack([np.ones(200), t - t.mean()])
        e = x[:, d] - A @ np.linalg.lstsq(A, x[:, d], rcond=None)[0]
        expected.append([np.sum(e[:200 - k] * e[k:]) / np.sum(e * e) for k in range(31)])
    np.testing.assert_allclose(r, np.mean(expected, axis=0), rtol=1e-10, atol=1e-12)


def test_no_period_falls_back_and_windows_are_clipped():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=3000)
    assert dominant_period(noise) is None
    assert auto_window_size(noise) == 50                     # the tutorial's window
    assert dominant_period(np.ones(500)) is None             # constant: no period
    assert auto_window_size(_seasonal(4, 1000, 0, noise=0.05)) == 8      # clipped up
    assert auto_window_size(_seasonal(350, 3000, 0)) in (50, 300)         # beyond 300 lags
    assert auto_window_size(_seasonal(120, 200, 0, noise=0.05)) <= 100    # at most N // 2
    two = np.column_stack([_seasonal(36, 2000, 2), _seasonal(36, 2000, 3)])
    assert dominant_period(two) == 36                        # multivariate: mean over features
