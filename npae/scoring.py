"""Scoring: reconstruction errors per window and per point, and thresholds that flag them.

The path::

    x, x̂ (n, T, D) ─► window_errors ─┬─► .window (n,) ──────────────────► Threshold ─► flags
                                      └─► .per_step (n, T) ─► point_scores (N,) ─► Threshold

Shape glossary: N series length, T window length, D features, n windows (``(N - T) // stride + 1``).
Window ``i`` covers the points ``i·stride … i·stride + T - 1`` of the series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_finite, is_int, window_count
from .data import sliding_windows
from .errors import DataError, NotFittedError, ShapeError
from .metrics import window_hits

__all__ = ["WindowErrors", "window_errors", "point_scores", "Threshold", "THRESHOLD_METHODS"]


def _finite_float(x, name) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{name} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name, "check the model's output or the data before scoring")
    return arr


# ---------------------------------------------------------------------------------------------
# Window errors
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowErrors:
    """Squared reconstruction errors of n windows, averaged in the useful ways.

    Attributes
    ----------
    window : (n,)         mean over steps and features -- the tutorial's anomaly score (MSE)
    per_step : (n, T)     mean over features -- feeds :func:`point_scores`
    per_feature : (n, D)  mean over steps -- which feature a window's error comes from
    squared : (n, T, D) or None   the full ``(x̂ - x)²``, kept only with ``keep_squared=True``
    """

    window: np.ndarray
    per_step: np.ndarray
    per_feature: np.ndarray
    squared: np.ndarray | None = None


def window_errors(x, x_hat, *, keep_squared=False) -> WindowErrors:
    """Squared errors between windows ``x`` and reconstructions ``x_hat``, shape (n, T, D) each.

    (n, T) arrays are read as D = 1.  All results are float64.  ``window`` equals the tutorial's
    ``torch.mean((x - x̂) ** 2, dim=(1, 2))``.
    """
    x = _finite_float(x, "x")
    x_hat = _finite_float(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ShapeError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}")
    if x.ndim == 2:
        x, x_hat = x[..., None], x_hat[..., None]
    if x.ndim != 3 or x.size == 0:
        raise ShapeError(f"window_errors needs non-empty windows of shape (n, T, D) or (n, T), "
                         f"got shape {x.shape}")
    squared = (x_hat - x) ** 2
    return WindowErrors(
        window=squared.mean(axis=(1, 2)),
        per_step=squared.mean(axis=2),
        per_feature=squared.mean(axis=1),
        squared=squared if keep_squared else None,
    )


# ---------------------------------------------------------------------------------------------
# Point scores
# ---------------------------------------------------------------------------------------------

def _fill_nearest(values, covered):
    """Give every uncovered point the value of the nearest covered point (ties: the earlier one)."""
    cov = np.flatnonzero(covered)
    gaps = np.flatnonzero(~covered)
    if gaps.size == 0:
        return values
    right_pos = np.searchsorted(cov, gaps)  # first covered index after each gap point
    left = cov[np.clip(right_pos - 1, 0, len(cov) - 1)]
    right = cov[np.clip(right_pos, 0, len(cov) - 1)]
    use_left = (right_pos > 0) & ((gaps - left <= right - gaps) | (right_pos == len(cov)))
    values[gaps] = values[np.where(use_left, left, right)]
    return values


def point_accumulator(shape, how) -> np.ndarray:
    """The starting value of a per-point aggregate for :func:`fold_window_errors`: zeros for
    ``"mean"`` (a running sum), -inf for ``"max"``, +inf for ``"min"``; float64."""
    if how == "mean":
        return np.zeros(shape)
    return np.full(shape, -np.inf if how == "max" else np.inf)


def fold_window_errors(acc, errors, starts, how, counts=None) -> None:
    """Fold the errors ``(b, T[, D])`` of b windows starting at the points ``starts (b,)`` into the
    per-point aggregate ``acc (N[, D])`` in place (a sum for ``"mean"``, else the max or min), and
    count the windows covering each point into ``counts (N,)`` when given.

    One loop over the T steps, none over windows: for a fixed step the points ``starts + t`` are
    distinct, so the fancy-indexed updates are safe.  Windows can be folded in any number of
    batches (the detector streams them); the result is that of one call on all of them.
    """
    for t in range(errors.shape[1]):
        idx = starts + t
        if counts is not None:
            counts[idx] += 1
        if how == "mean":
            acc[idx] += errors[:, t]
        elif how == "max":
            acc[idx] = np.maximum(acc[idx], errors[:, t])
        else:
            acc[idx] = np.minimum(acc[idx], errors[:, t])


def point_scores(step_errors, n_points, stride=1, how="mean", fill="nearest") -> np.ndarray:
    """Turn per-window, per-step errors into one score per point of the series.

    ``step_errors`` is (n, T) (e.g. ``window_errors(...).per_step``) or (n, T, D) (the full
    squared errors; then the result keeps D).  Point ``p`` collects the error at step ``t`` of
    every window ``i`` with ``i·stride + t == p`` and aggregates them with ``how``:

    * ``"mean"`` -- the average over the (up to T) windows that cover ``p``;
    * ``"max"``  -- the worst of them;
    * ``"min"``  -- the best of them: a point is scored high only if *every* window covering it
      reconstructs it badly, which localises an anomaly tightly.

    Returns (N,) for (n, T) input, (N, D) for (n, T, D), float64.  ``n`` must be the number of
    windows ``sliding_windows`` makes from ``n_points`` with this ``stride``.

    Uncovered points: with ``stride > 1`` up to ``stride - 1`` points at the end (and, if
    ``stride > T``, the points between windows) belong to no window.  ``fill="nearest"``
    (default) gives each the score of the nearest covered point (the earlier one on a tie);
    ``fill="nan"`` leaves NaN there.  Vectorised: one loop over the T steps, none over windows.
    """
    e = _finite_float(step_errors, "step_errors")
    if e.ndim not in (2, 3) or e.size == 0:
        raise ShapeError(f"step_errors must be a non-empty (n, T) or (n, T, D) array, "
                         f"got shape {e.shape}")
    if how not in ("mean", "max", "min"):
        raise DataError(f"how must be 'mean', 'max' or 'min', got {how!r}")
    if fill not in ("nearest", "nan"):
        raise DataError(f"fill must be 'nearest' or 'nan', got {fill!r}")
    for name, value, low in (("n_points", n_points, 1), ("stride", stride, 1)):
        if not is_int(value, low):
            raise DataError(f"{name} must be an integer >= {low}, got {value!r}")
    n, T = e.shape[:2]
    expected = window_count(n_points, T, stride)
    if n != expected:
        raise ShapeError(
            f"{n} windows of length {T} do not fit a series of n_points={n_points} with "
            f"stride={stride} (that gives {expected} windows); pass the series length and stride "
            f"the windows were made with"
        )

    counts = np.zeros(n_points, dtype=np.int64)
    acc = point_accumulator((n_points,) + e.shape[2:], how)
    fold_window_errors(acc, e, np.arange(n) * stride, how, counts)

    covered = counts > 0
    if how == "mean":
        acc[covered] /= counts[covered].reshape((-1,) + (1,) * (acc.ndim - 1))
    acc[~covered] = np.nan
    if fill == "nearest":
        acc = _fill_nearest(acc, covered)
    return acc


# ---------------------------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------------------------

# method -> (name of its parameter, default value)
THRESHOLD_METHODS = {
    "percentile": ("q", 95.0),
    "mean_std": ("k", 3.0),
    "mad": ("k", 3.0),
    "contamination": ("contamination", 0.1),
    "pot": ("risk", 1e-4),
}
POT_TAIL = 0.9   # the tail the exponential is fitted to: the scores above their 90th percentile

MAD_SCALE = 1.4826  # makes the MAD estimate σ for Gaussian data (1 / Φ⁻¹(3/4))


class Threshold:
    """A score threshold fitted on *training* scores and applied to any scores later.

    ``Threshold(method, **param)``; ``fit(train_scores)`` returns and stores ``value_``;
    ``apply(scores)`` returns ``scores > value_`` (strictly greater, as in the tutorial).

    ==================  ===================  =================================================
    method              parameter = default  threshold
    ==================  ===================  =================================================
    ``"percentile"``    ``q`` = 95           ``np.percentile(scores, q)`` (the tutorial's)
    ``"mean_std"``      ``k`` = 3            mean + k·σ, σ the population std (the guide's)
    ``"mad"``           ``k`` = 3            median + k · 1.4826 · median(|s - median|);
                                             robust to the anomalies in the training scores
    ``"contamination"`` ``contamination``    the (1 - c) quantile, i.e. percentile 100·(1 - c),
                        = 0.1                PyOD's convention: about a fraction c of the
                                             training scores ends up flagged
    ``"pot"``           ``risk`` = 1e-4      peaks over threshold: u = the 90th percentile,
                                             β = the mean excess of the scores above u (an
                                             exponential tail), threshold u + β·ln(0.1 / risk):
                                             the score a normal point exceeds with probability
                                             ``risk``, extrapolated beyond the largest
                                             calibration score (SPOT, Siffer et al., KDD 2017,
                                             with the GPD's shape fixed at 0)
    ==================  ===================  =================================================

    Only the method's own parameter may be given: ``Threshold("mad", k=2.5)``.  Scores may have
    any shape (fitting uses all values).  ``to_dict`` / ``from_dict`` save and restore it.
    """

    def __init__(self, method="percentile", **param):
        if method not in THRESHOLD_METHODS:
            raise DataError(f"unknown threshold method {method!r}; choose from "
                            f"{sorted(THRESHOLD_METHODS)}")
        pname, default = THRESHOLD_METHODS[method]
        unexpected = set(param) - {pname}
        if unexpected:
            raise DataError(f"threshold method {method!r} takes only {pname}=, "
                            f"got {sorted(unexpected)}")
        value = param.get(pname, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise DataError(f"{pname} must be a finite number, got {value!r}")
        value = float(value)
        if pname == "q" and not 0.0 <= value <= 100.0:
            raise DataError(f"q is a percentile and must be in [0, 100], got {value}")
        if pname == "k" and value < 0:
            raise DataError(f"k (how many spreads above the centre) must be >= 0, got {value}")
        if pname == "risk" and not 0.0 < value < 1.0 - POT_TAIL:
            raise DataError(f"risk is the probability that a normal score exceeds the threshold "
                            f"and must be in (0, {1.0 - POT_TAIL:g}), got {value}")
        if pname == "contamination" and not 0.0 < value <= 0.5:
            raise DataError(f"contamination is the expected fraction of anomalies and must be in "
                            f"(0, 0.5], got {value}")
        self.method = method
        self.param_name = pname
        self.param = value
        self.value_ = None

    @staticmethod
    def _scores(scores, name="scores") -> np.ndarray:
        arr = np.asarray(scores)
        if arr.size == 0:
            raise DataError(f"{name} is empty; a threshold needs at least one score")
        return _finite_float(arr, name)

    def compute(self, scores) -> float:
        """The threshold for ``scores`` (does not store it)."""
        s = self._scores(scores).ravel()
        if self.method == "percentile":
            return float(np.percentile(s, self.param))
        if self.method == "mean_std":
            return float(s.mean() + self.param * s.std())
        if self.method == "mad":
            median = np.median(s)
            mad = np.median(np.abs(s - median))
            return float(median + self.param * MAD_SCALE * mad)
        if self.method == "pot":
            u = float(np.percentile(s, 100.0 * POT_TAIL))
            excess = s[s > u] - u
            beta = float(excess.mean()) if excess.size else 0.0
            return u + beta * float(np.log((1.0 - POT_TAIL) / self.param))
        return float(np.percentile(s, 100.0 * (1.0 - self.param)))  # contamination

    def fit(self, scores) -> float:
        """Fit on training scores; stores and returns the threshold ``value_``."""
        self.value_ = self.compute(scores)
        return self.value_

    def apply(self, scores) -> np.ndarray:
        """Bool array, same shape as ``scores``: True where ``score > value_``."""
        if self.value_ is None:
            raise NotFittedError("Threshold is not fitted; call fit(train_scores) first")
        return self._scores(scores) > self.value_

    def fit_apply(self, scores) -> np.ndarray:
        """Fit on ``scores`` and flag the same scores (the tutorial's ``detect_anomalies``)."""
        self.fit(scores)
        return self.apply(scores)

    def to_dict(self) -> dict:
        return {"method": self.method, self.param_name: self.param, "value": self.value_}

    @classmethod
    def from_dict(cls, d) -> "Threshold":
        if not isinstance(d, dict) or d.get("method") not in THRESHOLD_METHODS:
            raise DataError(f"Threshold.from_dict needs a dict with a 'method' in "
                            f"{sorted(THRESHOLD_METHODS)}, got {d!r:.80}")
        pname = THRESHOLD_METHODS[d["method"]][0]
        thr = cls(d["method"], **({pname: d[pname]} if pname in d else {}))
        value = d.get("value")
        if value is not None:
            if isinstance(value, bool) or not np.isfinite(value):
                raise DataError(f"Threshold.from_dict: value must be a finite number or None, "
                                f"got {value!r}")
            thr.value_ = float(value)
        return thr

    def __repr__(self):
        fitted = "" if self.value_ is None else f", value_={self.value_:.6g}"
        return f"Threshold({self.method!r}, {self.param_name}={self.param:g}{fitted})"


# ---------------------------------------------------------------------------------------------
# Thresholds by name
# ---------------------------------------------------------------------------------------------

def parse_threshold(spec) -> Threshold:
    """A :class:`~npae.scoring.Threshold` from ``"max"``, ``"METHOD"`` or ``"METHOD:VALUE"``.

    ``"max"`` is ``percentile:100`` (the largest training score).  METHOD is one of
    ``percentile`` (VALUE = q), ``mean_std`` / ``mad`` (VALUE = k), ``contamination`` (VALUE = the
    fraction); without VALUE the method's default is used.  A Threshold is returned as a copy.
    """
    if isinstance(spec, Threshold):
        return Threshold(spec.method, **{spec.param_name: spec.param})
    if not isinstance(spec, str):
        raise DataError(f"a threshold is a name such as 'max', 'percentile:99.9' or 'mad:6', "
                        f"got {spec!r}")
    text = spec.strip().lower()
    if text == "max":
        return Threshold("percentile", q=100.0)
    method, _, value = text.partition(":")
    aliases = {"sigma": "mean_std", "std": "mean_std", "quantile": "percentile"}
    method = aliases.get(method, method)
    if method not in THRESHOLD_METHODS:
        raise DataError(f"unknown threshold {spec!r}; use 'max' or METHOD[:VALUE] with METHOD one "
                        f"of {', '.join(THRESHOLD_METHODS)} (e.g. 'percentile:99.9', 'mad:6')")
    if not value:
        return Threshold(method)
    try:
        number = float(value)
    except ValueError:
        raise DataError(f"threshold {spec!r}: {value!r} is not a number") from None
    return Threshold(method, **{THRESHOLD_METHODS[method][0]: number})


def threshold_spec(thr: Threshold) -> str:
    """The inverse of :func:`parse_threshold` (``"max"`` for the 100th percentile)."""
    if thr.method == "percentile" and thr.param == 100.0:
        return "max"
    return f"{thr.method}:{thr.param:g}"


# ---------------------------------------------------------------------------------------------
# Scoring in batches (the functional core)
# ---------------------------------------------------------------------------------------------

@dataclass
class Detection:
    """Everything one scoring of a series gives (see :meth:`AnomalyDetector.detect`).

    window_scores (n,), window_flags (n,) bool   (Det 4), the plain pass
    point_scores (N,), point_flags (N,) bool     (Det 5)–(Det 6), after the repair passes
    feature_errors (N, D)                        each feature's error, aggregated as point_scores
    threshold, point_threshold                   the window threshold; a fully covered point's
    point_thresholds (N,)                        the threshold of each point (Cal 2)
    repair_passes                                how many repair passes ran (0 = none needed)
    windows, reconstructions, step_errors        (n, T, D) each, the plain pass; only with
                                                 ``keep_windows=True`` (memory n·T·D)
    """

    window_scores: np.ndarray
    window_flags: np.ndarray
    point_scores: np.ndarray
    point_flags: np.ndarray
    feature_errors: np.ndarray
    threshold: float
    point_threshold: float
    repair_passes: int = 0
    point_thresholds: np.ndarray | None = None
    windows: np.ndarray | None = None
    reconstructions: np.ndarray | None = None
    step_errors: np.ndarray | None = None


def _covered_points(window_mask, N, T, stride=1):
    """(N,) bool: the points covered by at least one window of ``window_mask`` (n,).

    Window i covers points i·stride … i·stride + T - 1, so point p is covered by the windows
    ceil((p - T + 1) / stride) … floor(p / stride)."""
    c = np.concatenate([[0], np.cumsum(window_mask, dtype=np.int64)])
    n = len(window_mask)
    p = np.arange(N)
    hi = np.minimum(p // stride, n - 1) + 1
    lo = np.minimum(np.maximum(-((T - 1 - p) // stride), 0), n)  # ceil((p-T+1)/stride), ≥ 0
    return c[np.maximum(hi, lo)] - c[lo] > 0


def _nearest_covered(N, T, stride, n):
    """(N,) int: each point's own index if a window covers it, else the nearest covered point's
    (with ``stride`` > 1 up to ``stride - 1`` points at the end belong to no window)."""
    last = (n - 1) * stride + T - 1  # the last covered point
    return np.minimum(np.arange(N), last)


def _accumulate(recon_fn, x_in, x_target, T, stride, how, window_idx, batch_size, keep=None,
                keep_step=None):
    """(Det 3)–(Det 5) for the windows ``window_idx`` (sorted int array) of the series ``x_in (N, D)``.

    Returns ``(window_scores, point_scores, feature_errors, mean_reconstruction)`` with shapes
    (len(window_idx),), (N,), (N, D), (N, D).  Only points all of whose covering windows are in
    ``window_idx`` hold complete values (others: partial or the fill value).  ``keep``: a dict
    that receives the (n, T, D) windows, reconstructions and squared errors.
    """
    N, D = x_in.shape
    view_in = sliding_windows(x_in, T, stride)   # (n, T, D), views: no copy of the series
    view_t = sliding_windows(x_target, T, stride)
    point = point_accumulator(N, how)
    feat = point_accumulator((N, D), how)
    rec_sum = point_accumulator((N, D), "mean")
    count = np.zeros(N, dtype=np.int64)
    wscore = np.empty(len(window_idx))
    for s in range(0, len(window_idx), batch_size):
        w = window_idx[s:s + batch_size]
        contiguous = w[-1] - w[0] + 1 == len(w)
        xb = view_in[w[0]:w[-1] + 1] if contiguous else view_in[w]
        tb = view_t[w[0]:w[-1] + 1] if contiguous else view_t[w]
        rec = np.asarray(recon_fn(np.ascontiguousarray(xb)))
        check_finite(rec, "the model's reconstruction", "the model diverged in training: retrain "
                     "with a lower lr or with clip", where=None)
        err = (rec.astype(np.float64) - tb.astype(np.float64)) ** 2   # (Det 3) (b, T, D)
        step = err.mean(axis=2)                                         # (b, T)
        wscore[s:s + len(w)] = step.mean(axis=1)                        # (Det 4)
        if keep_step is not None:
            keep_step[w] = step
        if keep is not None:
            keep["windows"][w] = tb
            keep["reconstructions"][w] = rec
            keep["step_errors"][w] = err
        first = w * stride                                              # (Det 5), streamed
        fold_window_errors(point, step, first, how, count)
        fold_window_errors(feat, err, first, how)
        fold_window_errors(rec_sum, rec, first, "mean")
    seen = count > 0
    if how == "mean":
        point[seen] /= count[seen]
        feat[seen] /= count[seen, None]
    rec_mean = np.zeros((N, D))
    rec_mean[seen] = rec_sum[seen] / count[seen, None]
    return wscore, point, feat, rec_mean


def score_series(recon_fn, x, T, *, stride=1, how="min", point_threshold=None, repair=0,
                 batch_size=1024, keep_windows=False, dtype=np.float32, keep_step_errors=None):
    """Score a scaled series ``x (N, D)`` with a reconstruction function ``(b, T, D) → (b, T, D)``.

    Windows start every ``stride`` points.  Returns ``(window_scores (n,), point_scores (N,),
    feature_errors (N, D), passes, keep)``: (Det 3)–(Det 5), then, when ``point_threshold`` is given,
    up to ``repair`` passes (Repair 1)–(Repair 3).  ``keep`` holds the plain pass's (n, T, D) arrays with
    ``keep_windows=True``, else None.  Points no window covers (the last ``< stride`` ones) take
    the values of the last covered point.  ``point_threshold``: a number or one per point (N,).
    ``keep_step_errors``: a dict that receives ``"step"``, the (n, T) per-step errors.
    """
    x = np.ascontiguousarray(x, dtype=dtype)
    N, D = x.shape
    n = window_count(N, T, stride)
    keep = None
    if keep_windows:
        keep = {k: np.empty((n, T, D), dtype=np.float64 if k == "step_errors" else dtype)
                for k in ("windows", "reconstructions", "step_errors")}
    nearest = _nearest_covered(N, T, stride, n)
    step = None
    if keep_step_errors is not None:
        step = keep_step_errors["step"] = np.empty((n, T))
    wscore, point, feat, rec_mean = _accumulate(recon_fn, x, x, T, stride, how, np.arange(n),
                                                batch_size, keep, step)
    point, feat, rec_mean = point[nearest], feat[nearest], rec_mean[nearest]
    passes = 0
    if point_threshold is None or repair <= 0:
        return wscore, point, feat, passes, keep
    flags = point > point_threshold
    previous = np.zeros(N, dtype=bool)
    for _ in range(int(repair)):
        if not flags.any() and not previous.any():
            break
        x_rep = x.copy()
        x_rep[flags] = rec_mean[flags].astype(dtype)                    # (Repair 1)
        changed = flags | previous
        affected = window_hits(changed, T, stride)         # windows whose input changed
        points = _covered_points(affected, N, T, stride)   # points whose score may change
        rerun = np.flatnonzero(window_hits(points, T, stride))  # all windows covering them
        _, p2, f2, r2 = _accumulate(recon_fn, x_rep, x, T, stride, how, rerun, batch_size)  # (Repair 2)
        point[points], feat[points], rec_mean[points] = p2[points], f2[points], r2[points]
        point, feat, rec_mean = point[nearest], feat[nearest], rec_mean[nearest]
        passes += 1
        previous = flags
        flags = point > point_threshold                                  # (Repair 3)
        if np.array_equal(flags, previous):
            break
    return wscore, point, feat, passes, keep


# ---------------------------------------------------------------------------------------------
# Point thresholds matched to each point's coverage
# ---------------------------------------------------------------------------------------------

def coverage_positions(N, T, stride=1):
    """``(t_lo, t_hi)``, each (N,) int: point j sits at the steps t_lo, t_lo + s, …, t_hi of the
    windows (length T, every ``stride`` = s points) that cover it.

    Interior points have the full set (t_lo < s, t_hi > T - 1 - s); the first and last T - 1
    points of a series are covered by fewer windows, at the early (start of the series) or late
    (end) steps only.  Points after the last window (``stride`` > 1) take the last covered
    point's positions, as their scores do.
    """
    n = window_count(N, T, stride)
    j = np.minimum(np.arange(N), (n - 1) * stride + T - 1)
    first_w = np.maximum(-((T - 1 - j) // stride), 0)       # ceil((j - T + 1) / s), ≥ 0
    last_w = np.minimum(j // stride, n - 1)
    return j - last_w * stride, j - first_w * stride


def _position_errors(step, T):
    """(M, T) ``E[j, t]``: the error of point j at step t of the window starting at j - t, for
    the M = n - T + 1 points covered by all T of the n stride-1 windows whose errors are
    ``step (n, T)``."""
    n = step.shape[0]
    j = np.arange(T - 1, n)                                  # windows j - T + 1 … j all exist
    t = np.arange(T)
    return step[j[:, None] - t[None, :], t[None, :]]


def _aggregate(values, how, axis):
    if how == "min":
        return values.min(axis=axis)
    if how == "max":
        return values.max(axis=axis)
    return values.mean(axis=axis)


def matched_point_thresholds(errors, rule, how, N, T, stride=1):
    """(N,) point thresholds for a series of N points, each fitted on calibration points scored
    with the *same* window positions as that point.

    ``errors (M, T)``: calibration errors ``E[j, t]`` of M fully covered normal points
    (:func:`_position_errors`).  A point at positions P = {t_lo, t_lo + s, …, t_hi}
    (:func:`coverage_positions`) gets ``rule`` fitted on ``agg_{t ∈ P} E[:, t]`` — the scores the
    calibration points would have with only those windows.  So an interior point is compared with
    fully covered points, and an edge point with calibration scores that had as few windows.
    """
    t_lo, t_hi = coverage_positions(N, T, stride)
    pairs, inverse = np.unique(np.stack([t_lo, t_hi], axis=1), axis=0, return_inverse=True)
    values = np.empty(len(pairs))
    for i, (lo, hi) in enumerate(pairs):
        values[i] = rule.compute(_aggregate(errors[:, lo:hi + 1:stride], how, axis=1))
    return values[np.ravel(inverse)]
