"""Data: synthetic series, injected anomalies, sliding windows, scalers and mini-batches.

The path the data takes::

    synthetic_series ─► inject_anomalies ─► sliding_windows ─► scaler ─► batches
         (N,)             (N,) + labels       (n, T, D)      (n, T, D)   (B, T, D)

Shape glossary, used in every docstring of this module:

    N  series length (number of time points)
    D  number of features (1 for a univariate series)
    T  window length (``window_size``)
    n  number of windows, ``(N - T) // stride + 1``
    B  mini-batch size

Randomness comes only from a ``numpy.random.Generator``: every random function takes ``seed`` or
``rng`` (``rng`` wins when both are given) and never touches NumPy's global random state.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_finite, index_plain, is_int, window_count
from .errors import DataError, NonFiniteError, NotFittedError, ShapeError
from .module import as_generator

__all__ = [
    "synthetic_series", "inject_anomalies", "tutorial_data", "ANOMALY_KINDS",
    "sliding_windows", "window_starts", "n_windows",
    "autocorrelation", "dominant_period", "auto_window_size",
    "StandardScaler", "MinMaxScaler", "NoScaler", "make_scaler", "scaler_from_dict",
    "iterate_batches", "batches",
]


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------

def _numeric_array(x, name) -> np.ndarray:
    """``x`` as a NumPy array of numbers (no copy when it already is one)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{name} must hold numbers, got dtype {arr.dtype}; convert it with "
                        f"np.asarray(..., dtype=float)")
    return arr


def _check_finite(arr, name) -> None:
    """Raise :class:`NonFiniteError` naming the first NaN/inf (time index, and feature if any)."""
    check_finite(arr, name, "fill or drop the missing values (e.g. interpolate) before windowing "
                            "or scaling", where=index_plain)


def _check_series(series, name="series") -> np.ndarray:
    """A finite numeric series of shape (N,) or (N, D), returned without copying."""
    arr = _numeric_array(series, name)
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{name} must have shape (N,) or (N, D), got shape {arr.shape}; "
                         f"pass one series at a time, time along the first axis")
    if arr.shape[0] == 0 or arr.size == 0:
        raise DataError(f"{name} is empty (shape {arr.shape})")
    _check_finite(arr, name)
    return arr


def _check_int(value, name, minimum) -> int:
    """``value`` as a Python int that is at least ``minimum``."""
    if not is_int(value):
        raise DataError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise DataError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------------

def synthetic_series(n_points=1000, *, trend=0.01, amplitude=5.0, period=50, noise_std=0.5,
                     seed=None, rng=None) -> np.ndarray:
    """A "normal" series: linear trend + sine seasonality + Gaussian noise, shape (N,).

        x_t = trend · t + amplitude · sin(2π t / period) + ε_t,     ε_t ~ N(0, noise_std²)

    for t = 0 … N-1 (N = ``n_points``).  The defaults are the seed tutorial's.  The noise is drawn
    from ``rng`` (or a new Generator seeded with ``seed``), so the same seed gives the same series.
    """
    n_points = _check_int(n_points, "n_points", 1)
    for name, value in (("trend", trend), ("amplitude", amplitude),
                        ("period", period), ("noise_std", noise_std)):
        if not np.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value!r}")
    if period <= 0:
        raise DataError(f"period must be positive (points per cycle), got {period}")
    if noise_std < 0:
        raise DataError(f"noise_std must be >= 0, got {noise_std}")
    rng = as_generator(seed, rng)
    t = np.arange(n_points, dtype=np.float64)
    seasonal = amplitude * np.sin(2.0 * np.pi * t / period)
    noise = rng.normal(0.0, noise_std, n_points)
    return trend * t + seasonal + noise


# Default length (in points) of each kind of anomaly.  spike/dip/flat are the tutorial's.
ANOMALY_KINDS = {"spike": 10, "dip": 10, "flat": 20, "level_shift": 50, "noise_burst": 20}


def _as_kind_list(kind, n_anomalies, rng) -> list[str]:
    if isinstance(kind, str):
        if kind == "mixed":
            names = list(ANOMALY_KINDS)
            return [names[i] for i in rng.integers(0, len(names), size=n_anomalies)]
        kinds = [kind] * n_anomalies
    else:
        kinds = list(kind)
        if len(kinds) != n_anomalies:
            raise DataError(f"kind lists {len(kinds)} kinds but n_anomalies is {n_anomalies}; "
                            f"give one kind per anomaly")
    for k in kinds:
        if k not in ANOMALY_KINDS:
            raise DataError(f"unknown anomaly kind {k!r}; choose from "
                            f"{sorted(ANOMALY_KINDS) + ['mixed']}")
    return kinds


