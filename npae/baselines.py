"""``PCADetector``: window-PCA reconstruction, the baseline every autoencoder run is shown beside.

    pca = PCADetector(window_size="auto").fit(train_series)
    pca.decision_function(series); pca.score_points(series); pca.predict(series)
    pca.save("pca.npz");  PCADetector.load("pca.npz")

The same scaler, windows, validation split, point aggregation, repair passes and thresholds as
:class:`npae.AnomalyDetector` (both are a :class:`npae.detector.WindowDetector`); only the model
differs.  With the training windows flattened to rows ``X (n, T·D)``::

    (B1) μ = mean of the rows;  X - μ = U S Vᵀ                  (NumPy's thin SVD)
    (B2) k = the fewest components whose S² hold ``variance`` (0.95) of Σ S²
    (B3) x̂ = μ + (x - μ) V_k V_kᵀ                              the reconstruction of a window

It is the "PCA reconstruction (95 % variance)" of the evaluation data's README, and costs one SVD:
if a recurrent autoencoder does not beat it, the autoencoder does not earn its training time.
"""

from __future__ import annotations

import json
import os
import time
import zipfile

import numpy as np

from .data import scaler_from_dict
from .detector import WindowDetector
from .errors import DataError
from .scoring import Threshold

PCA_FORMAT = "npae-pca-detector"
PCA_FORMAT_VERSION = 1

__all__ = ["PCADetector"]


