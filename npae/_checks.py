"""Input validation shared by the layers: rank, size, dtype and finiteness, with useful messages."""

import numpy as np

from .errors import NonFiniteError, ShapeError


def as_array(x, dtype, name="input") -> np.ndarray:
    """``x`` as an array of the model's ``dtype`` (numbers only; NaN/inf rejected)."""
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"{name} holds NaN or infinity (first at index {tuple(int(i) for i in bad)}); "
            "clean or fill the data before passing it to the model"
        )
    return arr


def check_last_dim(arr, size, name, what="feature size"):
    if arr.shape[-1] != size:
        raise ShapeError(
            f"{name} has {what} {arr.shape[-1]} (shape {arr.shape}), but the layer was built with "
            f"{size}; reshape the data or build the layer with that size"
        )
