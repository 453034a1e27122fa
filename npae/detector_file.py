"""The detector file: the format's constants and a defensive reader of its members.

A saved detector is an ``.npz`` (a zip of ``.npy`` members) with one JSON ``config`` member.  The
reader never trusts it: every member's ``.npy`` header (dtype, shape) is checked against what
the config says before anything is inflated, the total inflation is capped (``LOAD_INFLATION``
× the file size + 1 MiB), and the JSON is parsed with NaN, infinities and out-of-range numbers
refused.  :meth:`npae.detector.WindowDetector.save` and ``load`` use it.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib

import numpy as np

from .errors import DataError

FORMAT = "npae-detector"
FORMAT_VERSION = 2          # 2: window_size_, calibration, loss ratio; version 1 still loads
READABLE_VERSIONS = (1, 2)


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


def _read_config(zf, what, budget, fmt=FORMAT) -> dict:
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
    if not isinstance(config, dict) or config.get("format") != fmt:
        raise DataError(f"{what}: its config does not say format {fmt!r}")
    return config
