"""``AnomalyDetector``: a recurrent autoencoder turned into a detector with PyOD-like conventions.

    det = AnomalyDetector(cell="lstm", seed=42).fit(train_series)   # window "auto", to convergence
    det.decision_function(series)   # (n,)  window scores: the tutorial's reconstruction MSE
    det.score_points(series)        # (N,)  one score per point
    det.predict(series)             # (N,)  True = anomalous point
    det.save("det.npz");  AnomalyDetector.load("det.npz")

The data path (shape glossary: N points, D features, T = ``window_size``, n = N - T + 1 windows
when scoring)::

    (Det 1) series (N, D) ─► scaler fitted on the training windows, per feature ─► x (N, D)
    (Det 0) T = ``window_size``, or with "auto" one period of the training series
         (:func:`npae.data.auto_window_size`, autocorrelation, clipped to 8 … 300 and N / 2)
    (Det 2) training windows (stride ``stride``) ─► npae.train.fit ─► model; the latest
         ``val_fraction`` of them held out (early stopping, plateau schedule, calibration)
    (Det 3) every window x_i = x[i : i+T], its reconstruction x̂_i, squared errors
         e_i = (x̂_i - x_i)²  (T, D)              per step and feature
    (Det 4) window score  s_i = mean_{t,d} e_i[t, d]   (the tutorial's)  ─► threshold_ ─► window flags
    (Det 5) point score   p_j = agg_{i: i ≤ j < i+T} mean_d e_i[j - i, d]   agg = min (default) | mean | max
    (Det 6) point flags   p_j > θ_j        θ_j: point j's threshold, (Cal 1)–(Cal 2) of WindowDetector

A 3-D input (n, T, D) is a set of ready-made windows (equal-length series): each is one window,
its score (Det 4) is the series' score, and ``predict`` flags series.

Why ``min`` in (Det 5): a point is then only as anomalous as the *cleanest* window that contains it,
so a spike scores high on its own points but not on the T - 1 normal points around it that share
windows with it.  The tutorial's alternative — flag a window, mark all its T points — predicts 50
points for a 10-point spike, hence its F1 of about 0.33.

Repair passes (``repair``, default 2).  ``min`` fails in one place: a normal point whose every
covering window also contains an anomaly (two spikes less than T apart), because an autoencoder
reconstructs a whole window badly when part of it is abnormal.  After (Det 6) the flagged points are
therefore *repaired* — replaced by the model's own reconstruction (the mean over the windows
covering them) — and the affected windows are reconstructed again, errors still measured against
the original values:

    (Repair 1) x'_j = x̄̂_j if p_j > θ else x_j        (x̄̂_j: mean reconstruction of point j)
    (Repair 2) e'_i = (f(x'_i) - x_i)²                 only windows near a repaired point are re-run
    (Repair 3) p'_j from e' as in (Det 5); repeat while the flags change, at most ``repair`` times

A true anomaly keeps a high score (its repaired neighbourhood is reconstructed as normal, far from
its real value), while the normal points between two anomalies are now reconstructed from clean
windows.  It is the masking idea of Donut's missing-data imputation (Xu et al., WWW 2018),
without the MCMC.  Measured on the demo's data (50 epochs, float32): with seed 42, whose spikes at
373/421 and 615/657 are closer than a window, the LSTM's point F1 goes from 0.83 (no repair) to
0.95 (one pass) and 0.98 (two); over seeds 0–4 and 42 it is 0.98–1.0 with two passes (0.83–1.0
without), for the RNN 0.98–1.0 (0.94–1.0 without).  Window scores (Det 4) never use it: they stay
the tutorial's.

The point threshold (``point_threshold``, default ``"max"``) is fitted on calibration point
scores: the largest one.  The calibration data are taken to be normal, so anything the model
reconstructs worse than every calibration point is flagged.  A percentile such as the tutorial's
95 would flag 5 % of normal points by construction; the distribution of ``min`` scores is too
skewed (median ~1e-5, tail ~1e-1) for median + k·MAD to work.  Other rules:
``"percentile:99.9"``, ``"mad:6"``, ``"mean_std:5"``, ``"contamination:0.01"``, ``"pot:1e-4"``
(peaks over threshold: an exponential tail extrapolated beyond the largest calibration score; see
:class:`npae.scoring.Threshold`).

Which points calibrate, and why (:class:`WindowDetector`, (Cal 1)–(Cal 2)).  Before, ``max`` was the
largest score of *every* training point, and with ``min`` aggregation that is an edge point: the
last training point lies in one window only, so its score is the error of one window's last step,
not the best of T.  Measured with the PCA baseline (same windows and scores) on the NAB series at
their automatic windows, the largest score over all training points against over the fully
covered ones: art_daily_jumpsup (T 288) 0.671 vs 0.00101, ec2_cpu_utilization_825cc2 (81)
0.152 vs 0.0183, cpu_utilization_asg_misconfiguration (12) 0.649 vs 0.0992, nyc_taxi (48) 0.664
vs 0.0922, ambient_temperature_system_failure (23) 3.63 vs 0.0956, machine_temperature (50) 0.28
vs 0.0827: the edge set the threshold 3 to 660 times higher than any interior point, a margin
that came from the edge, not from the data.  With (Cal 1) and (Cal 2) the thresholds are what the
calibration points say, and an edge is judged against calibration scores with as few windows
(the last T - 1 points of jumpsup: 89 flagged with the interior threshold, 60 matched).  The
cost is measured too: the same margin had hidden that a maximum over a few hundred calibration
points is exceeded by normal points of a series many times longer, so there are more false-alarm
events (jumpsup 0 → 233, cpu_asg 37 → 73, nyc_taxi 0 → 80, ambient 1 → 30 with PCA) while more
events are found (nyc_taxi 2 → 4 of 5, ambient 0 → 2 of 2).  ``point_threshold="pot:1e-4"``
extrapolates the tail instead (PCA, cpu_asg: 73 → 31 false alarms, every event still found);
it is not the default because it lost one of ambient's two events and helps the LSTM far less
(cpu_asg 259 → 242, ec2_cpu 283 → 240, seed 0; README "Detection quality").

Scoring runs the model on ``score_batch_size`` windows at a time and folds each batch into the
(N,) accumulators at once, so memory grows with the batch and N·D, not with N·T.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import zipfile

import numpy as np

from ._checks import check_finite, is_int
from .backends import is_torch_model, load_torch_state, to_numpy, to_torch, torch_reconstruct
from .data import auto_window_size, make_scaler, scaler_from_dict, sliding_windows
from .errors import DataError, NonFiniteError, NotFittedError, NpaeError, ShapeError, StateDictError
from .io import atomic_file
from .detector_file import (FORMAT, FORMAT_VERSION, MAX_CONFIG_CHARS, READABLE_VERSIONS,  # noqa: F401
                            _PARSE_ERRORS, _Budget, _read_config, _read_npy)
from .scoring import (THRESHOLD_METHODS, Detection, Threshold, _aggregate,  # noqa: F401
                      _position_errors, coverage_positions, matched_point_thresholds, parse_threshold,
                      point_accumulator, score_series, threshold_spec, window_errors)
from .series import _as_array, _as_input, _as_series, _like, _same  # noqa: F401
from .train import History, fit as train_fit, steps_per_epoch

__all__ = ["AnomalyDetector", "WindowDetector", "Detection", "parse_threshold", "FORMAT",
           "FORMAT_VERSION", "CELLS", "BACKENDS", "AGGREGATES", "CALIBRATIONS",
           "coverage_positions", "matched_point_thresholds", "UNDERTRAINED_RATIO"]

CELLS = ("lstm", "rnn", "gru", "dense")
BACKENDS = ("numpy", "torch")
AGGREGATES = ("min", "mean", "max")
CALIBRATIONS = ("validation", "train")


# ---------------------------------------------------------------------------------------------
# The shared estimator: scaler, windows, scoring, thresholds
# ---------------------------------------------------------------------------------------------

AUTO_HIDDEN = 32                 # hidden_size="auto": 32, 64 for windows longer than 160
AUTO_LONG_WINDOW = 160
AUTO_LR = 1e-2                   # lr="auto": the gated cells and the dense model
AUTO_LR_RNN = 1e-3               # lr="auto": the plain tanh RNN
PATIENCE_STEPS = 500             # patience="auto": early stopping after 500 flat steps
LR_PATIENCE_STEPS = {"rnn": 200}  # lr_patience="auto": halve lr after 200 flat steps (rnn),
#                                   after 5 flat epochs (the other cells)
MIN_LR_SHARE = 0.01               # the plateau schedule lowers lr to no less than lr / 100
UNDERTRAINED_RATIO = 0.5          # best validation loss / the validation windows' variance
MIN_CALIBRATION_POINTS = 20       # fewer fully covered held-out points: calibrate on training


class WindowDetector:
    """What :class:`AnomalyDetector` and :class:`npae.baselines.PCADetector` share: the scaler,
    the windows, the validation split, scoring (Det 3)–(Det 6), the repair passes and the thresholds.

    A subclass defines ``_fit_model(windows (n, T, D), n_val)`` (train on the first n - n_val
    windows; the last n_val are the held-out validation split, the latest in time) and
    ``_recon_fn()`` (a function (b, T, D) → (b, T, D) in scaled units).

    Calibration (``calibration``, default ``"validation"``).  The thresholds are fitted on normal
    data the model did not train on: the window threshold on the validation windows' scores, the
    point threshold on the points of the validation stretch covered only by validation windows.
    Two rules keep an edge effect out of every threshold:

    (Cal 1) calibration points are *fully covered* points only (all T windows around them exist):
         with ``min`` aggregation the first and last T - 1 points of a stretch, covered by fewer
         windows, score far higher than interior ones (the last training point, in one window
         only, set the old ``max`` threshold);
    (Cal 2) a scored point covered by fewer windows (the first and last T - 1 points of a scored
         series) is compared with a threshold fitted on the calibration points re-scored with
         the same window positions (:func:`matched_point_thresholds`), so the end of a series
         raises no false alarm for being the end.

    When the validation stretch has fewer than 20 fully covered points (it needs 2T - 1 + 20
    points: short training stretches with long windows), the calibration points are the fully
    covered training points instead, and ``calibration_`` says so; when even the training stretch
    has none (shorter than 2T - 1), the thresholds are fitted on every training point, as before.
    Measured: see the module docstring.
    """

    _PARAMS: tuple = ()   # the constructor's arguments, read off its signature (written once)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "__init__" in cls.__dict__:
            cls._PARAMS = tuple(p for p in inspect.signature(cls.__init__).parameters
                                if p != "self")

    def _store_params(self, arguments) -> None:
        """``__init__``'s body: each argument stored unchanged under its own name (scikit-learn's
        convention; :meth:`fit` validates)."""
        for name in self._PARAMS:
            setattr(self, name, arguments[name])

    def __repr__(self):
        """The class with the arguments that differ from their defaults, and whether fitted."""
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults.get(k))}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        fitted = "" if getattr(self, "model_", None) is None else " (fitted)"
        return f"{type(self).__name__}({args}){fitted}"

    # ------------------------------------------------------------------ parameters
    # scikit-learn's estimator conventions: ``__init__`` stores its arguments unchanged (so
    # ``sklearn.base.clone`` works), ``fit`` validates them; a *fitted* detector validates in
    # ``set_params`` too, so it never holds a value its thresholds and saved file cannot use.
    def get_params(self, deep=True) -> dict:
        """The constructor arguments, as scikit-learn / PyOD estimators give them (``deep`` is
        accepted for scikit-learn: a detector holds no nested estimator)."""
        return {p: getattr(self, p) for p in self._PARAMS}

    def set_params(self, **params):
        """Set constructor arguments; returns self.  On a fitted detector every value is
        validated first and nothing is assigned on an error."""
        unknown = set(params) - set(self._PARAMS)
        if unknown:
            raise DataError(f"unknown parameter(s) {sorted(unknown)}; valid: {', '.join(self._PARAMS)}")
        old = {name: getattr(self, name) for name in params}
        for name, value in params.items():
            setattr(self, name, value)
        if getattr(self, "model_", None) is None:
            return self
        try:
            self._check_params()
        except BaseException:  # an invalid value is never left in a fitted detector
            for name, value in old.items():
                setattr(self, name, value)
            raise
        return self

    def _json_params(self) -> dict:
        """:meth:`get_params` as JSON values (a dtype by name, NumPy numbers as Python's)."""
        out = {}
        for k, v in self.get_params().items():
            if k == "dtype":
                v = str(np.dtype(v))
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    def _pos_int(self, name, low=1):
        v = getattr(self, name)
        if not is_int(v, low):
            raise DataError(f"{name} must be an integer >= {low}, got {v!r}")

    def _check_common_params(self):
        if self.aggregate not in AGGREGATES:
            raise DataError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if isinstance(self.window_size, str):
            if self.window_size != "auto":
                raise DataError(f"window_size must be 'auto' or an integer >= 2, got "
                                f"{self.window_size!r}")
        else:
            self._pos_int("window_size", 2)
        for name in ("stride", "score_batch_size", "score_stride"):
            self._pos_int(name)
        self._pos_int("repair", 0)
        if self.window_size != "auto" and self.score_stride > self.window_size:
            raise DataError(f"score_stride ({self.score_stride}) must be at most window_size "
                            f"({self.window_size}): a larger step leaves points that no scored "
                            f"window covers")
        if not isinstance(self.val_fraction, (int, float)) or isinstance(self.val_fraction, bool) \
                or not 0.0 <= self.val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.calibration not in CALIBRATIONS:
            raise DataError(f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}")
        try:
            dtype = str(np.dtype(self.dtype))
        except TypeError:
            dtype = None
        if dtype not in ("float32", "float64"):
            raise DataError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        self._window_threshold()  # validates threshold / q / k / contamination
        parse_threshold(self.point_threshold)
        make_scaler(self.scaler)

    def _window_threshold(self) -> Threshold:
        if not isinstance(self.threshold, str) or self.threshold not in THRESHOLD_METHODS:
            raise DataError(f"threshold must be one of {sorted(THRESHOLD_METHODS)}, "
                            f"got {self.threshold!r}")
        pname = THRESHOLD_METHODS[self.threshold][0]
        return Threshold(self.threshold, **{pname: getattr(self, pname)})

    def _check_fitted(self):
        if getattr(self, "model_", None) is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call "
                                 f"fit(train_series) first")

    def _scaled(self, data, name="series"):
        x, is_windows = _as_input(data, name)
        if is_windows != self.windows_input_:
            what = "ready-made windows (n, T, D)" if self.windows_input_ else "a series (N,) / (N, D)"
            raise ShapeError(f"{name} has shape {x.shape}, but the detector was fitted on {what}; "
                             f"pass the same kind of data")
        if x.shape[-1] != self.n_features_in_:
            raise ShapeError(f"{name} has {x.shape[-1]} feature(s), but the detector was fitted "
                             f"on {self.n_features_in_}; pass the same columns as in training")
        if is_windows and x.shape[1] != self.window_size_:
            raise ShapeError(f"{name} holds series of length {x.shape[1]}, but the detector was "
                             f"fitted on length {self.window_size_}; pass equal-length series")
        if not is_windows and len(x) < self.window_size_:
            raise DataError(f"{name} has {len(x)} points, fewer than one window "
                            f"(window_size={self.window_size_}); pass a longer series")
        xs = self.scaler_.transform(x)
        big = float(np.max(np.abs(xs)))
        limit = float(np.finfo(np.dtype(self.dtype)).max)
        if not big <= limit:   # would become infinity in the model's dtype
            raise DataError(f"{name}, scaled with the training data's statistics, reaches "
                            f"{big:.3g}, beyond {np.dtype(self.dtype)}'s range: it is not on the "
                            f"scale the detector was trained on (another unit?); rescale it or "
                            f"retrain on data like it")
        return xs

    # ------------------------------------------------------------------ fit
    def fit(self, data, y=None):
        """Train on ``data``, taken to be normal; fit the scaler and the thresholds.

        ``data``: a series (N,) or (N, D), windowed here, or ready-made windows (n, T, D) — a set
        of equal-length series (``X[..., None]`` for univariate ones), each scored as one window.
        ``y`` is ignored (unsupervised; accepted for scikit-learn compatibility).
        """
        self._check_params()
        if hasattr(data, "columns"):        # a pandas DataFrame: its column names
            self.feature_names_in_ = [str(c) for c in data.columns]
        x, is_windows = _as_input(data, "training data")
        self.windows_input_ = is_windows
        self.n_features_in_ = x.shape[-1]
        scaler = make_scaler(self.scaler)
        if is_windows:
            T = x.shape[1]
            if T < 2:
                raise ShapeError(f"ready-made windows need at least 2 steps, got shape {x.shape}")
            self.window_size_ = T
            scaler.fit(x)                                        # (Det 1) on the training windows
            windows = scaler.transform(x)
            xs = None
        else:
            T = auto_window_size(x) if self.window_size == "auto" else self.window_size  # (Det 0)
            if len(x) < T:
                raise DataError(f"the training series has {len(x)} points, fewer than one window "
                                f"(window_size={T}); use a longer series or a smaller window")
            if self.score_stride > T:
                raise DataError(f"score_stride ({self.score_stride}) must be at most the window "
                                f"({T}, chosen by window_size='auto'); lower score_stride")
            self.window_size_ = int(T)
            scaler.fit(sliding_windows(x, T))                    # (Det 1) on the training windows
            xs = scaler.transform(x)
            windows = sliding_windows(xs, T, self.stride)
        self.scaler_ = scaler
        n = len(windows)
        n_val = int(round(n * self.val_fraction)) if self.val_fraction > 0 else 0
        if self.val_fraction > 0 and (n_val < 1 or n_val >= n):
            raise DataError(f"val_fraction={self.val_fraction} of {n} training windows leaves "
                            f"{n - n_val} for training and {n_val} for validation; both need at "
                            f"least one (use a longer training series, a smaller window or "
                            f"val_fraction=0)")
        self._fit_model(np.ascontiguousarray(windows, dtype=self.dtype), n_val)   # (Det 2)
        self.n_val_windows_ = n_val
        self._fit_scores(windows, xs, n_val)
        self._check_undertraining(windows, n_val)
        self._fit_thresholds()
        return self

    def _check_undertraining(self, windows, n_val):
        """``loss_ratio_``: the best validation loss (else the final training loss) over the
        variance of those windows in scaled units (1 = no better than predicting their mean);
        ``undertrained_`` when it is above ``UNDERTRAINED_RATIO``."""
        hist = getattr(self, "history_", None)
        held = windows[len(windows) - n_val:] if n_val else windows
        var = float(np.mean(np.var(np.asarray(held, dtype=np.float64).reshape(-1, held.shape[-1]),
                                   axis=0)))
        if hist is not None and hist.val_loss:
            loss = hist.best_val_loss
        elif hist is not None and hist.train_loss:
            loss = hist.final_loss
        else:
            loss = float(np.mean(self.calibration_scores_))
        self.loss_ratio_ = float(loss / var) if var > 0 else float("nan")
        self.undertrained_ = bool(hist is not None and self.loss_ratio_ > UNDERTRAINED_RATIO)

    def _fit_scores(self, windows, xs, n_val):
        """Training and calibration scores: ``decision_scores_`` (every training window),
        ``train_point_scores_`` (every training point), ``calibration_scores_`` (the window scores
        the window threshold is fitted on) and ``calibration_errors_`` (M, T) (Cal 1)."""
        T = self.window_size_
        recon = self._recon_fn()
        if self.windows_input_:
            scores = window_errors(windows, recon(np.ascontiguousarray(windows, dtype=self.dtype))
                                   ).window
            self.decision_scores_ = scores
            self.train_point_scores_ = None
            use_val = self.calibration == "validation" and n_val > 0
            self.calibration_scores_ = scores[len(scores) - n_val:] if use_val else scores
            self.calibration_errors_ = None
            self.calibration_ = ("validation windows" if use_val else "training windows")
            return
        N = len(xs)
        keep = {}
        wscore, point, _, _, _ = score_series(recon, xs, T, stride=1, how=self.aggregate,
                                              batch_size=self.score_batch_size, dtype=self.dtype,
                                              keep_step_errors=keep)
        self.decision_scores_ = wscore
        self.train_point_scores_ = point
        errors = _position_errors(keep["step"], T)               # (M, T), points T-1 … N-T
        val_start = (len(windows) - n_val) * self.stride if n_val else N
        # points covered only by held-out windows: j - T + 1 >= val_start
        held = np.arange(T - 1, N - T + 1) - (T - 1) >= val_start
        if self.calibration == "validation" and n_val and held.sum() >= MIN_CALIBRATION_POINTS:
            self.calibration_errors_ = errors[held]
            self.calibration_ = "validation"
        elif len(errors):
            self.calibration_errors_ = errors
            self.calibration_ = ("training" if self.calibration == "train" or not n_val else
                                 "training (the validation stretch has fewer than "
                                 f"{MIN_CALIBRATION_POINTS} fully covered points)")
        else:
            self.calibration_errors_ = None
            self.calibration_ = "training, every point (no point is covered by all T windows)"
        val_w = wscore[val_start:] if n_val and val_start < len(wscore) else wscore
        self.calibration_scores_ = val_w if self.calibration == "validation" and n_val else wscore

    def _fit_thresholds(self):
        self.threshold_obj_ = self._window_threshold()
        self.threshold_ = self.threshold_obj_.fit(self.calibration_scores_)
        self.point_threshold_obj_ = parse_threshold(self.point_threshold)
        if self.windows_input_:
            self.point_threshold_obj_.value_ = self.threshold_
            self.point_threshold_ = self.threshold_
        elif self.calibration_errors_ is not None:
            full = _aggregate(self.calibration_errors_, self.aggregate, axis=1)   # (Cal 1)
            self.point_threshold_ = self.point_threshold_obj_.fit(full)
        else:
            self.point_threshold_ = self.point_threshold_obj_.fit(self.train_point_scores_)

    def point_thresholds(self, n_points) -> np.ndarray:
        """(N,) the threshold each point of an N-point series is compared with (Cal 2)."""
        self._check_fitted()
        if self.calibration_errors_ is None:
            return np.full(n_points, self.point_threshold_)
        return matched_point_thresholds(self.calibration_errors_, self.point_threshold_obj_,
                                        self.aggregate, n_points, self.window_size_,
                                        self.score_stride)

    def set_threshold(self, threshold=None, point_threshold=None, **param):
        """Re-fit the thresholds on the stored calibration scores, without retraining.

        ``threshold`` (window level): a method name, with ``q=`` / ``k=`` / ``contamination=``;
        ``point_threshold``: a spec such as ``"max"`` or ``"percentile:99.9"``.  Returns self.
        Every value is validated before any is assigned: on an error the detector is unchanged.
        """
        self._check_fitted()
        changes = dict(param)
        if threshold is not None:
            changes["threshold"] = threshold
        if point_threshold is not None:
            changes["point_threshold"] = point_threshold
        old = {name: getattr(self, name) for name in changes if name in self._PARAMS}
        fitted = {name: getattr(self, name) for name in (
            "threshold_obj_", "threshold_", "point_threshold_obj_", "point_threshold_")}
        self.set_params(**changes)  # validates first, assigns nothing on an error
        try:
            self._fit_thresholds()
        except BaseException:
            for name, value in {**old, **fitted}.items():
                setattr(self, name, value)
            raise
        return self

    # ------------------------------------------------------------------ scoring
    def detect(self, data, keep_windows=False) -> Detection:
        """Score ``data`` once and return every score, flag and (optionally) window array.

        For ready-made windows (n, T, D) the "points" are the n series: ``point_scores`` are
        their window scores and ``point_flags`` their window flags."""
        self._check_fitted()
        xs = self._scaled(data)
        if self.windows_input_:
            w = np.ascontiguousarray(xs, dtype=self.dtype)
            rec = self._recon_fn()(w)
            errs = window_errors(w, rec, keep_squared=True)
            flags = errs.window > self.threshold_
            return Detection(
                window_scores=errs.window, window_flags=flags, point_scores=errs.window,
                point_flags=flags, feature_errors=errs.per_feature,
                threshold=float(self.threshold_), point_threshold=float(self.threshold_),
                point_thresholds=np.full(len(w), float(self.threshold_)),
                windows=w if keep_windows else None,
                reconstructions=rec if keep_windows else None,
                step_errors=errs.squared if keep_windows else None)
        thresholds = self.point_thresholds(len(xs))
        wscore, point, feat, passes, keep = score_series(
            self._recon_fn(), xs, self.window_size_, stride=self.score_stride, how=self.aggregate,
            point_threshold=thresholds, repair=self.repair,
            batch_size=self.score_batch_size, keep_windows=keep_windows, dtype=self.dtype)
        keep = keep or {}
        return Detection(
            window_scores=wscore, window_flags=wscore > self.threshold_,
            point_scores=point, point_flags=point > thresholds,  # (Det 6)
            feature_errors=feat, threshold=float(self.threshold_),
            point_threshold=float(self.point_threshold_), repair_passes=passes,
            point_thresholds=thresholds,
            windows=keep.get("windows"), reconstructions=keep.get("reconstructions"),
            step_errors=keep.get("step_errors"))

    # pandas in, pandas out: a Series or DataFrame passed to the methods below gives a Series
    # (or DataFrame) back on the same index (points) or on the index of each window's first
    # point (windows); pandas is never imported unless it was passed in.

    def decision_function(self, data):
        """Window scores (Det 4), higher = worse: (n,) for a series (window i = points i·s …
        i·s + T - 1, s = ``score_stride``, n = (N - T) // s + 1), or one score per series for
        ready-made windows (n, T, D)."""
        self._check_fitted()
        if self.windows_input_:
            return self.detect(data).window_scores
        xs = self._scaled(data)
        scores = score_series(self._recon_fn(), xs, self.window_size_, stride=self.score_stride,
                              how=self.aggregate, batch_size=self.score_batch_size,
                              dtype=self.dtype)[0]
        return _like(data, scores, step=self.score_stride)

    def score_points(self, data):
        """(N,) point scores (Det 5) after the repair passes (Repair 1)–(Repair 3)."""
        return _like(data, self.detect(data).point_scores)

    def feature_errors(self, data):
        """(N, D) per-point, per-feature errors: which feature makes a point anomalous."""
        return _like(data, self.detect(data).feature_errors,
                     columns=getattr(data, "columns", getattr(self, "feature_names_in_", None)))

    def predict(self, data):
        """(N,) bool, True for anomalous points (Det 6), each above its threshold (Cal 2); for ready-made
        windows (n, T, D), (n,) True for anomalous series."""
        return _like(data, self.detect(data).point_flags)

    def predict_windows(self, data):
        """(n,) bool, True for windows scoring above ``threshold_`` (the tutorial's flags)."""
        return self.decision_function(data) > self.threshold_

    def reconstruct(self, data) -> tuple:
        """``(windows, reconstructions)``, each (n, T, D) in scaled units (memory n·T·D)."""
        d = self.detect(data, keep_windows=True)
        return d.windows, d.reconstructions

    # ------------------------------------------------------------------ save / load
    # One file format for every detector: an .npz of arrays (``model/<name>`` for the model's
    # own, the training and calibration scores) and one JSON ``config``.  A subclass names its
    # format (``FORMAT``, ``FORMAT_VERSION``, ``READABLE_VERSIONS``) and its model's arrays:
    # ``_model_arrays()`` to save them, ``_model_shapes(config)`` (name -> (shape, dtype)) to check
    # a file's before reading them, ``_restore_model(arrays, config, what)`` to use them.

    FORMAT = None
    FORMAT_VERSION = None
    READABLE_VERSIONS = ()
    _KIND = "detector"   # what a refused file is "not a saved npae ..."
    _LEGACY_VERSIONS = ()  # versions from before auto windows and calibration

    def _extra_config(self) -> dict:
        return {}

    def save(self, path) -> None:
        """Write the fitted detector to ``path`` (.npz: arrays + one JSON config, no pickle).

        :meth:`load` reads it back bit-identically (same model, scaler and thresholds, so the
        same scores).  The file is written to an exclusive temporary file beside ``path`` and
        renamed (:func:`npae.io.atomic_file`): an existing file is replaced whole or not at all.
        """
        self._check_fitted()
        from . import __version__

        model = self._model_arrays()
        config = {
            "format": self.FORMAT, "format_version": self.FORMAT_VERSION,
            "npae_version": __version__, "params": self._json_params(),
            "n_features_in": int(self.n_features_in_), "scaler": self.scaler_.to_dict(),
            "threshold": self.threshold_obj_.to_dict(),
            "point_threshold": self.point_threshold_obj_.to_dict(),
            "model_keys": list(model),
            "window_size": int(self.window_size_), "windows_input": bool(self.windows_input_),
            "calibration": self.calibration_, "loss_ratio": float(self.loss_ratio_),
            "undertrained": bool(self.undertrained_),
            "feature_names_in": getattr(self, "feature_names_in_", None), **self._extra_config(),
        }
        arrays = {f"model/{k}": v for k, v in model.items()}
        arrays["decision_scores"] = np.asarray(self.decision_scores_, dtype=np.float64)
        arrays["train_point_scores"] = np.asarray(
            [] if self.train_point_scores_ is None else self.train_point_scores_, dtype=np.float64)
        arrays["calibration_scores"] = np.asarray(self.calibration_scores_, dtype=np.float64)
        if self.calibration_errors_ is not None:
            arrays["calibration_errors"] = np.asarray(self.calibration_errors_, dtype=np.float64)
        arrays["config"] = np.array(json.dumps(config))
        with atomic_file(os.fspath(path), "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path):
        """Read a detector written by :meth:`save`; a bad, foreign or hostile file raises
        :class:`~npae.errors.DataError` (never another exception, never unbounded memory).

        Only the members the format defines are read (``config``, the scores and
        ``model/<name>`` for the model's own arrays); each ``.npy`` header is checked (dtype,
        shape against the config) before its data is inflated, and everything inflated together
        is capped at ``LOAD_INFLATION`` times the file's size.  The config's sizes are checked
        against the file before the model is built, and every value is validated here (scaler
        statistics, thresholds, scores, finite weights) rather than failing later on the user's
        data.
        """
        path = os.fspath(path)
        what = f"{path} is not a saved npae {cls._KIND}"
        magic = b""
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                magic = fh.read(6)
            zf = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise DataError(f"no such detector file: {path}") from None
        except IsADirectoryError:
            raise DataError(f"{path} is a folder; pass the .npz file {cls.__name__}.save "
                            f"wrote") from None
        except _PARSE_ERRORS as e:
            if magic == b"\x93NUMPY":
                raise DataError(f"{what} (it is a single .npy array, not an .npz archive)") from None
            raise DataError(f"{what} or is damaged ({type(e).__name__}: {e}); save it again with "
                            f"{cls.__name__}.save") from None
        try:
            with zf:
                return cls._load_members(zf, path, what, _Budget(size))
        except DataError:
            raise
        except (NpaeError, *_PARSE_ERRORS) as e:
            raise DataError(f"{what} or is damaged ({type(e).__name__}: {e})") from None

    @classmethod
    def _load_members(cls, zf, path, what, budget):
        config = _read_config(zf, what, budget, cls.FORMAT)
        version = config.get("format_version")
        if version not in cls.READABLE_VERSIONS:
            raise DataError(
                f"{path} was saved in {cls.__name__} format version {version!r} (npae "
                f"{config.get('npae_version', '?')}); this npae reads versions "
                f"{', '.join(map(str, cls.READABLE_VERSIONS))}. "
                f"Load it with the npae version that saved it, or retrain and save again")
        for key in ("params", "n_features_in", "scaler", "threshold", "point_threshold",
                    "model_keys"):
            if key not in config:
                raise DataError(f"{what} or is damaged (its config has no {key!r})")
        params = config["params"]
        if not isinstance(params, dict) or set(params) - set(cls._PARAMS):
            raise DataError(f"{what} or is damaged (its config's params are not "
                            f"{cls.__name__}'s: {sorted(set(params) - set(cls._PARAMS))})"
                            if isinstance(params, dict) else f"{what}: params is not a dict")
        det = cls(**params)
        det._check_params()  # every parameter validated (DataError)
        D = config["n_features_in"]
        if not is_int(D, 1):
            raise DataError(f"{what} or is damaged (n_features_in must be a positive integer, "
                            f"got {D!r:.40})")
        det.n_features_in_ = D
        names = config.get("feature_names_in")
        if names is not None:
            if not (isinstance(names, list) and len(names) == D
                    and all(isinstance(n, str) for n in names)):
                raise DataError(f"{what} or is damaged (feature_names_in is not {D} names)")
            det.feature_names_in_ = names
        legacy = version in cls._LEGACY_VERSIONS
        if legacy:   # before auto windows and calibration: the training scores
            det.window_size_ = params["window_size"]
            det.windows_input_ = False
            det.calibration_ = "training, every point (a version-1 file)"
            det.loss_ratio_, det.undertrained_ = float("nan"), False
        else:
            det.window_size_ = config["window_size"]
            det.windows_input_ = bool(config["windows_input"])
            det.calibration_ = str(config["calibration"])
            det.loss_ratio_ = float(config["loss_ratio"])
            det.undertrained_ = bool(config["undertrained"])
        T = det.window_size_
        if not is_int(T, 2):
            raise DataError(f"{what} or is damaged (its window size is {T!r:.40})")
        det.scaler_ = scaler_from_dict(config["scaler"])
        det.scaler_.check_shape(D, T)
        det.threshold_obj_ = Threshold.from_dict(config["threshold"])
        det.point_threshold_obj_ = Threshold.from_dict(config["point_threshold"])
        det.threshold_ = det.threshold_obj_.value_
        det.point_threshold_ = det.point_threshold_obj_.value_
        if det.threshold_ is None or det.point_threshold_ is None:
            raise DataError(f"{what}: its thresholds are missing")
        shapes = det._model_shapes(config, what, budget)
        stored = sorted(n[len("model/"):-len(".npy")] for n in zf.namelist()
                        if n.startswith("model/") and n.endswith(".npy"))
        if config["model_keys"] != list(shapes) or stored != sorted(shapes):
            raise DataError(f"{what} or is damaged (the arrays stored do not match its model's: "
                            f"{', '.join(shapes)})")
        arrays = {k: _read_npy(zf, f"model/{k}.npy", what, budget, shape=shape,
                               kinds="iu" if np.dtype(dt).kind in "iu" else "f")
                  for k, (shape, dt) in shapes.items()}

        def scores(name, ndim=1, allow_empty=False):
            arr = _read_npy(zf, f"{name}.npy", what, budget, ndim=ndim, kinds="f")
            if arr.size == 0 and not allow_empty:
                raise DataError(f"{what}: its {name} are empty")
            check_finite(arr, f"{what}: its {name}", verb="hold", where=None, error=DataError)
            return arr.astype(np.float64)

        det.decision_scores_ = scores("decision_scores")
        det.train_point_scores_ = scores("train_point_scores", allow_empty=det.windows_input_)
        if det.windows_input_:
            det.train_point_scores_ = None
        if legacy:
            det.calibration_scores_, det.calibration_errors_ = det.decision_scores_, None
        else:
            det.calibration_scores_ = scores("calibration_scores")
            det.calibration_errors_ = None
            if "calibration_errors.npy" in zf.namelist():
                det.calibration_errors_ = scores("calibration_errors", ndim=2)
                if det.calibration_errors_.shape[1] != T:
                    raise DataError(f"{what} or is damaged (its calibration errors are not "
                                    f"{T} steps long)")
        det._restore_model(arrays, config, what)
        return det


class AnomalyDetector(WindowDetector):
    """Recurrent-autoencoder anomaly detector for a series (N,) or (N, D), or for a set of
    equal-length series (n, T, D).

    Model (:func:`npae.autoencoder.build_autoencoder`): ``cell`` "lstm" | "rnn" | "gru" (the seed
    tutorial's recurrent autoencoder) | "dense" (the guide's dense autoencoder on flattened
    windows, batch norm and relu), ``window_size`` T (default ``"auto"``: one period of the
    training series, :func:`npae.data.auto_window_size`; the value used is ``window_size_``),
    ``hidden_size``, ``latent_size`` (default ``"auto"``: 32 / 16, 64 / 32 for windows longer
    than 160 steps, :meth:`model_sizes`; the values used are ``hidden_size_``,
    ``latent_size_``), ``num_layers`` (stacked recurrent layers; for "dense" the hidden layers
    on each side of the code), ``dropout`` (between stacked layers / after each dense hidden
    layer, in training only).

    Training (:func:`npae.train.fit`), by default to convergence: ``val_fraction`` (0.2) of the
    training windows, the latest, held out; up to ``max_steps`` (2000) optimiser steps (with
    ``epochs`` given: that many epochs, raised to ``min_steps`` steps and capped at
    ``max_steps``); early stopping after ``patience`` epochs without a better validation loss,
    once ``min_steps`` (1000) are done, with the best weights put back; Adam at ``lr``
    (default ``"auto"``: 1e-3 for "rnn", 1e-2 for the others, :meth:`learning_rate`) halved
    (``lr_factor``) after more than ``lr_patience`` flat epochs (ReduceLROnPlateau), down to
    lr / 100.  ``patience`` and ``lr_patience`` are epochs, or
    with ``"auto"`` (the default) as many epochs as 500 and 200 optimiser steps
    (:meth:`patience_epochs`, at least 20 and 5).  Every "auto" rule reads only the data's own
    size (the window, the features, the steps an epoch holds) and the cell, never labels, and
    each was chosen on the validation loss (the docstrings give the measurements).
    ``batch_size``, ``optimizer`` "adam" | "sgd", ``clip`` (1.0), ``stride`` of the training
    windows.  ``epochs=50, min_steps=None, max_steps=None, patience=None, lr_patience=None,
    val_fraction=0`` give the plain fixed-epoch loop (the tutorial's).

    Why no epoch budget by default: an epoch count ended training on the small sets before
    either the step budget or early stopping did.  With ``epochs=100`` (the old default) the
    whole-series sets and art_daily_jumpsup (8 steps an epoch) stopped at 1000 steps for
    "epochs", before early stopping or the step budget could; without it they train on to 2000
    steps or to early stopping.  The first 1000 steps are the same trajectory and the best weights are
    kept, so the best validation loss cannot rise: LSTM, seeds 0, 1, 2, validation loss over the
    validation windows' variance, art_daily_jumpsup 0.272, 0.883, 0.858 → 0.243 (2000 steps),
    0.883, 0.858 (early stopping at 1064 and 1000 steps), ECG5000 0.206, 0.228, 0.305 → 0.192,
    0.211, 0.303, ECG200 0.152, 0.161, 0.209 → 0.152, 0.156, 0.209 (early stopping at 1002,
    1900, 1000 steps); ``docs/quality.md`` has the detection numbers.

    ``scaler`` "standard" | "minmax" | "none" (per feature, fitted on the training windows),
    ``score_stride`` (step between the scored windows: 1 scores every window, larger is
    proportionally faster on long series; at most ``window_size``), ``backend`` "numpy" (npae)
    | "torch" (``reference``), ``dtype``, ``seed`` (initial weights and batch order: the same
    seed gives the same initial weights on both backends), ``progress`` (a bar per epoch).

    Thresholds (see :class:`WindowDetector` for where they are fitted): window (Det 4)
    ``threshold`` = "percentile" (``q``, default 95: the tutorial's), "mean_std" / "mad" (``k``)
    or "contamination"; point (Det 6) ``point_threshold`` (default "max"), ``aggregate`` (Det 5),
    ``repair`` (Repair 1)–(Repair 3); ``calibration`` "validation" | "train".

    Fitted attributes: ``model_``, ``scaler_``, ``history_`` (:class:`npae.train.History`),
    ``window_size_``, ``decision_scores_`` (window scores of the training series),
    ``train_point_scores_``, ``threshold_`` (window level), ``point_threshold_`` (a fully covered
    point's), ``calibration_``, ``loss_ratio_`` and ``undertrained_`` (best validation loss over
    the validation windows' variance; True above 0.5), ``n_features_in_``, ``hidden_size_``,
    ``latent_size_``, ``n_train_windows_``.
    """

    def __init__(self, cell="lstm", window_size="auto", hidden_size="auto", latent_size="auto",
                 epochs=None, batch_size=32, lr="auto", threshold="percentile", q=95.0, k=3.0,
                 contamination=0.1, point_threshold="max", aggregate="min", repair=2,
                 scaler="standard", stride=1, optimizer="adam", clip=1.0, val_fraction=0.2,
                 patience="auto", backend="numpy", dtype="float32", seed=None,
                 score_batch_size=1024, score_stride=1, progress=False, min_steps=1000,
                 max_steps=2000, lr_patience="auto", lr_factor=0.5, calibration="validation",
                 num_layers=1, dropout=0.0):
        self._store_params(locals())

    def _check_params(self):
        if self.cell not in CELLS:
            raise DataError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.backend not in BACKENDS:
            raise DataError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        for name in ("hidden_size", "latent_size"):
            if getattr(self, name) != "auto":
                self._pos_int(name)
        self._pos_int("batch_size")
        if self.epochs is not None:
            self._pos_int("epochs")
        lr = self.lr
        if lr != "auto" and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating))
                             or not math.isfinite(lr) or not lr > 0):
            raise DataError(f"lr must be 'auto' or a positive number, got {lr!r}")
        for name in ("min_steps", "max_steps"):
            if getattr(self, name) is not None:
                self._pos_int(name)
        if self.epochs is None and self.max_steps is None:
            raise DataError("epochs=None (the default: no epoch budget) needs max_steps, the "
                            "optimiser steps that end training; give max_steps or epochs")
        if self.patience is not None and self.patience != "auto":
            self._pos_int("patience")
        if self.lr_patience is not None and self.lr_patience != "auto":
            self._pos_int("lr_patience", 0)
        if self.seed is not None:
            self._pos_int("seed", 0)
        self._pos_int("num_layers")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, (int, float, np.floating)) or not 0 <= d < 1:
            raise DataError(f"dropout must be a probability in [0, 1), got {d!r}")
        self._check_common_params()

    # ------------------------------------------------------------------ the "auto" rules
    def model_sizes(self, window_size, n_features) -> tuple:
        """``(hidden_size, latent_size)`` for windows of ``window_size`` steps and ``n_features``.

        Integers are used as given.  ``"auto"`` (the default): H = 32 for windows of up to
        ``AUTO_LONG_WINDOW`` (160) steps, 64 for longer ones, and at least 2·D; L = H / 2.  The
        decoder has to unroll the whole window from one state, and a long window needs a larger
        one.  Measured (validation loss over the validation windows' variance, LSTM, seed 0,
        1000 steps): art_daily_jumpsup (T = 288) 0.66 at H = 32, 0.32 at H = 64; every window
        of at most 140 steps already reaches 0.04–0.28 at H = 32 (ec2_cpu_utilization, T = 81,
        is the exception at 0.68, and H = 64 or 128 does not help it: 0.73 and 1.0).
        """
        if self.hidden_size == "auto":
            H = max(AUTO_HIDDEN if window_size <= AUTO_LONG_WINDOW else 2 * AUTO_HIDDEN,
                    2 * n_features)
        else:
            H = self.hidden_size
        L = max(1, H // 2) if self.latent_size == "auto" else self.latent_size
        return int(H), int(L)

    def learning_rate(self) -> float:
        """Adam's starting learning rate: ``lr``, or with ``"auto"`` (the default) 1e-3 for the
        plain tanh RNN and 1e-2 for the gated cells and the dense model.

        Measured on the validation-loss ratio (seed 0, the other defaults): the RNN at 1e-2
        ends at 0.77 on ECG200 and 0.73 on nyc_taxi (its loss bounces and the plateau schedule
        halves the rate to its floor), at 1e-3 at 0.21 and 0.08 (machine_temperature 0.49 →
        0.18); the LSTM is better at 1e-2 (art_daily_jumpsup 0.66 vs 0.86 at 1e-3,
        ec2_cpu_utilization 0.68 vs 0.93).
        """
        if self.lr != "auto":
            return float(self.lr)
        return AUTO_LR_RNN if self.cell == "rnn" else AUTO_LR

    # ------------------------------------------------------------------ model
    def _build_model(self, n_features):
        """The autoencoder, initialised from ``seed``; torch = the npae model's weights copied."""
        from .autoencoder import build_autoencoder

        self.hidden_size_, self.latent_size_ = self.model_sizes(self.window_size_, n_features)
        model = build_autoencoder(self.cell, n_features, self.hidden_size_, self.latent_size_,
                                  num_layers=self.num_layers, dropout=self.dropout,
                                  window_size=self.window_size_, dtype=self.dtype, seed=self.seed)
        if self.backend == "torch":  # lazily: torch only for the torch backend
            model = to_torch(model, "backend='torch'")
        return model

    def patience_epochs(self, n_train) -> tuple:
        """``(patience, lr_patience)`` in epochs for ``n_train`` training windows.

        An integer is taken as epochs; ``"auto"`` counts optimiser steps instead: early stopping
        after ``PATIENCE_STEPS`` (500) flat steps, at least 20 epochs; the plateau schedule after
        ``LR_PATIENCE_STEPS`` flat steps (200 for "rnn", 0 for the others), at least 5 epochs.
        An epoch of a small set is 2 steps (ECG200: 55 windows at batch 32), so 5 epochs were
        10 steps.  Measured (seed 0, validation loss over the validation windows' variance):
        the RNN at lr 1e-3 sits on a plateau near 0.8 on ECG200 for about 150 steps; with the
        rate halved after 10, 40 or 100 flat steps it ends there (0.81), after 200 it escapes
        to 0.21.  The LSTM at lr 1e-2 is better off with the quick schedule of 5 epochs:
        art_daily_jumpsup (T = 288, 8 steps an epoch, H = 64) 0.32 against 0.65 with 200
        steps (ec2_cpu_utilization goes the other way, 0.9–1.0 against 0.68, but stays above
        0.5 either way), so only the RNN counts 200 steps.
        """
        spe = steps_per_epoch(n_train, self.batch_size)
        lr_steps = LR_PATIENCE_STEPS.get(self.cell, 0)

        def rule(value, steps, floor):
            if value == "auto":
                return max(floor, -(-steps // spe) if steps else floor)
            return value

        return (rule(self.patience, PATIENCE_STEPS, 20),
                rule(self.lr_patience, lr_steps, 5))

    def _fit_model(self, windows, n_val):
        model = self._build_model(windows.shape[-1])
        self.n_train_windows_ = len(windows) - n_val
        patience, lr_patience = self.patience_epochs(self.n_train_windows_)
        lr = self.learning_rate()
        self.history_ = train_fit(                               # (Det 2)
            model, windows, epochs=self.epochs, batch_size=self.batch_size, lr=lr,
            optimizer=self.optimizer, clip=self.clip,
            val_fraction=n_val / len(windows) if n_val else 0.0,
            patience=patience, seed=self.seed, progress=self.progress,
            desc=f"{self.cell} ({self.backend})", min_steps=self.min_steps,
            max_steps=self.max_steps, lr_patience=lr_patience, lr_factor=self.lr_factor,
            min_lr=lr * MIN_LR_SHARE)
        self.model_ = model

    def _recon_fn(self):
        model = self.model_
        if is_torch_model(model):
            return lambda xb: torch_reconstruct(model, xb, self.score_batch_size)
        return lambda xb: model.reconstruct(xb, self.score_batch_size)


    # ------------------------------------------------------------------ save / load
    FORMAT = FORMAT
    FORMAT_VERSION = FORMAT_VERSION
    READABLE_VERSIONS = READABLE_VERSIONS
    _LEGACY_VERSIONS = (1,)

    def _model_arrays(self) -> dict:
        """The model's state dict as NumPy arrays (torch tensors converted)."""
        return {name: to_numpy(v) for name, v in self.model_.state_dict().items()}

    def _extra_config(self) -> dict:
        return {"history": self.history_.to_dict()}

    def _model_shapes(self, config, what, budget) -> dict:
        """Build the model the config describes (its size checked against the file first)."""
        if "history" not in config:
            raise DataError(f"{what} or is damaged (its config has no 'history')")
        # the weights the config implies, before building the model: at least weight_hh (H, H),
        # the input weights (H, D·T for the dense model, else H, D) and the latent layer (L, H)
        D = self.n_features_in_
        H, L = self.model_sizes(self.window_size_, D)
        inputs = D * self.window_size_ if self.cell == "dense" else D
        need = (H * H + H * inputs + L * H) * self.num_layers * np.dtype(self.dtype).itemsize
        budget.check(need, f"{what}: its config declares a model (n_features_in={D}, "
                           f"hidden_size={H}, latent_size={L}, num_layers={self.num_layers}) of "
                           f"at least {need} bytes of weights")
        self.model_ = self._build_model(D)
        return {k: (v.shape, v.dtype) for k, v in self._model_arrays().items()}

    def _restore_model(self, arrays, config, what) -> None:
        self.history_ = History.from_dict(config["history"])
        model = self.model_
        try:
            if is_torch_model(model):
                from .module import check_state_values

                check_state_values(arrays, {k: np.dtype(self.dtype) if v.dtype.kind == "f"
                                            else v.dtype for k, v in arrays.items()})
                load_torch_state(model, arrays)
            else:
                model.load_state_dict(arrays)
        except (StateDictError, NonFiniteError) as e:
            raise DataError(f"{what} or is damaged ({e})") from None

