"""Input validation shared by the layers: rank, size, dtype and finiteness, with useful messages.

Every check raises an :class:`~npae.errors.NpaeError` subclass that is also the built-in
exception a caller expects: :class:`~npae.errors.InvalidTypeError` (a ``TypeError``) for a value
of the wrong kind, :class:`~npae.errors.DataError` (a ``ValueError``) for a bad value.
"""

import numpy as np

from .errors import DataError, InvalidTypeError, NonFiniteError, ShapeError


def as_array(x, dtype, name="input") -> np.ndarray:
    """``x`` as an array of the model's ``dtype`` (real numbers only; NaN/inf rejected)."""
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged nested lists, objects numpy cannot hold
        raise ShapeError(f"{name} cannot be made into an array ({e}); pass a rectangular array "
                         f"of numbers") from None
    if arr.dtype.kind not in "fiub":
        raise InvalidTypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}; "
                               f"convert it with np.asarray(x, dtype=np.float32) (complex, text "
                               f"and object data cannot be used)")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"{name} holds NaN or infinity (first at index {tuple(int(i) for i in bad)}); "
            "clean or fill the data before passing it to the model"
        )
    return arr


def check_sizes(**sizes) -> None:
    """Each keyword a layer size: a Python or NumPy integer >= 1 (``bool`` and floats refused)."""
    for name, v in sizes.items():
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise InvalidTypeError(f"{name} must be an integer, got {v!r} "
                                   f"({type(v).__name__})")
        if v < 1:
            raise DataError(f"{name} must be a positive integer (at least 1), got {v}")


def check_choice(name, value, choices) -> None:
    """``value`` must be one of ``choices`` (a :class:`DataError` listing them otherwise)."""
    if not isinstance(value, str) or value not in choices:
        raise DataError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_last_dim(arr, size, name, what="feature size"):
    if arr.shape[-1] != size:
        raise ShapeError(
            f"{name} has {what} {arr.shape[-1]} (shape {arr.shape}), but the layer was built with "
            f"{size}; reshape the data or build the layer with that size"
        )
