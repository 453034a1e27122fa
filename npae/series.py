"""What a detector reads and gives back: arrays, lists or pandas objects in; pandas out for pandas in.

A detector takes a series ``(N,)`` / ``(N, D)`` or ready-made windows ``(n, T, D)`` (the UCR
protocol: one score per series), as a NumPy array, a list, or a pandas Series / DataFrame;
:func:`_as_input` turns any of them into a float array and says which it was, and :func:`_like`
gives results back in the caller's kind (a pandas Series on the input's index, a DataFrame with
its columns).  This is the first stage of the detector's path, before windows and the scaler.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_finite
from .errors import DataError, ShapeError


# ---------------------------------------------------------------------------------------------
# Input: a series (N,) / (N, D), or ready-made windows (n, T, D)
# ---------------------------------------------------------------------------------------------

def _as_array(data, name):
    if hasattr(data, "to_numpy"):  # a pandas object, without importing pandas
        data = data.to_numpy()
    arr = np.asarray(data)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.size == 0:
        raise DataError(f"{name} is empty (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name, "fill or drop missing values first (e.g. forward-fill or interpolate)",
                 where=_row_feature)
    return arr


def _row_feature(first) -> str:
    """Where a value of a series (N,) / (N, D) or of windows (n, T, D) sits, in those words."""
    if len(first) == 3:
        return f"series {first[0]}, step {first[1]}, feature {first[2]}"
    return f"row {first[0]}" + (f", feature {first[1]}" if len(first) == 2 else "")


def _as_series(series, name="series") -> np.ndarray:
    """(N, D) float64 copy-free view of a (N,) or (N, D) numeric, finite series."""
    arr = _as_array(series, name)
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{name} must have shape (N,) or (N, D), got {arr.shape}")
    return arr.reshape(len(arr), -1)


def _same(a, b) -> bool:
    """``a == b`` for parameter values, False where the comparison is not a plain bool."""
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _like(data, values, *, step=None, columns=None):
    """``values`` as a pandas Series / DataFrame on ``data``'s index when ``data`` is a pandas
    object (``step``: one value per window, labelled by its first point), else unchanged."""
    index = getattr(data, "index", None)
    if index is None or not hasattr(data, "to_numpy") or np.ndim(data) == 3:
        return values
    import pandas as pd  # only when pandas data came in

    if step is not None:
        index = index[::step][:len(values)]
    if values.ndim == 1:
        return pd.Series(values, index=index, name=getattr(data, "name", None))
    return pd.DataFrame(values, index=index, columns=None if columns is None else list(columns))


def _as_input(data, name):
    """``(array, is_windows)``: a series as (N, D), or a 3-D array (n, T, D) of ready-made windows."""
    arr = _as_array(data, name)
    if arr.ndim == 3:
        return arr, True
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{name} must be a series (N,) or (N, D), or a set of equal-length "
                         f"series (n, T, D) (e.g. X[..., None] for univariate ones); got shape "
                         f"{arr.shape}")
    return arr.reshape(len(arr), -1), False
