"""Input validation shared across npae: rank, size, dtype and finiteness, with useful messages.

One helper per kind of check, so that every module asks the same question the same way:

* :func:`is_int` — is this a Python or NumPy integer (not a ``bool``), at least some minimum?
* :func:`check_finite` — an array free of NaN and infinity, else an error naming the first one;
* :func:`window_count` — how many windows of length T, ``stride`` apart, fit in N points.

The messages stay the callers': each passes the name, the hint and (for integers) raises its own
error, since only the caller knows what the number or the array is for.  Every check raises an
:class:`~npae.errors.NpaeError` subclass that is also the built-in exception a caller expects:
:class:`~npae.errors.InvalidTypeError` (a ``TypeError``) for a value of the wrong kind,
:class:`~npae.errors.DataError` (a ``ValueError``) for a bad value.
"""

import numpy as np

from .backends import to_numpy
from .errors import DataError, InvalidTypeError, NonFiniteError, ShapeError


def is_int(value, minimum=None) -> bool:
    """True for a Python or NumPy integer (at least ``minimum`` when one is given).

    ``bool`` is refused although Python counts it as an ``int`` (``True`` as a window size is a
    mistake, not 1), and so are floats, even whole ones such as ``3.0``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return False
    return minimum is None or bool(value >= minimum)


def index_tuple(first) -> str:
    """``"index (i, j, ...)"``: the position of a value, as a tuple whatever the rank."""
    return f"index {first}"


def index_plain(first) -> str:
    """``"index i"`` for a 1-D array, ``"index (i, j, ...)"`` otherwise."""
    return f"index {first[0]}" if len(first) == 1 else f"index {first}"


def check_finite(arr, name, hint="", *, where=index_tuple, verb="holds",
                 error=NonFiniteError) -> None:
    """Raise ``error`` when the numeric array ``arr`` holds NaN or infinity.

    The message is ``"{name} {verb} NaN or infinity (first at {where(first)}); {hint}"``, with
    ``first`` the index (a tuple of ints) of the first such value in C order; ``where=None``
    leaves the position out, an empty ``hint`` the text after it.  Integer and boolean arrays
    are always finite and not scanned.
    """
    arr = np.asarray(arr)
    if arr.dtype.kind in "biu":
        return
    finite = np.isfinite(arr)
    if finite.all():
        return
    at = ""
    if where is not None:
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        at = f" (first at {where(first)})"
    raise error(f"{name} {verb} NaN or infinity{at}" + (f"; {hint}" if hint else ""))


def window_count(n_points, window_size, stride=1) -> int:
    """How many windows of length T, ``stride`` apart, fit in N points: ``(N - T) // stride + 1``,
    0 when the series is shorter than one window.  Arithmetic only: the callers have checked the
    arguments (:func:`npae.data.n_windows` is the checked public version)."""
    if n_points < window_size:
        return 0
    return (n_points - window_size) // stride + 1


def as_array(x, dtype, name="input") -> np.ndarray:
    """``x`` as an array of the model's ``dtype`` (real numbers only; NaN/inf rejected)."""
    try:
        arr = to_numpy(x)  # a torch tensor detached and copied to the CPU first
    except (ValueError, TypeError) as e:  # ragged nested lists, objects numpy cannot hold
        raise ShapeError(f"{name} cannot be made into an array ({e}); pass a rectangular array "
                         f"of numbers") from None
    if arr.dtype.kind not in "fiub":
        raise InvalidTypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}; "
                               f"convert it with np.asarray(x, dtype=np.float32) (complex, text "
                               f"and object data cannot be used)")
    arr = arr.astype(dtype, copy=False)
    check_finite(arr, name, "clean or fill the data before passing it to the model")
    return arr


def check_sizes(**sizes) -> None:
    """Each keyword a layer size: a Python or NumPy integer >= 1 (``bool`` and floats refused)."""
    for name, v in sizes.items():
        if not is_int(v):
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
