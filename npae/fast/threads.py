"""A batch split over threads.

NumPy runs every elementwise call on one core, while BLAS can use all of them; most of an LSTM
step is elementwise.  With ``set_num_threads(n)``, ``n > 1``, a training step of the fast
autoencoders splits a batch of at least ``min_batch`` windows into ``n`` blocks whose forward and
backward run in parallel threads (each block's arrays contiguous; the weight gradients are
summed), and ``reconstruct`` hands its batches to ``n`` threads.  BLAS is limited to one thread
per call meanwhile (through ``threadpoolctl`` when it is installed).
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

_THREADS = {"n": int(os.environ.get("NPAE_NUM_THREADS", "1") or 1), "min_batch": 256}
_POOL = {}


def set_num_threads(n=1, min_batch=256):
    """Split the autoencoders' work over ``n`` threads (default 1: off).

    A training step splits a batch of at least ``min_batch`` windows into ``n`` blocks run in
    parallel threads, and ``reconstruct`` hands its batches to ``n`` threads (see the module's
    docstring).  The numbers are the same up to the order of the sums over the batch.  Also read
    once from the environment variable ``NPAE_NUM_THREADS``.  See docs/performance.md for when
    it pays.
    """
    n, min_batch = int(n), int(min_batch)
    if n < 1 or min_batch < 1:
        raise ValueError(f"set_num_threads needs n ≥ 1 and min_batch ≥ 1, got {n} and {min_batch}")
    _THREADS.update(n=n, min_batch=min_batch)


def get_num_threads():
    """The number of threads the autoencoders use (see :func:`set_num_threads`)."""
    return _THREADS["n"]


def column_blocks(B):
    """The batch indices of each thread: ``[slice(0, B)]`` unless the batch is split."""
    n = _THREADS["n"] if B >= _THREADS["min_batch"] else 1
    n = min(n, B)
    if n <= 1:
        return [slice(0, B)]
    edges = [B * k // n for k in range(n + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def run_blocks(fn, calls):
    """``fn(*args)`` for every ``args`` in ``calls``: directly for one, else one thread each."""
    if len(calls) == 1:
        return [fn(*calls[0])]
    pool = _POOL.get(len(calls))
    if pool is None:
        pool = _POOL[len(calls)] = ThreadPoolExecutor(len(calls), thread_name_prefix="npae")
    with _one_blas_thread():
        futures = [pool.submit(fn, *args) for args in calls]
        return [f.result() for f in futures]


def _one_blas_thread():
    """A context that limits BLAS to one thread (threadpoolctl), or does nothing without it."""
    ctl = _POOL.get("controller")
    if ctl is None:
        try:
            from threadpoolctl import ThreadpoolController
            ctl = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            ctl = False
        _POOL["controller"] = ctl
    if ctl is False:  # pragma: no cover
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")
