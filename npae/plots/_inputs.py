"""What the figure functions accept, checked and converted once: series, vectors, masks, windows.

Malformed input (a label mask of the wrong length, windows that are not 2-D or 3-D) raises
:class:`npae.errors.ShapeError` with what to pass instead; missing or empty input becomes None
or an empty array, which the figures turn into a sentence, never an exception.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def _as_series(series, name="series"):
    """``series`` as a float array (N, D)."""
    s = np.asarray(series, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ShapeError(f"{name} must have shape (N,) or (N, D), got {s.shape}; "
                         "pass one column per feature")
    return s


def _as_vector(x, name):
    """``x`` as a float vector; a scalar becomes length 1."""
    if np.ndim(x) > 1:
        raise ShapeError(f"{name} must be one-dimensional, got shape {np.shape(x)}")
    return np.asarray(x, dtype=float).reshape(-1)


def _seq(d, key):
    """``d[key]`` as a float vector, empty when missing or None."""
    v = d.get(key) if d else None
    return np.zeros(0) if v is None else np.asarray(v, dtype=float).reshape(-1)


def _as_mask(mask, n, name):
    """``mask`` as a bool array (n,), or None when it is None or empty (no labels given)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.size == 0:
        return None
    m = m.reshape(-1) if m.ndim <= 1 else m
    if m.ndim != 1 or m.shape[0] != n:
        raise ShapeError(f"{name} must be a boolean array of length {n} (one value per point "
                         f"or window plotted), got shape {np.shape(mask)}")
    return m.astype(bool)


def _as_windows(windows, name="windows"):
    """``windows`` as a float array (n, T, D); (n, T) is read as D = 1."""
    w = np.asarray(windows, dtype=float)
    if w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3:
        raise ShapeError(f"{name} must have shape (n, T) or (n, T, D), got {w.shape}")
    return w


def _finite(values, what):
    """Drop non-finite values; return ``(kept_mask, note_or_None)``."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    bad = int((~ok).sum())
    note = f"{bad} {what} with NaN or infinite value left out" if bad else None
    return ok, note
