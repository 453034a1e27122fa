"""``AnomalyDetector``: a recurrent autoencoder turned into a detector with PyOD-like conventions.

    det = AnomalyDetector(cell="lstm", window_size=50, seed=42).fit(train_series)
    det.decision_function(series)   # (n,)  window scores: the tutorial's reconstruction MSE
    det.score_points(series)        # (N,)  one score per point
    det.predict(series)             # (N,)  True = anomalous point
    det.save("det.npz");  AnomalyDetector.load("det.npz")

The data path (shape glossary: N points, D features, T = ``window_size``, n = N - T + 1 windows
when scoring)::

    (D1) series (N, D) ─► scaler fitted on the training windows, per feature ─► x (N, D)
    (D2) training windows (stride ``stride``) ─► npae.train.fit ─► model
    (D3) every window x_i = x[i : i+T], its reconstruction x̂_i, squared errors
         e_i = (x̂_i - x_i)²  (T, D)              per step and feature
    (D4) window score  s_i = mean_{t,d} e_i[t, d]   (the tutorial's)  ─► threshold_ ─► window flags
    (D5) point score   p_j = agg_{i: i ≤ j < i+T} mean_d e_i[j - i, d]   agg = min (default) | mean | max
    (D6) point flags   p_j > point_threshold_

Why ``min`` in (D5): a point is then only as anomalous as the *cleanest* window that contains it,
so a spike scores high on its own points but not on the T - 1 normal points around it that share
windows with it.  The tutorial's alternative — flag a window, mark all its T points — predicts 50
points for a 10-point spike, hence its F1 of about 0.33.

Repair passes (``repair``, default 2).  ``min`` fails in one place: a normal point whose every
covering window also contains an anomaly (two spikes less than T apart), because an autoencoder
reconstructs a whole window badly when part of it is abnormal.  After (D6) the flagged points are
therefore *repaired* — replaced by the model's own reconstruction (the mean over the windows
covering them) — and the affected windows are reconstructed again, errors still measured against
the original values:

    (R1) x'_j = x̄̂_j if p_j > θ else x_j        (x̄̂_j: mean reconstruction of point j)
    (R2) e'_i = (f(x'_i) - x_i)²                 only windows near a repaired point are re-run
    (R3) p'_j from e' as in (D5); repeat while the flags change, at most ``repair`` times

A true anomaly keeps a high score (its repaired neighbourhood is reconstructed as normal, far from
its real value), while the normal points between two anomalies are now reconstructed from clean
windows.  It is the masking idea of Donut's missing-data imputation (Xu et al., WWW 2018),
without the MCMC.  Measured on the demo's data (50 epochs, float32): with seed 42, whose spikes at
373/421 and 615/657 are closer than a window, the LSTM's point F1 goes from 0.83 (no repair) to
0.95 (one pass) and 0.98 (two); over seeds 0–4 and 42 it is 0.98–1.0 with two passes (0.83–1.0
without), for the RNN 0.98–1.0 (0.94–1.0 without).  Window scores (D4) never use it: they stay
the tutorial's.

The point threshold (``point_threshold``, default ``"max"``) is fitted on the *training* point
scores: the largest one.  The training series is taken to be normal, so anything the model
reconstructs worse than every training point is flagged.  A percentile such as the tutorial's 95
would flag 5 % of normal points by construction; the distribution of ``min`` scores is too skewed
(median ~1e-5, tail ~1e-1) for median + k·MAD to work.  Other rules: ``"percentile:99.9"``,
``"mad:6"``, ``"mean_std:5"``, ``"contamination:0.01"`` (see :class:`npae.scoring.Threshold`).

Scoring runs the model on ``score_batch_size`` windows at a time and folds each batch into the
(N,) accumulators at once, so memory grows with the batch and N·D, not with N·T.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .data import make_scaler, scaler_from_dict, sliding_windows
from .errors import (DataError, NonFiniteError, NotFittedError, NpaeError, ShapeError,
                     StateDictError, import_reference)
from .io import atomic_file
from .scoring import THRESHOLD_METHODS, Threshold, fold_window_errors, point_accumulator
from .train import History, fit as train_fit, is_torch_model

__all__ = ["AnomalyDetector", "Detection", "parse_threshold", "FORMAT", "FORMAT_VERSION",
           "CELLS", "BACKENDS", "AGGREGATES"]

FORMAT = "npae-detector"
FORMAT_VERSION = 1
CELLS = ("lstm", "rnn")
BACKENDS = ("numpy", "torch")
AGGREGATES = ("min", "mean", "max")


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

    window_scores (n,), window_flags (n,) bool   (D4), the plain pass
    point_scores (N,), point_flags (N,) bool     (D5)–(D6), after the repair passes
    feature_errors (N, D)                        each feature's error, aggregated as point_scores
    threshold, point_threshold                   the two thresholds applied
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
    windows: np.ndarray | None = None
    reconstructions: np.ndarray | None = None
    step_errors: np.ndarray | None = None


def _window_hits(mask, T, stride=1):
    """(n,) bool: which windows (length T, ``stride`` apart) contain a True of the (N,) ``mask``."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    starts = np.arange(0, len(mask) - T + 1, stride)
    return c[starts + T] - c[starts] > 0


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