def inject_anomalies(series, n_anomalies=5, kind="spike", *, length=None, magnitude=(15, 25),
                     margin=100, feature=None, seed=None, rng=None):
    """Insert ``n_anomalies`` anomalies into a copy of ``series`` (the input is never modified).

    Returns ``(series_with_anomalies, starts, labels)``:

    * ``series_with_anomalies`` -- same shape as ``series``, (N,) or (N, D), float;
    * ``starts`` -- (n_anomalies,) int array, sorted, the first index of each anomaly;
    * ``labels`` -- (N,) bool, True on every point an anomaly changed or replaced.

    Start points are drawn without replacement from ``[margin, N - margin)``, as in the tutorial.
    Each anomaly then covers ``series[start : start + length]`` (cut at the end of the series;
    anomalies may overlap, and are applied in order of their start).  The kinds, with the
    default ``length`` of each (see ``ANOMALY_KINDS``):

    ==============  ====  ========================================================================
    ``spike``        10   add m, with m ~ Uniform(magnitude) drawn per anomaly (the tutorial's)
    ``dip``          10   subtract m (the tutorial's)
    ``flat``         20   set to the mean of the *original* series (the tutorial's); m unused
    ``level_shift``  50   add m: the level jumps for ``length`` points, then returns
    ``noise_burst``  20   add Gaussian noise with standard deviation m / 3 (so the burst mostly
                          stays within ±m), drawn independently for every point and feature
    ==============  ====  ========================================================================

    ``kind`` may also be ``"mixed"`` (each anomaly's kind drawn uniformly from the five above) or
    a list of kinds, one per anomaly, applied to the starts in sorted order.  ``length`` (int)
    overrides every kind's default length.  ``magnitude`` is a ``(low, high)`` pair, or a single
    number for a fixed magnitude.

    For a multivariate series (N, D), ``feature=None`` (default) puts each anomaly on all D
    features at once, with the same m (``flat`` uses each feature's own mean); ``feature=j`` or
    a list of feature indices restricts them to those columns.

    Raises :class:`DataError` when fewer than ``n_anomalies`` start points fit in
    ``[margin, N - margin)``.
    """
    x = _check_series(series)
    n_anomalies = _check_int(n_anomalies, "n_anomalies", 0)
    margin = _check_int(margin, "margin", 0)
    if length is not None:
        length = _check_int(length, "length", 1)
    low, high = (magnitude, magnitude) if np.ndim(magnitude) == 0 else tuple(magnitude)
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise DataError(f"magnitude must be a number or a (low, high) pair with low <= high, "
                        f"got {magnitude!r}")

    # Work on a float (N, D) copy; ``columns`` are the features the anomalies touch.
    out = np.array(x, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    out2d = out.reshape(len(out), -1)  # a view of ``out``
    n_points, n_features = out2d.shape
    if feature is None:
        columns = np.arange(n_features)
    else:
        columns = np.atleast_1d(np.asarray(feature))
        if columns.dtype.kind not in "iu" or columns.size == 0 or \
                columns.min() < -n_features or columns.max() >= n_features:
            raise DataError(f"feature must be None or indices in [0, {n_features}), "
                            f"got {feature!r}")

    n_candidates = n_points - 2 * margin
    if n_anomalies > 0 and n_candidates < n_anomalies:
        raise DataError(
            f"a series of {n_points} points has only {max(n_candidates, 0)} possible start points "
            f"in [margin, N - margin) = [{margin}, {n_points - margin}), too few for "
            f"{n_anomalies} anomalies; use a longer series, fewer anomalies or a smaller margin"
        )

    rng = as_generator(seed, rng)
    starts = np.sort(rng.choice(np.arange(margin, n_points - margin), size=n_anomalies,
                                replace=False)).astype(np.int64)
    kinds = _as_kind_list(kind, n_anomalies, rng)
    original_mean = x.reshape(n_points, -1).mean(axis=0)  # per feature, for "flat"
    labels = np.zeros(n_points, dtype=bool)

    for start, k in zip(starts, kinds):
        stop = min(start + (length if length is not None else ANOMALY_KINDS[k]), n_points)
        m = rng.uniform(low, high)
        segment = out2d[start:stop, columns]  # a copy (fancy index); written back below
        if k == "spike" or k == "level_shift":
            segment += m
        elif k == "dip":
            segment -= m
        elif k == "flat":
            segment[:] = original_mean[columns]
        elif k == "noise_burst":
            segment += rng.normal(0.0, abs(m) / 3.0, size=segment.shape)
        out2d[start:stop, columns] = segment
        labels[start:stop] = True
    return out, starts, labels


# ---------------------------------------------------------------------------------------------
# Sliding windows
# ---------------------------------------------------------------------------------------------

def tutorial_data(seed=42, n_points=1000, n_anomalies=5, kind="spike"):
    """The seed tutorial's data, the same for every command that uses it (``npae demo``,
    ``npae explain``): ``(clean (N,), series (N,), starts (n_anomalies,), labels (N,) bool)``.

    One Generator(seed) draws the clean series, then the anomalies' positions and sizes, so
    ``npae demo --seed S`` and ``npae explain --seed S`` see the same spikes.
    """
    rng = np.random.default_rng(seed)
    clean = synthetic_series(n_points, rng=rng)
    series, starts, labels = inject_anomalies(clean, n_anomalies, kind, rng=rng)
    return clean, series, starts, labels


def _check_window_args(n_points, window_size, stride):
    window_size = _check_int(window_size, "window_size", 2)
    stride = _check_int(stride, "stride", 1)
    if n_points < window_size:
        raise DataError(f"the series has {n_points} points, fewer than one window of "
                        f"window_size={window_size}; use a longer series or a smaller window")
    return window_size, stride


def n_windows(n_points, window_size, stride=1) -> int:
    """How many windows of length T, ``stride`` apart, fit in N points: ``(N - T) // stride + 1``."""
    n_points = _check_int(n_points, "n_points", 0)
    window_size, stride = _check_window_args(n_points, window_size, stride)
    return window_count(n_points, window_size, stride)


def window_starts(n_points, window_size, stride=1) -> np.ndarray:
    """(n,) int array: the index of the first point of each window, ``0, stride, 2·stride, …``.

    Window ``i`` covers points ``starts[i] … starts[i] + T - 1``.
    """
    n_points = _check_int(n_points, "n_points", 0)
    window_size, stride = _check_window_args(n_points, window_size, stride)
    return np.arange(0, n_points - window_size + 1, stride, dtype=np.int64)


def sliding_windows(series, window_size, stride=1) -> np.ndarray:
    """All windows of ``series``, shape (n, T, D), as a read-only *view* (no data is copied).

    ``series`` is (N,) (then D = 1) or (N, D).  ``windows[i] == series[i*stride : i*stride + T]``
    (as a column for a 1-D series); ``n = (N - T) // stride + 1``, so up to ``stride - 1`` points
    at the end belong to no window.  The result shares memory with ``series``: copy it
    (``np.array(windows)``) before writing into it.  The tutorial's ``create_windows`` is
    ``sliding_windows(series, 50)[:, :, 0]``.
    """
    x = _check_series(series)
    window_size, stride = _check_window_args(len(x), window_size, stride)
    x2d = x.reshape(len(x), -1) if x.ndim == 1 else x       # (N, D), a view
    windows = sliding_window_view(x2d, window_size, axis=0)  # (N - T + 1, D, T)
    return windows.transpose(0, 2, 1)[::stride]              # (n, T, D)


# ---------------------------------------------------------------------------------------------
# The window from the series' period
# ---------------------------------------------------------------------------------------------

AUTO_WINDOW_RANGE = (8, 300)   # the window "auto" picks stays in this range (TSB-UAD: 3 … 300)
AUTO_WINDOW_DEFAULT = 50       # when the series shows no period (the tutorial's window)
PERIOD_MAX_LAG = 400           # longest lag searched, as TSB-UAD's find_length
PERIOD_MAX_POINTS = 20000      # the autocorrelation reads at most the first 20,000 points


def autocorrelation(series, max_lag) -> np.ndarray:
    """(max_lag + 1,) sample autocorrelation of a series (N,) or (N, D), lags 0 … max_lag.

    Per feature, after removing its least-squares line (so a trend does not swamp the
    seasonality)::

        (Period 1) r_d[k] = Σ_{t<N-k} (x_t - x̄)(x_{t+k} - x̄) / Σ_t (x_t - x̄)²     (statsmodels' acf)
        (Period 2) r[k]   = mean of r_d[k] over the features that vary

    computed with one FFT.  A constant series (no varying feature) gives r = [1, 0, 0, …].
    """
    x = _check_series(series).astype(np.float64)
    x = x.reshape(len(x), -1)
    N = len(x)
    max_lag = _check_int(max_lag, "max_lag", 0)
    max_lag = min(max_lag, N - 1)
    t = np.arange(N, dtype=np.float64)
    if N > 1:
        A = np.column_stack([np.ones(N), t - t.mean()])
        coef, *_ = np.linalg.lstsq(A, x, rcond=None)
        x = x - A @ coef                                 # detrended, mean zero
    var = np.sum(x * x, axis=0)
    varies = var > 1e-12 * max(1.0, float(np.max(np.abs(x))) ** 2) * N
    r = np.zeros(max_lag + 1)
    r[0] = 1.0
    if not varies.any():
        return r
    xv = x[:, varies]
    size = 1 << int(np.ceil(np.log2(2 * N - 1)))
    f = np.fft.rfft(xv, n=size, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:max_lag + 1]   # (Period 1) numerators
    return (acov / var[varies]).mean(axis=1)                               # (Period 2)


PEAK_PROMINENCE = 0.1   # a period's peak must rise this much above the trough before it
PEAK_SHARE = 0.8        # ... and reach this share of the highest such peak


def dominant_period(series, max_lag=PERIOD_MAX_LAG, min_lag=3):
    """The dominant period of a series by autocorrelation, or None when it shows none.

    TSB-UAD's ``find_length`` approach (Paparrizos et al., VLDB 2022): the autocorrelation (Period 1)–
    (Period 2) of the first 20,000 points up to ``max_lag`` (at most N // 2) and its local maxima at
    lags ≥ ``min_lag``, with two changes that make it robust:

    (Period 3) a peak counts only if it rises ≥ 0.1 above the lowest r at a smaller lag (a real period
         makes r dip and come back; noise only wiggles a decaying curve, and the highest of those
         wiggles is what ``find_length`` returned for a slow sine), and clears max(0.1, 3/√N)
         (white noise stays below that);
    (Period 4) of the counted peaks, the first that reaches 0.8 of the highest: r is nearly as high at
         2P, 3P, … as at the period P itself, and noise decides which of them is highest;
    (Period 5) the highest r within ±25 % of that lag (noise puts several wiggles on a broad peak).

    Peaks are looked for in r[k]·N / (N - k): (Period 1)'s sum over N - k pairs divided by N tapers r
    linearly and pulls a broad peak to a shorter lag (a sine of period 89 in 600 points peaked
    at 84).

    None when no peak counts.
    """
    x = _check_series(series)
    x = x[:PERIOD_MAX_POINTS]
    N = len(x)
    if N < 2 * min_lag + 2:
        return None
    r = autocorrelation(x, min(max_lag, N // 2))
    r = r * N / (N - np.arange(len(r)))                   # (Period 3') without the (N - k) / N taper
    k = np.arange(1, len(r) - 1)
    trough = np.minimum.accumulate(r)                     # lowest r at lags ≤ k
    peaks = k[(r[k] > r[k - 1]) & (r[k] >= r[k + 1]) & (k >= min_lag)
              & (r[k] - trough[k - 1] >= PEAK_PROMINENCE)                   # (Period 3)
              & (r[k] > max(0.1, 3.0 / np.sqrt(N)))]
    if peaks.size == 0:
        return None
    first = int(peaks[np.argmax(r[peaks] >= PEAK_SHARE * r[peaks].max())])  # (Period 4)
    near = np.arange(max(min_lag, (3 * first) // 4), min(len(r), (5 * first) // 4 + 1))
    return int(near[np.argmax(r[near])])                                  # (Period 5)


def auto_window_size(series, low=AUTO_WINDOW_RANGE[0], high=AUTO_WINDOW_RANGE[1],
                     default=AUTO_WINDOW_DEFAULT) -> int:
    """The window ``window_size="auto"`` picks for a (training) series (N,) or (N, D).

    One period (:func:`dominant_period`), clipped to ``[low, high]`` and to at most N // 2 (so the
    series holds at least N / 2 windows); ``default`` (50) when there is no period.
    """
    x = _check_series(series)
    period = dominant_period(x)
    w = default if period is None else period
    w = int(np.clip(w, low, high))
    return max(2, min(w, len(x) // 2))


# ---------------------------------------------------------------------------------------------
# Scalers
# ---------------------------------------------------------------------------------------------

def _as_float(arr) -> np.ndarray:
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


class _Scaler:
    """Shared machinery: input checks, the axes statistics are taken over, (de)serialisation.

    ``per="feature"`` (default) keeps one statistic per feature, shape (D,), computed over every
    time point of every window (or series point).  Data may be windows (n, T, D), a series
    (N, D), or a univariate series (N,) which counts as D = 1.

    ``per="position"`` keeps one statistic per (time position, feature), shape (T, D), computed
    over the windows only: it is what the tutorial gets by passing (n, T) windows to scikit-learn's
    ``StandardScaler``, which treats each of the T positions as a separate column.  Data must then
    be windows (n, T, D) or (n, T) (D = 1).
    """

    name = ""
    _state_names: tuple = ()

    def __init__(self, per="feature"):
        if per not in ("feature", "position"):
            raise DataError(f"per must be 'feature' or 'position', got {per!r}")
        self.per = per

    # -- input handling ------------------------------------------------------------------
    def _check(self, data, name="data") -> np.ndarray:
        arr = _numeric_array(data, name)
        allowed = (1, 2, 3) if self.per == "feature" else (2, 3)
        if arr.ndim not in allowed:
            shapes = "(n, T, D), (N, D) or (N,)" if self.per == "feature" else "(n, T, D) or (n, T)"
            raise ShapeError(f"{type(self).__name__}(per={self.per!r}) takes {name} of shape "
                             f"{shapes}, got shape {arr.shape}")
        if arr.size == 0:
            raise DataError(f"{name} is empty (shape {arr.shape})")
        _check_finite(arr, name)
        return arr

    def _stat_shape(self, arr):
        """Shape of the statistics this data gives: (D,) per feature, (T, D) per position."""
        if self.per == "feature":
            return (1,) if arr.ndim == 1 else arr.shape[-1:]
        return arr.shape[1:] if arr.ndim == 3 else arr.shape[1:] + (1,)

    def _reshaped(self, arr):
        """``arr`` viewed so that the statistics broadcast along its trailing axes."""
        if self.per == "feature":
            return arr.reshape(-1, 1) if arr.ndim == 1 else arr
        return arr[..., None] if arr.ndim == 2 else arr

    def _stats_axes(self, arr):
        return tuple(range(arr.ndim - (1 if self.per == "feature" else 2)))

    # -- public API ----------------------------------------------------------------------
    def fit(self, data):
        """Learn the statistics from training ``data`` only; returns ``self``."""
        arr = _as_float(self._check(data))
        a = self._reshaped(arr).astype(np.float64, copy=False)
        self._fit(a, self._stats_axes(a))
        return self

    def _check_fitted(self):
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(train_data) "
                                 f"(or fit_transform) before transform")

    @property
    def is_fitted(self) -> bool:
        return all(getattr(self, s, None) is not None for s in self._state_names)

    def _prepare(self, data, name):
        self._check_fitted()
        arr = _as_float(self._check(data, name))
        expected = np.shape(getattr(self, self._state_names[0]))
        if self._stat_shape(arr) != expected:
            what = "features D" if self.per == "feature" else "(T, D)"
            raise ShapeError(f"{name} has shape {arr.shape}, so {what} = {self._stat_shape(arr)}, "
                             f"but the scaler was fitted with {what} = {expected}; scale data "
                             f"shaped like the training data")
        return arr

    def transform(self, data) -> np.ndarray:
        """Scaled copy of ``data``, same shape; float dtype kept (integers become float64)."""
        arr = self._prepare(data, "data")
        out = self._forward(self._reshaped(arr))
        return out.reshape(arr.shape).astype(arr.dtype, copy=False)

    def inverse_transform(self, data) -> np.ndarray:
        """Undo :meth:`transform`: back to the original units, same shape."""
        arr = self._prepare(data, "data")
        out = self._inverse(self._reshaped(arr))
        return out.reshape(arr.shape).astype(arr.dtype, copy=False)

    def fit_transform(self, data) -> np.ndarray:
        return self.fit(data).transform(data)

    def to_dict(self) -> dict:
        """Plain JSON-able description (name, options, fitted statistics as nested lists)."""
        d = {"name": self.name, "per": self.per}
        d.update(self._options())
        for s in self._state_names:
            value = getattr(self, s, None)
            d[s] = None if value is None else np.asarray(value).tolist()
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a scaler saved with :meth:`to_dict`."""
        if not isinstance(d, dict) or d.get("name") != cls.name:
            raise DataError(f"{cls.__name__}.from_dict needs a dict with name {cls.name!r}, "
                            f"got {d!r:.80}")
        missing = [k for k in ("per",) + cls._state_names if k not in d]
        if missing:
            raise DataError(f"{cls.__name__}.from_dict: missing keys {missing}")
        options = {k: d[k] for k in cls._option_names() if k in d}
        try:
            scaler = cls(per=d["per"], **options)
        except (TypeError, ValueError) as e:
            raise DataError(f"{cls.__name__}.from_dict: bad options ({e})") from None
        for s in cls._state_names:
            if d[s] is not None:
                try:
                    value = np.asarray(d[s], dtype=np.float64)
                except (TypeError, ValueError, OverflowError, RecursionError) as e:
                    raise DataError(f"{cls.__name__}.from_dict: {s} is not an array of numbers "
                                    f"({type(e).__name__})") from None
                check_finite(value, f"{cls.__name__}.from_dict: {s}", where=None, error=DataError)
                setattr(scaler, s, value)
        scaler._check_state()
        return scaler

    def _check_state(self):
        """Fitted statistics that can scale data: all the same shape, (D,) per feature or
        (T, D) per position (checked here, at load, not when the user's data fails later)."""
        values = [getattr(self, s, None) for s in self._state_names]
        if not values:
            return
        if any(v is None for v in values):
            if any(v is not None for v in values):
                raise DataError(f"{type(self).__name__}: only some of {self._state_names} are set")
            return
        shapes = {np.shape(v) for v in values}
        ndim = 1 if self.per == "feature" else 2
        if len(shapes) != 1 or len(next(iter(shapes))) != ndim or 0 in next(iter(shapes)):
            raise DataError(f"{type(self).__name__}(per={self.per!r}): {self._state_names} must "
                            f"be non-empty arrays of one shape with {ndim} dimension(s), got "
                            f"shapes {sorted(shapes)}")

    def check_shape(self, n_features, window_size=None):
        """Raise DataError unless the fitted statistics fit ``n_features`` (and ``window_size``
        for ``per="position"``)."""
        if not self._state_names:
            return
        expected = (n_features,) if self.per == "feature" else (window_size, n_features)
        got = np.shape(getattr(self, self._state_names[0]))
        if got != expected:
            raise DataError(f"{type(self).__name__}(per={self.per!r}) holds statistics of shape "
                            f"{got}, but the data has {expected}; it belongs to another model")

    def _options(self) -> dict:
        return {}

    @classmethod
    def _option_names(cls):
        return ()

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}(per={self.per!r}{opts})"


def _moments_of_ratio(a, m, axes, chunk=4096):
    """Mean and population std of ``a / m`` over ``axes``, two passes in chunks of the first
    axis (no temporary as large as ``a``, which may be a view of overlapping windows)."""
    n = a.shape[0]
    count = a.size // np.size(m)
    total = sum((a[i:i + chunk] / m).sum(axis=axes) for i in range(0, n, chunk))
    mean = total / count
    sq = sum((((a[i:i + chunk] / m) - mean) ** 2).sum(axis=axes) for i in range(0, n, chunk))
    return mean, np.sqrt(sq / count)


def _refuse_subnormal(spread, what):
    """A spread below float64's smallest normal number (2.2e-308) cannot be divided by: refuse
    clearly rather than return infinities or zeros."""
    tiny = np.finfo(np.float64).tiny
    bad = (spread > 0) & (spread < tiny)
    if bad.any():
        raise DataError(f"the data's {what} is {float(spread[bad].min()):.3g}, below float64's "
                        f"smallest normal number ({tiny:.3g}): most of its digits are lost; "
                        f"multiply the series by a unit such as 1e300 first")


def _check_scaled(out):
    if not np.isfinite(out).all():
        raise NonFiniteError("the scaled data overflows float64: it lies some 1e300 training "
                             "spreads away from the training data; scale the series to a "
                             "sensible unit first or fit on data like it")


class StandardScaler(_Scaler):
    """z = (x - mean) / std, per feature, like scikit-learn's ``StandardScaler``.

    Fitted statistics ``mean_`` and ``scale_`` have shape (D,) (or (T, D) with
    ``per="position"``).  ``std`` is the population standard deviation (``ddof=0``, as
    scikit-learn).  A constant feature (std zero up to rounding error: std ≤ count·ε·|mean|, as
    scikit-learn decides it) gets ``scale_ = 1``, so it maps to 0 instead of NaN.

        (Scale 1) mean = Σx / n,  std = sqrt(Σ(x - mean)² / n)
        (Scale 2) where (Scale 1) over- or underflows (|x| above 1e150 or below 1e-150, e.g. a series in
             units of 1e300 or 1e-300), or the feature is constant: (Scale 1) of u = x / max|x|,
             times max|x| — so a series scaled by 1e±300 keeps its shape instead of becoming
             all zeros, and a constant series maps to exactly 0 whatever its magnitude
        (Scale 3) z = (x - mean) / std, or x/std - mean/std where x - mean overflows

    Difference from the tutorial: the tutorial calls scikit-learn's scaler on (n, T) windows, and
    scikit-learn treats each of the T *time positions* as its own column (T means and T stds).
    npae's default, ``per="feature"``, keeps one mean and std per *feature*, shared by all time
    positions -- which is what a recurrent model expects, and works for any T.  Use
    ``StandardScaler(per="position")`` to reproduce the tutorial exactly.
    """

    name = "standard"
    _state_names = ("mean_", "scale_")

    def __init__(self, per="feature"):
        super().__init__(per)
        self.mean_ = None
        self.scale_ = None

    def _fit(self, a, axes):
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            mean = a.mean(axis=axes)                                     # (Scale 1)
            std = a.std(axis=axes)
        count = a.size // mean.size  # values behind each statistic
        eps = np.finfo(np.float64).eps
        # constant up to rounding error (scikit-learn's rule; scale-free, unlike "std < 1e-12")
        constant = std <= count * eps * np.abs(mean)
        big = np.maximum(a.max(axis=axes), -a.min(axis=axes))  # max|x|, no |x| temporary
        redo = (~np.isfinite(mean) | ~np.isfinite(std) | constant | (big > 1e150)
                | ((big < 1e-150) & (big > 0)))
        if redo.any():  # (Scale 2): the same statistics of x / max|x|, then scaled back
            m = np.where(big > 0, big, 1.0)
            u_mean, u_std = _moments_of_ratio(a, m, axes)
            mean = np.where(redo, u_mean * m, mean)
            std = np.where(redo, u_std * m, std)
            constant = std <= count * eps * np.abs(mean)
        _refuse_subnormal(np.where(constant, 0.0, std), "standard deviation")
        self.mean_ = mean
        self.scale_ = np.where(constant, 1.0, std)

    def _check_state(self):
        super()._check_state()
        if self.scale_ is not None and not (self.scale_ >= np.finfo(np.float64).tiny).all():
            raise DataError(f"StandardScaler: scale_ must be positive (at least "
                            f"{np.finfo(np.float64).tiny:.3g}), got {self.scale_.min():.3g}; "
                            f"scaling by it would divide by zero or overflow")

    def _forward(self, a):
        with np.errstate(over="ignore", invalid="ignore"):
            out = (a - self.mean_) / self.scale_                         # (Scale 3)
        if not np.isfinite(out).all():  # x and mean near ±1.7e308: their difference overflows
            with np.errstate(over="ignore", invalid="ignore"):
                out = a / self.scale_ - self.mean_ / self.scale_
            _check_scaled(out)
        return out

    def _inverse(self, a):
        return a * self.scale_ + self.mean_


class MinMaxScaler(_Scaler):
    """x' = (x - min) / (max - min), per feature, into ``feature_range`` (default [0, 1]).

    Like scikit-learn's ``MinMaxScaler``; fitted ``data_min_`` and ``data_max_`` have shape (D,)
    (or (T, D) with ``per="position"``).  A constant feature (max == min exactly) maps to the
    lower end of the range instead of NaN.  (scikit-learn also treats a range below 10·ε ≈ 2e-15
    as constant; npae scales it, so the result does not depend on the data's units.)  Data outside the training range maps outside ``feature_range``
    (nothing is clipped).  See :class:`StandardScaler` for ``per``.
    """

    name = "minmax"
    _state_names = ("data_min_", "data_max_")

    def __init__(self, per="feature", feature_range=(0.0, 1.0)):
        super().__init__(per)
        lo, hi = (float(v) for v in feature_range)
        if not lo < hi:
            raise DataError(f"feature_range must be (low, high) with low < high, "
                            f"got {feature_range!r}")
        self.feature_range = (lo, hi)
        self.data_min_ = None
        self.data_max_ = None

    def _options(self):
        return {"feature_range": list(self.feature_range)}

    @classmethod
    def _option_names(cls):
        return ("feature_range",)

    def _fit(self, a, axes):
        self.data_min_ = a.min(axis=axes)
        self.data_max_ = a.max(axis=axes)
        with np.errstate(over="ignore"):
            _refuse_subnormal(self.data_max_ / 2 - self.data_min_ / 2, "range")

    def _scale_and_offset(self):
        lo, hi = self.feature_range
        data_range = self.data_max_ - self.data_min_
        data_range = np.where(data_range == 0, 1.0, data_range)  # constant feature
        return (hi - lo) / data_range, lo

    def _check_state(self):
        super()._check_state()
        if self.data_min_ is not None and not (self.data_max_ >= self.data_min_).all():
            raise DataError("MinMaxScaler: data_max_ must be at least data_min_")

    def _forward(self, a):
        with np.errstate(over="ignore", invalid="ignore"):
            scale, lo = self._scale_and_offset()
            out = (a - self.data_min_) * scale + lo
        if not np.isfinite(out).all():  # a range beyond float64's (min and max near ±1.7e308)
            lo, hi = self.feature_range
            half = np.where(self.data_max_ == self.data_min_, 1.0,
                            self.data_max_ / 2 - self.data_min_ / 2)
            with np.errstate(over="ignore", invalid="ignore"):
                out = (a / 2 - self.data_min_ / 2) * ((hi - lo) / half) + lo
            _check_scaled(out)
        return out

    def _inverse(self, a):
        scale, lo = self._scale_and_offset()
        return (a - lo) / scale + self.data_min_


class NoScaler(_Scaler):
    """Leaves the data as it is (a float copy).  Has nothing to learn: ``fit`` is optional."""

    name = "none"
    _state_names = ()

    def _fit(self, a, axes):
        pass

    def _prepare(self, data, name):
        return _as_float(self._check(data, name))

    def _forward(self, a):
        return a.copy()

    def _inverse(self, a):
        return a.copy()


_SCALERS = {cls.name: cls for cls in (StandardScaler, MinMaxScaler, NoScaler)}


def make_scaler(name="standard", **options):
    """A new, unfitted scaler by name: ``"standard"``, ``"minmax"`` or ``"none"``.

    ``options`` go to the class (``per=``, and ``feature_range=`` for minmax).
    """
    if not isinstance(name, str) or name not in _SCALERS:
        raise DataError(f"unknown scaler {name!r}; choose from {sorted(_SCALERS)}")
    return _SCALERS[name](**options)


def scaler_from_dict(d):
    """Rebuild any scaler from its :meth:`to_dict` output (dispatches on ``d["name"]``)."""
    name = d.get("name") if isinstance(d, dict) else None
    if not isinstance(name, str) or name not in _SCALERS:
        raise DataError(f"cannot rebuild a scaler from {d!r:.80}: 'name' must be one of "
                        f"{sorted(_SCALERS)}")
    return _SCALERS[name].from_dict(d)


# ---------------------------------------------------------------------------------------------
# Mini-batches
# ---------------------------------------------------------------------------------------------

def iterate_batches(n, batch_size, *, shuffle=True, seed=None, rng=None):
    """Yield (B,) int index arrays that split ``range(n)`` into batches of ``batch_size``.

    Every index appears exactly once per pass; the last batch holds the remainder (it may be
    smaller, never empty).  With ``shuffle=True`` the order is a random permutation drawn from
    ``rng`` / ``seed`` (the same seed gives the same batches); otherwise it is ``0 … n-1``.
    Like a PyTorch ``DataLoader(shuffle=True, drop_last=False)``.
    """
    n = _check_int(n, "n", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    order = as_generator(seed, rng).permutation(n) if shuffle else np.arange(n)
    for first in range(0, n, batch_size):
        yield order[first:first + batch_size]


def batches(array, batch_size, *, shuffle=True, seed=None, rng=None):
    """Yield mini-batches of ``array`` along its first axis, e.g. (B, T, D) from (n, T, D) windows.

    Same order and sizes as :func:`iterate_batches`.  Unshuffled batches are views (slices) of
    ``array``; shuffled ones are copies.
    """
    arr = np.asarray(array)
    if arr.ndim == 0:
        raise ShapeError("batches needs an array with at least one axis, got a scalar")
    if not shuffle:
        batch_size = _check_int(batch_size, "batch_size", 1)
        for first in range(0, len(arr), batch_size):
            yield arr[first:first + batch_size]
        return
    for idx in iterate_batches(len(arr), batch_size, shuffle=True, seed=seed, rng=rng):
        yield arr[idx]
