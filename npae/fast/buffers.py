"""Arrays reused from one call to the next.

Reusing the large per-pass arrays (caches, ``dA``) saves the page faults of fresh memory: at the
large benchmark size an LSTM autoencoder's step allocates ~0.5 GB, and first-touching it costs
about as much as computing it.  A ``work`` dict holds them by name; the fast functions take one.
"""

import numpy as np


def buffer(work, name, shape, dtype):
    """``work[name]`` when it is an array of this shape and dtype, else a new ``np.empty`` that is
    stored there for the next call; ``work=None`` always allocates."""
    if work is None:
        return np.empty(shape, dtype=dtype)
    a = work.get(name)
    if a is None or a.shape != tuple(shape) or a.dtype != dtype:
        a = work[name] = np.empty(shape, dtype=dtype)
    return a


def one_step_buffer(work, name, shape, n, dtype):
    """An ``(n,) + shape`` array whose n entries are one and the same ``shape`` buffer (a zero
    stride): for a loop that writes step t's values and never reads an older step's again."""
    a = buffer(work, name, shape, dtype)
    return np.lib.stride_tricks.as_strided(a, (n,) + a.shape, (0,) + a.strides)