def _accumulate(recon_fn, x_in, x_target, T, stride, how, window_idx, batch_size, keep=None):
    """(D3)–(D5) for the windows ``window_idx`` (sorted int array) of the series ``x_in (N, D)``.

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
        if not np.isfinite(rec).all():
            raise NonFiniteError("the model's reconstruction holds NaN or infinity; the model "
                                 "diverged in training: retrain with a lower lr or with clip")
        err = (rec.astype(np.float64) - tb.astype(np.float64)) ** 2   # (D3) (b, T, D)
        step = err.mean(axis=2)                                         # (b, T)
        wscore[s:s + len(w)] = step.mean(axis=1)                        # (D4)
        if keep is not None:
            keep["windows"][w] = tb
            keep["reconstructions"][w] = rec
            keep["step_errors"][w] = err
        first = w * stride                                              # (D5), streamed
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
                 batch_size=1024, keep_windows=False, dtype=np.float32):
    """Score a scaled series ``x (N, D)`` with a reconstruction function ``(b, T, D) → (b, T, D)``.

    Windows start every ``stride`` points.  Returns ``(window_scores (n,), point_scores (N,),
    feature_errors (N, D), passes, keep)``: (D3)–(D5), then, when ``point_threshold`` is given,
    up to ``repair`` passes (R1)–(R3).  ``keep`` holds the plain pass's (n, T, D) arrays with
    ``keep_windows=True``, else None.  Points no window covers (the last ``< stride`` ones) take
    the values of the last covered point.
    """
    x = np.ascontiguousarray(x, dtype=dtype)
    N, D = x.shape
    n = (N - T) // stride + 1
    keep = None
    if keep_windows:
        keep = {k: np.empty((n, T, D), dtype=np.float64 if k == "step_errors" else dtype)
                for k in ("windows", "reconstructions", "step_errors")}
    nearest = _nearest_covered(N, T, stride, n)
    wscore, point, feat, rec_mean = _accumulate(recon_fn, x, x, T, stride, how, np.arange(n),
                                                batch_size, keep)
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
        x_rep[flags] = rec_mean[flags].astype(dtype)                    # (R1)
        changed = flags | previous
        affected = _window_hits(changed, T, stride)        # windows whose input changed
        points = _covered_points(affected, N, T, stride)   # points whose score may change
        rerun = np.flatnonzero(_window_hits(points, T, stride))  # all windows covering them
        _, p2, f2, r2 = _accumulate(recon_fn, x_rep, x, T, stride, how, rerun, batch_size)  # (R2)
        point[points], feat[points], rec_mean[points] = p2[points], f2[points], r2[points]
        point, feat, rec_mean = point[nearest], feat[nearest], rec_mean[nearest]
        passes += 1
        previous = flags
        flags = point > point_threshold                                  # (R3)
        if np.array_equal(flags, previous):
            break
    return wscore, point, feat, passes, keep


# ---------------------------------------------------------------------------------------------
# The detector
# ---------------------------------------------------------------------------------------------

def _as_series(series, name="series") -> np.ndarray:
    """(N, D) float64 copy-free view of a (N,) or (N, D) numeric, finite series."""
    if hasattr(series, "to_numpy"):  # a pandas object, without importing pandas
        series = series.to_numpy()
    arr = np.asarray(series)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{name} must have shape (N,) or (N, D), got {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        first = np.argwhere(~np.isfinite(arr))[0]
        where = f"row {first[0]}" + (f", feature {first[1]}" if arr.ndim == 2 else "")
        raise NonFiniteError(f"{name} holds NaN or infinity (first at {where}); fill or drop "
                             f"missing values first (e.g. forward-fill or interpolate)")
    return arr.reshape(len(arr), -1)


# ---------------------------------------------------------------------------------------------
# Reading a saved detector, defensively
# ---------------------------------------------------------------------------------------------

LOAD_INFLATION = 64          # np.savez stores members uncompressed: a real file inflates ~1x
MAX_CONFIG_CHARS = 1 << 22   # 4 Mi characters of JSON (the history of a very long training)
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OSError, EOFError, RuntimeError,
                 NotImplementedError, OverflowError, RecursionError, SyntaxError,
                 zipfile.BadZipFile, zlib.error, struct.error)


class _Budget:
    """How many bytes a load may still inflate: ``LOAD_INFLATION`` × the file size + 1 MiB."""

    def __init__(self, file_size):
        self.left = LOAD_INFLATION * int(file_size) + (1 << 20)

    def check(self, nbytes, message):
        if nbytes > self.left:
            raise DataError(f"{message}, more than a file of this size can hold; it is damaged "
                            f"or not written by AnomalyDetector.save")

    def take(self, nbytes, message):
        self.check(nbytes, message)
        self.left -= nbytes


def _read_npy(zf, name, what, budget, *, shape=None, ndim=None, kinds="f", max_bytes=None):
    """One ``.npy`` member as an array, its header checked before any data is inflated."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise DataError(f"{what} or is damaged (it has no {name!r})") from None
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shp, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10000)
        elif version == (2, 0):
            shp, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10000)
        else:
            raise DataError(f"{what} or is damaged ({name}: .npy format {version})")
        if dtype.hasobject or dtype.kind not in kinds:
            raise DataError(f"{what} or is damaged ({name} holds {dtype} data)")
        if (shape is not None and tuple(shp) != tuple(shape)) or (ndim is not None and len(shp) != ndim):
            want = shape if shape is not None else f"{ndim} dimension(s)"
            raise DataError(f"{what} or is damaged ({name} has shape {shp}; expected {want})")
        nbytes = math.prod(shp) * dtype.itemsize
        if max_bytes is not None and nbytes > max_bytes:
            raise DataError(f"{what} or is damaged ({name} declares {nbytes} bytes, more than "
                            f"{max_bytes})")
        budget.take(nbytes, f"{what}: {name} declares shape {shp} ({nbytes} bytes)")
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise DataError(f"{what} or is damaged ({name} is truncated)")
    return np.frombuffer(data, dtype=dtype).reshape(shp, order="F" if fortran else "C")