class PCADetector(WindowDetector):
    """Window-PCA reconstruction detector with :class:`npae.AnomalyDetector`'s API.

    ``variance`` (0.95): the share of the training windows' variance the kept components hold
    (B2).  ``window_size`` ("auto"), ``stride``, ``scaler``, ``val_fraction`` (0.2, the latest
    training windows: PCA is fitted without them, the thresholds on them), ``calibration``,
    ``threshold`` / ``q`` / ``k`` / ``contamination``, ``point_threshold``, ``aggregate``,
    ``repair``, ``score_stride``, ``score_batch_size``: as for AnomalyDetector.

    Fitted attributes: ``mean_`` (T·D,), ``components_`` (k, T·D), ``n_components_``,
    ``explained_variance_ratio_`` (k,), ``fit_seconds_``, and the shared ones (``window_size_``,
    ``threshold_``, ``point_threshold_``, ``calibration_``, ``loss_ratio_``, ...).
    """

    _PARAMS = ("window_size", "variance", "threshold", "q", "k", "contamination",
               "point_threshold", "aggregate", "repair", "scaler", "stride", "val_fraction",
               "calibration", "score_batch_size", "score_stride", "dtype")

    def __init__(self, window_size="auto", variance=0.95, threshold="percentile", q=95.0, k=3.0,
                 contamination=0.1, point_threshold="max", aggregate="min", repair=2,
                 scaler="standard", stride=1, val_fraction=0.2, calibration="validation",
                 score_batch_size=4096, score_stride=1, dtype="float64"):
        self.window_size = window_size
        self.variance = variance
        self.threshold = threshold
        self.q = q
        self.k = k
        self.contamination = contamination
        self.point_threshold = point_threshold
        self.aggregate = aggregate
        self.repair = repair
        self.scaler = scaler
        self.stride = stride
        self.val_fraction = val_fraction
        self.calibration = calibration
        self.score_batch_size = score_batch_size
        self.score_stride = score_stride
        self.dtype = dtype
        self._check_params()

    def _check_params(self):
        v = self.variance
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0 < v <= 1:
            raise DataError(f"variance is the share of variance the components keep and must be "
                            f"in (0, 1], got {v!r}")
        self._check_common_params()

    def _fit_model(self, windows, n_val):
        start = time.perf_counter()
        n, T, D = windows.shape
        X = np.asarray(windows[:n - n_val], dtype=np.float64).reshape(n - n_val, T * D)
        mean = X.mean(axis=0)                                               # (B1)
        _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
        energy = S ** 2
        total = energy.sum()
        if total > 0:
            share = np.cumsum(energy) / total
            k = int(np.searchsorted(share, self.variance - 1e-12) + 1)     # (B2)
        else:
            share, k = np.ones(1), 1
        k = min(k, len(S))
        self.mean_ = mean
        self.components_ = Vt[:k]
        self.n_components_ = k
        self.explained_variance_ratio_ = (energy[:k] / total) if total > 0 else np.zeros(k)
        self.model_ = self                   # fitted (the shared code checks model_)
        self.history_ = None
        self.fit_seconds_ = time.perf_counter() - start

    def _recon_fn(self):
        mean, V = self.mean_, self.components_

        def recon(xb):                                                      # (B3)
            b = xb.shape[0]
            flat = np.asarray(xb, dtype=np.float64).reshape(b, -1) - mean
            return ((flat @ V.T) @ V + mean).reshape(xb.shape).astype(xb.dtype, copy=False)

        return recon

    # ------------------------------------------------------------------ save / load
    def save(self, path) -> None:
        """Write the fitted baseline to ``path`` (.npz: arrays + one JSON config, no pickle);
        :meth:`load` gives back the same scores and thresholds."""
        self._check_fitted()
        config = {
            "format": PCA_FORMAT, "format_version": PCA_FORMAT_VERSION,
            "params": self.get_params(), "n_features_in": int(self.n_features_in_),
            "window_size": int(self.window_size_), "windows_input": bool(self.windows_input_),
            "scaler": self.scaler_.to_dict(), "threshold": self.threshold_obj_.to_dict(),
            "point_threshold": self.point_threshold_obj_.to_dict(),
            "calibration": self.calibration_, "loss_ratio": float(self.loss_ratio_),
            "n_val_windows": int(self.n_val_windows_), "fit_seconds": float(self.fit_seconds_),
        }
        arrays = {"mean": self.mean_, "components": self.components_,
                  "explained_variance_ratio": self.explained_variance_ratio_,
                  "decision_scores": np.asarray(self.decision_scores_, dtype=np.float64),
                  "calibration_scores": np.asarray(self.calibration_scores_, dtype=np.float64),
                  "config": np.array(json.dumps(config))}
        if self.train_point_scores_ is not None:
            arrays["train_point_scores"] = np.asarray(self.train_point_scores_, dtype=np.float64)
        if self.calibration_errors_ is not None:
            arrays["calibration_errors"] = np.asarray(self.calibration_errors_, dtype=np.float64)
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "PCADetector":
        """Read a baseline written by :meth:`save`; a bad or foreign file raises DataError."""
        path = os.fspath(path)
        what = f"{path} is not a saved npae PCA detector"
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            config = json.loads(str(arrays["config"]))
            if config.get("format") != PCA_FORMAT or \
                    config.get("format_version") != PCA_FORMAT_VERSION:
                raise DataError(f"{what} (format {config.get('format')!r} version "
                                f"{config.get('format_version')!r})")
            det = cls(**config["params"])
            det.n_features_in_ = int(config["n_features_in"])
            det.window_size_ = int(config["window_size"])
            det.windows_input_ = bool(config["windows_input"])
            det.scaler_ = scaler_from_dict(config["scaler"])
            det.threshold_obj_ = Threshold.from_dict(config["threshold"])
            det.point_threshold_obj_ = Threshold.from_dict(config["point_threshold"])
            det.threshold_ = det.threshold_obj_.value_
            det.point_threshold_ = det.point_threshold_obj_.value_
            det.calibration_ = str(config["calibration"])
            det.loss_ratio_ = float(config["loss_ratio"])
            det.undertrained_ = False
            det.n_val_windows_ = int(config["n_val_windows"])
            det.fit_seconds_ = float(config["fit_seconds"])
            det.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
            det.components_ = np.asarray(arrays["components"], dtype=np.float64)
            det.explained_variance_ratio_ = np.asarray(arrays["explained_variance_ratio"])
            det.n_components_ = len(det.components_)
            det.decision_scores_ = arrays["decision_scores"]
            det.calibration_scores_ = arrays["calibration_scores"]
            det.train_point_scores_ = arrays.get("train_point_scores")
            det.calibration_errors_ = arrays.get("calibration_errors")
            if det.components_.shape[1:] != det.mean_.shape or \
                    det.mean_.shape != (det.window_size_ * det.n_features_in_,):
                raise DataError("the components do not fit the window")
        except FileNotFoundError:
            raise DataError(f"no such detector file: {path}") from None
        except DataError as e:
            raise DataError(str(e) if str(e).startswith(what) else f"{what} or is damaged ({e})") \
                from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as e:
            raise DataError(f"{what} or is damaged ({type(e).__name__}: {e}); save it again with "
                            f"PCADetector.save") from None
        det.model_ = det
        det.history_ = None
        return det

    def __repr__(self):
        fitted = "" if getattr(self, "model_", None) is None else \
            f" (fitted: T={self.window_size_}, {self.n_components_} components)"
        return f"PCADetector(window_size={self.window_size!r}, variance={self.variance:g}){fitted}"
