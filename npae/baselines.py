"""``PCADetector``: window-PCA reconstruction, the baseline every autoencoder run is shown beside.

    pca = PCADetector(window_size="auto").fit(train_series)
    pca.decision_function(series); pca.score_points(series); pca.predict(series)
    pca.save("pca.npz");  PCADetector.load("pca.npz")

The same scaler, windows, validation split, point aggregation, repair passes and thresholds as
:class:`npae.AnomalyDetector` (both are a :class:`npae.detector.WindowDetector`); only the model
differs.  With the training windows flattened to rows ``X (n, T·D)``::

    (PCA 1) μ = mean of the rows;  X - μ = U S Vᵀ                  (NumPy's thin SVD)
    (PCA 2) k = the fewest components whose S² hold ``variance`` (0.95) of Σ S²
    (PCA 3) x̂ = μ + (x - μ) V_k V_kᵀ                              the reconstruction of a window

It is the "PCA reconstruction (95 % variance)" of the evaluation data's README, and costs one SVD:
if a recurrent autoencoder does not beat it, the autoencoder does not earn its training time.
"""

from __future__ import annotations

import time

import numpy as np

from ._checks import check_finite, is_int
from .detector import WindowDetector
from .errors import DataError

PCA_FORMAT = "npae-pca-detector"
PCA_FORMAT_VERSION = 1

__all__ = ["PCADetector"]


class PCADetector(WindowDetector):
    """Window-PCA reconstruction detector with :class:`npae.AnomalyDetector`'s API.

    ``variance`` (0.95): the share of the training windows' variance the kept components hold
    (PCA 2).  ``window_size`` ("auto"), ``stride``, ``scaler``, ``val_fraction`` (0.2, the latest
    training windows: PCA is fitted without them, the thresholds on them), ``calibration``,
    ``threshold`` / ``q`` / ``k`` / ``contamination``, ``point_threshold``, ``aggregate``,
    ``repair``, ``score_stride``, ``score_batch_size``: as for AnomalyDetector.

    Fitted attributes: ``mean_`` (T·D,), ``components_`` (k, T·D), ``n_components_``,
    ``explained_variance_ratio_`` (k,), ``fit_seconds_``, and the shared ones (``window_size_``,
    ``threshold_``, ``point_threshold_``, ``calibration_``, ``loss_ratio_``, ...).
    """


    def __init__(self, window_size="auto", variance=0.95, threshold="percentile", q=95.0, k=3.0,
                 contamination=0.1, point_threshold="max", aggregate="min", repair=2,
                 scaler="standard", stride=1, val_fraction=0.2, calibration="validation",
                 score_batch_size=4096, score_stride=1, dtype="float64"):
        self._store_params(locals())

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
        mean = X.mean(axis=0)                                               # (PCA 1)
        _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
        energy = S ** 2
        total = energy.sum()
        if total > 0:
            share = np.cumsum(energy) / total
            k = int(np.searchsorted(share, self.variance - 1e-12) + 1)     # (PCA 2)
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

        def recon(xb):                                                      # (PCA 3)
            b = xb.shape[0]
            flat = np.asarray(xb, dtype=np.float64).reshape(b, -1) - mean
            return ((flat @ V.T) @ V + mean).reshape(xb.shape).astype(xb.dtype, copy=False)

        return recon

    # ------------------------------------------------------------------ save / load
    # WindowDetector.save / .load, the same hardened format as AnomalyDetector's; the model's
    # arrays are the mean, the components and their variance shares.
    FORMAT = PCA_FORMAT
    FORMAT_VERSION = PCA_FORMAT_VERSION
    READABLE_VERSIONS = (PCA_FORMAT_VERSION,)
    _KIND = "PCA detector"

    def _model_arrays(self) -> dict:
        return {"mean": self.mean_, "components": self.components_,
                "explained_variance_ratio": self.explained_variance_ratio_}

    def _extra_config(self) -> dict:
        return {"n_components": int(self.n_components_), "n_val_windows": int(self.n_val_windows_),
                "fit_seconds": float(self.fit_seconds_)}

    def _model_shapes(self, config, what, budget) -> dict:
        k, width = config.get("n_components"), self.window_size_ * self.n_features_in_
        if not is_int(k, 1) or k > width:
            raise DataError(f"{what} or is damaged (n_components must be in 1 … {width}, "
                            f"got {k!r:.40})")
        f8 = np.dtype(np.float64)
        return {"mean": ((width,), f8), "components": ((k, width), f8),
                "explained_variance_ratio": ((k,), f8)}

    def _restore_model(self, arrays, config, what) -> None:
        for name, arr in arrays.items():
            check_finite(arr, f"{what}: its {name}", verb="hold", where=None, error=DataError)
        self.mean_ = arrays["mean"].astype(np.float64)
        self.components_ = arrays["components"].astype(np.float64)
        self.explained_variance_ratio_ = arrays["explained_variance_ratio"].astype(np.float64)
        self.n_components_ = len(self.components_)
        self.n_val_windows_ = int(config.get("n_val_windows", 0))
        self.fit_seconds_ = float(config.get("fit_seconds", 0.0))
        self.model_ = self
        self.history_ = None