def _finite_float(text):
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"number {text[:40]!r} is out of range")
    return v


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number npae writes")


def _read_config(zf, what, budget) -> dict:
    """The JSON config member: a unicode scalar, parsed with NaN/inf and huge numbers refused."""
    if "config.npy" not in zf.namelist():
        raise DataError(f"{what}: it has no JSON 'config' entry")
    arr = _read_npy(zf, "config.npy", what, budget, ndim=0, kinds="U",
                    max_bytes=4 * MAX_CONFIG_CHARS)
    try:
        config = json.loads(str(arr[()]), parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise DataError(f"{what}: its config is not valid JSON ({type(e).__name__}: "
                        f"{str(e)[:200]})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DataError(f"{what}: its config does not say format {FORMAT!r}")
    return config


class AnomalyDetector:
    """Recurrent-autoencoder anomaly detector for a series (N,) or (N, D).

    Model and training (the tutorial's defaults): ``cell`` "lstm" | "rnn", ``window_size`` T,
    ``hidden_size``, ``latent_size``, ``epochs``, ``batch_size``, ``lr``, ``optimizer`` "adam" |
    "sgd", ``clip``, ``val_fraction``, ``patience`` (see :func:`npae.train.fit`), ``stride`` of
    the training windows, ``scaler`` "standard" | "minmax" | "none" (per feature, fitted on the
    training windows), ``score_stride`` (step between the scored windows: 1 scores every
    window, larger is proportionally faster on long series; at most ``window_size``), ``backend`` "numpy" (npae) | "torch" (``reference``), ``dtype``, ``seed``
    (initial weights and batch order: the same seed gives the same initial weights on both
    backends), ``progress`` (a bar per epoch).

    Window threshold (D4): ``threshold`` = "percentile" (``q``, default 95: the tutorial's),
    "mean_std" / "mad" (``k``) or "contamination" (``contamination``), fitted on the training
    window scores.  Point threshold (D6): ``point_threshold`` (default "max", see the module
    docstring), ``aggregate`` (D5) and ``repair`` (R1)–(R3).

    Fitted attributes: ``model_``, ``scaler_``, ``history_`` (:class:`npae.train.History`),
    ``decision_scores_`` (window scores of the training series), ``train_point_scores_``,
    ``threshold_`` (window level), ``point_threshold_`` (point level), ``n_features_in_``.
    """

    def __init__(self, cell="lstm", window_size=50, hidden_size=32, latent_size=16, epochs=50,
                 batch_size=32, lr=1e-3, threshold="percentile", q=95.0, k=3.0,
                 contamination=0.1, point_threshold="max", aggregate="min", repair=2,
                 scaler="standard", stride=1, optimizer="adam", clip=None, val_fraction=0.0,
                 patience=None, backend="numpy", dtype="float32", seed=None,
                 score_batch_size=1024, score_stride=1, progress=False):
        self.cell = cell
        self.window_size = window_size
        self.hidden_size = hidden_size
        self.latent_size = latent_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.threshold = threshold
        self.q = q
        self.k = k
        self.contamination = contamination
        self.point_threshold = point_threshold
        self.aggregate = aggregate
        self.repair = repair
        self.scaler = scaler
        self.stride = stride
        self.optimizer = optimizer
        self.clip = clip
        self.val_fraction = val_fraction
        self.patience = patience
        self.backend = backend
        self.dtype = dtype
        self.seed = seed
        self.score_batch_size = score_batch_size
        self.score_stride = score_stride
        self.progress = progress
        self._check_params()

    # ------------------------------------------------------------------ parameters
    _PARAMS = ("cell", "window_size", "hidden_size", "latent_size", "epochs", "batch_size", "lr",
               "threshold", "q", "k", "contamination", "point_threshold", "aggregate", "repair",
               "scaler", "stride", "optimizer", "clip", "val_fraction", "patience", "backend",
               "dtype", "seed", "score_batch_size", "score_stride", "progress")

    def get_params(self) -> dict:
        """The constructor arguments (JSON-able), as scikit-learn / PyOD estimators give them."""
        return {p: getattr(self, p) for p in self._PARAMS}

    def set_params(self, **params) -> "AnomalyDetector":
        unknown = set(params) - set(self._PARAMS)
        if unknown:
            raise DataError(f"unknown parameter(s) {sorted(unknown)}; valid: {', '.join(self._PARAMS)}")
        old = {name: getattr(self, name) for name in params}
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self._check_params()
        except BaseException:  # an invalid value is never left in the detector
            for name, value in old.items():
                setattr(self, name, value)
            raise
        return self

    def _check_params(self):
        def pos_int(name, low=1):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise DataError(f"{name} must be an integer >= {low}, got {v!r}")
            setattr(self, name, int(v))

        if self.cell not in CELLS:
            raise DataError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.backend not in BACKENDS:
            raise DataError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.aggregate not in AGGREGATES:
            raise DataError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        pos_int("window_size", 2)
        for name in ("hidden_size", "latent_size", "epochs", "batch_size", "stride",
                     "score_batch_size", "score_stride"):
            pos_int(name)
        pos_int("repair", 0)
        if self.seed is not None:
            pos_int("seed", 0)
        if self.score_stride > self.window_size:
            raise DataError(f"score_stride ({self.score_stride}) must be at most window_size "
                            f"({self.window_size}): a larger step leaves points that no scored "
                            f"window covers")
        try:
            dtype = str(np.dtype(self.dtype))
        except TypeError:
            dtype = None
        if dtype not in ("float32", "float64"):
            raise DataError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        self.dtype = dtype  # a plain string: the config is saved as JSON
        self._window_threshold()  # validates threshold / q / k / contamination
        parse_threshold(self.point_threshold)
        make_scaler(self.scaler)

    def _window_threshold(self) -> Threshold:
        if not isinstance(self.threshold, str) or self.threshold not in THRESHOLD_METHODS:
            raise DataError(f"threshold must be one of {sorted(THRESHOLD_METHODS)}, "
                            f"got {self.threshold!r}")
        pname = THRESHOLD_METHODS[self.threshold][0]
        return Threshold(self.threshold, **{pname: getattr(self, pname)})

    # ------------------------------------------------------------------ model
    def _build_model(self, n_features):
        """The autoencoder, initialised from ``seed``; torch = the npae model's weights copied."""
        from . import autoencoder

        cls = autoencoder.LSTMAutoencoder if self.cell == "lstm" else autoencoder.RNNAutoencoder
        model = cls(n_features, self.hidden_size, self.latent_size, dtype=self.dtype, seed=self.seed)
        if self.backend == "torch":  # lazily: torch only for the torch backend
            model = import_reference("backend='torch'").to_torch(model)
        return model

    def _recon_fn(self):
        model = self.model_
        if is_torch_model(model):
            from reference.train import reconstruct

            return lambda xb: reconstruct(model, xb, self.score_batch_size)
        return lambda xb: model.reconstruct(xb, self.score_batch_size)

    def _check_fitted(self):
        if getattr(self, "model_", None) is None:
            raise NotFittedError("this AnomalyDetector is not fitted yet: call fit(train_series) "
                                 "or AnomalyDetector.load(path) first")

    def _scaled(self, series, name="series"):
        x = _as_series(series, name)
        if x.shape[1] != self.n_features_in_:
            raise ShapeError(f"{name} has {x.shape[1]} feature(s), but the detector was fitted on "
                             f"{self.n_features_in_}; pass the same columns as in training")
        if len(x) < self.window_size:
            raise DataError(f"{name} has {len(x)} points, fewer than one window "
                            f"(window_size={self.window_size}); pass a longer series")
        return self.scaler_.transform(x)

    # ------------------------------------------------------------------ fit
    def fit(self, series, y=None) -> "AnomalyDetector":
        """Train on ``series`` (N,) or (N, D), taken to be normal; fit scaler and thresholds.

        ``y`` is ignored (unsupervised; accepted for scikit-learn compatibility).
        """
        self._check_params()
        x = _as_series(series, "training series")
        T = self.window_size
        if len(x) < T:
            raise DataError(f"the training series has {len(x)} points, fewer than one window "
                            f"(window_size={T}); use a longer series or a smaller window")
        self.n_features_in_ = x.shape[1]
        scaler = make_scaler(self.scaler)
        scaler.fit(sliding_windows(x, T))                       # (D1) on the training windows
        self.scaler_ = scaler
        xs = scaler.transform(x)
        windows = sliding_windows(xs, T, self.stride)
        model = self._build_model(x.shape[1])
        self.history_ = train_fit(                               # (D2)
            model, windows, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            optimizer=self.optimizer, clip=self.clip, val_fraction=self.val_fraction,
            patience=self.patience, seed=self.seed, progress=self.progress,
            desc=f"{self.cell} ({self.backend})")
        self.model_ = model
        wscore, point, _, _, _ = score_series(self._recon_fn(), xs, T, stride=self.score_stride,
                                              how=self.aggregate,
                                              batch_size=self.score_batch_size, dtype=self.dtype)
        self.decision_scores_ = wscore
        self.train_point_scores_ = point
        self._fit_thresholds()
        return self

    def _fit_thresholds(self):
        self.threshold_obj_ = self._window_threshold()
        self.threshold_ = self.threshold_obj_.fit(self.decision_scores_)
        self.point_threshold_obj_ = parse_threshold(self.point_threshold)
        self.point_threshold_ = self.point_threshold_obj_.fit(self.train_point_scores_)

    def set_threshold(self, threshold=None, point_threshold=None, **param) -> "AnomalyDetector":
        """Re-fit the thresholds on the stored training scores, without retraining.

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
    def detect(self, series, keep_windows=False) -> Detection:
        """Score ``series`` once and return every score, flag and (optionally) window array."""
        self._check_fitted()
        xs = self._scaled(series)
        wscore, point, feat, passes, keep = score_series(
            self._recon_fn(), xs, self.window_size, stride=self.score_stride, how=self.aggregate,
            point_threshold=self.point_threshold_, repair=self.repair,
            batch_size=self.score_batch_size, keep_windows=keep_windows, dtype=self.dtype)
        keep = keep or {}
        return Detection(
            window_scores=wscore, window_flags=wscore > self.threshold_,
            point_scores=point, point_flags=point > self.point_threshold_,
            feature_errors=feat, threshold=float(self.threshold_),
            point_threshold=float(self.point_threshold_), repair_passes=passes,
            windows=keep.get("windows"), reconstructions=keep.get("reconstructions"),
            step_errors=keep.get("step_errors"))

    def decision_function(self, series) -> np.ndarray:
        """(n,) window scores (D4); window i = points i·s … i·s + T - 1 (s = ``score_stride``,
        n = (N - T) // s + 1); higher = worse."""
        self._check_fitted()
        xs = self._scaled(series)
        return score_series(self._recon_fn(), xs, self.window_size, stride=self.score_stride,
                            how=self.aggregate,
                            batch_size=self.score_batch_size, dtype=self.dtype)[0]

    def score_points(self, series) -> np.ndarray:
        """(N,) point scores (D5) after the repair passes (R1)–(R3)."""
        return self.detect(series).point_scores

    def feature_errors(self, series) -> np.ndarray:
        """(N, D) per-point, per-feature errors: which feature makes a point anomalous."""
        return self.detect(series).feature_errors

    def predict(self, series) -> np.ndarray:
        """(N,) bool, True for anomalous points: ``score_points(series) > point_threshold_``."""
        return self.detect(series).point_flags

    def predict_windows(self, series) -> np.ndarray:
        """(n,) bool, True for windows scoring above ``threshold_`` (the tutorial's flags)."""
        return self.decision_function(series) > self.threshold_

    def reconstruct(self, series) -> tuple:
        """``(windows, reconstructions)``, each (n, T, D) in scaled units (memory n·T·D)."""
        d = self.detect(series, keep_windows=True)
        return d.windows, d.reconstructions

    # ------------------------------------------------------------------ save / load
    def _state_arrays(self) -> dict:
        state = self.model_.state_dict()
        out = {}
        for name, v in state.items():
            out[name] = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        return out

    def save(self, path) -> None:
        """Write the fitted detector to ``path`` (.npz: weights as arrays + one JSON config).

        No pickle: :meth:`load` reads it with ``allow_pickle=False``.  A numpy-backend detector
        reloads bit-identically (same weights, scaler and thresholds, so the same scores).  The
        file is written to an exclusive temporary file beside ``path`` and renamed
        (:func:`npae.io.atomic_file`): an existing file is replaced whole or not at all.
        """
        self._check_fitted()
        from . import __version__

        config = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "npae_version": __version__,
            "params": self.get_params(), "n_features_in": int(self.n_features_in_),
            "scaler": self.scaler_.to_dict(),
            "threshold": self.threshold_obj_.to_dict(),
            "point_threshold": self.point_threshold_obj_.to_dict(),
            "history": self.history_.to_dict(),
            "model_keys": list(self._state_arrays()),
        }
        arrays = {f"model/{k}": v for k, v in self._state_arrays().items()}
        arrays["decision_scores"] = np.asarray(self.decision_scores_, dtype=np.float64)
        arrays["train_point_scores"] = np.asarray(self.train_point_scores_, dtype=np.float64)
        arrays["config"] = np.array(json.dumps(config))
        with atomic_file(os.fspath(path), "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> "AnomalyDetector":
        """Read a detector written by :meth:`save`; a bad, foreign or hostile file raises
        :class:`~npae.errors.DataError` (never another exception, never unbounded memory).

        Only the members the format defines are read (``config``, ``decision_scores``,
        ``train_point_scores`` and ``model/<key>`` for the model's own keys); each ``.npy``
        header is checked (dtype, shape against the config) before its data is inflated, and
        everything inflated together is capped at ``LOAD_INFLATION`` times the file's size.
        The config's sizes are checked against the file before the model is built, and every
        value is validated here (scaler statistics, thresholds, scores, finite weights) rather
        than failing later on the user's data.
        """
        path = os.fspath(path)
        what = f"{path} is not a saved npae detector"
        magic = b""
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                magic = fh.read(6)
            zf = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise DataError(f"no such detector file: {path}") from None
        except IsADirectoryError:
            raise DataError(f"{path} is a folder; pass the .npz file AnomalyDetector.save "
                            f"wrote") from None
        except _PARSE_ERRORS as e:
            if magic == b"\x93NUMPY":
                raise DataError(f"{what} (it is a single .npy array, not an .npz archive)") from None
            raise DataError(f"{what} or is damaged ({type(e).__name__}: {e}); save it again with "
                            f"AnomalyDetector.save") from None
        try:
            with zf:
                return cls._load_members(zf, path, what, _Budget(size))
        except DataError:
            raise
        except (NpaeError, *_PARSE_ERRORS) as e:
            raise DataError(f"{what} or is damaged ({type(e).__name__}: {e})") from None

    @classmethod
    def _load_members(cls, zf, path, what, budget) -> "AnomalyDetector":
        config = _read_config(zf, what, budget)
        version = config.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(
                f"{path} was saved in detector format version {version!r} (npae "
                f"{config.get('npae_version', '?')}); this npae reads version {FORMAT_VERSION}. "
                f"Load it with the npae version that saved it, or retrain and save again")
        for key in ("params", "n_features_in", "scaler", "threshold", "point_threshold",
                    "history", "model_keys"):
            if key not in config:
                raise DataError(f"{what} or is damaged (its config has no {key!r})")
        params = config["params"]
        if not isinstance(params, dict) or set(params) - set(cls._PARAMS):
            raise DataError(f"{what} or is damaged (its config's params are not "
                            f"AnomalyDetector's: {sorted(set(params) - set(cls._PARAMS))})"
                            if isinstance(params, dict) else f"{what}: params is not a dict")
        det = cls(**params)  # validates every parameter (DataError)
        D = config["n_features_in"]
        if isinstance(D, bool) or not isinstance(D, int) or D < 1:
            raise DataError(f"{what} or is damaged (n_features_in must be a positive integer, "
                            f"got {D!r:.40})")
        # the weights the config implies, before building the model: at least weight_hh (H, H),
        # the input weights (H, D) and the latent layer (L, H), whatever the cell
        H, L = det.hidden_size, det.latent_size
        need = (H * H + H * D + L * H) * np.dtype(det.dtype).itemsize
        budget.check(need, f"{what}: its config declares a model (n_features_in={D}, "
                           f"hidden_size={H}, latent_size={L}) of at least {need} bytes of weights")
        det.n_features_in_ = D
        det.scaler_ = scaler_from_dict(config["scaler"])
        det.scaler_.check_shape(D, det.window_size)
        det.history_ = History.from_dict(config["history"])
        det.threshold_obj_ = Threshold.from_dict(config["threshold"])
        det.point_threshold_obj_ = Threshold.from_dict(config["point_threshold"])
        det.threshold_ = det.threshold_obj_.value_
        det.point_threshold_ = det.point_threshold_obj_.value_
        if det.threshold_ is None or det.point_threshold_ is None:
            raise DataError(f"{what}: its thresholds are missing")
        model = det._build_model(D)
        if is_torch_model(model):
            shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        else:
            shapes = {k: p.data.shape for k, p in model.named_parameters()}
        stored = sorted(n[len("model/"):-len(".npy")] for n in zf.namelist()
                        if n.startswith("model/") and n.endswith(".npy"))
        if config["model_keys"] != list(shapes) or stored != sorted(shapes):
            raise DataError(f"{what} or is damaged (the weights stored do not match a "
                            f"{det.cell} autoencoder's: {', '.join(shapes)})")
        state = {k: _read_npy(zf, f"model/{k}.npy", what, budget, shape=shapes[k], kinds="f")
                 for k in shapes}
        for name in ("decision_scores", "train_point_scores"):
            scores = _read_npy(zf, f"{name}.npy", what, budget, ndim=1, kinds="f")
            if scores.size == 0 or not np.isfinite(scores).all():
                raise DataError(f"{what}: its {name} are empty or hold NaN or infinity")
            setattr(det, f"{name}_", scores.astype(np.float64))
        try:
            if is_torch_model(model):
                import torch

                from .module import check_state_values

                check_state_values(state, {k: np.dtype(det.dtype) for k in state})
                model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
            else:
                model.load_state_dict(state)
        except (StateDictError, NonFiniteError) as e:
            raise DataError(f"{what} or is damaged ({e})") from None
        det.model_ = model
        return det

    def __repr__(self):
        changed = {k: v for k, v in self.get_params().items()
                   if v != AnomalyDetector.__init__.__defaults__[self._PARAMS.index(k)]}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        fitted = "" if getattr(self, "model_", None) is None else " (fitted)"
        return f"AnomalyDetector({args}){fitted}"
