"""A batch split over threads.

NumPy runs every elementwise call on one core, while BLAS can use all of them; most of an LSTM
step is elementwise.  With ``set_num_threads(n)``, ``n > 1``, a training step of the fast
autoencoders splits a batch of at least ``min_batch`` windows into ``n`` blocks whose forward and
backward run in parallel threads (each block's arrays contiguous; the weight gradients are
summed), and ``reconstruct`` hands its batches to ``n`` threads.  The default is one thread:
on a machine whose cores are shared with other work, two threads made scoring slower, not faster
(docs/performance.md).  BLAS is limited to one thread inside the autoencoders' passes (through
``threadpoolctl``, a dependency of npae because the BLAS thread count changes float32 rounding;
``blas_threads``).
"""

import os
from concurrent.futures import ThreadPoolExecutor

_ENV_THREADS = os.environ.get("NPAE_NUM_THREADS")
_THREADS = {"n": int(_ENV_THREADS) if _ENV_THREADS else None, "min_batch": 256, "blas": 1}
_POOL = {}


def set_num_threads(n=None, min_batch=256, blas_threads=1):
    """Split the autoencoders' work over ``n`` threads (``None``, the default: one, or
    ``NPAE_NUM_THREADS``).

    A training step splits a batch of at least ``min_batch`` windows into ``n`` blocks run in
    parallel threads, and ``reconstruct`` hands its batches to ``n`` threads (see the module's
    docstring).  The numbers are the same up to the order of the sums over the batch.  Also read
    once from the environment variable ``NPAE_NUM_THREADS``.  See docs/performance.md for when
    it pays.

    ``blas_threads``: the BLAS threads of the autoencoders' own passes (training steps,
    ``reconstruct``), set on entry and restored on return (default 1; ``None``: BLAS's own
    setting).  Their GEMMs are small or thin; OpenBLAS splits those over its threads anyway, and
    on a machine whose cores are busy with other work a split GEMM waits for its slowest thread:
    measured, the weight-gradient GEMM of a seed-size step took 15 ms on two threads against
    0.34 ms on one (docs/performance.md).
    """
    n, min_batch = None if n is None else int(n), int(min_batch)
    if (n is not None and n < 1) or min_batch < 1:
        raise ValueError(f"set_num_threads needs n ≥ 1 and min_batch ≥ 1, got {n} and {min_batch}")
    if blas_threads is not None and int(blas_threads) < 1:
        raise ValueError(f"set_num_threads needs blas_threads ≥ 1 or None, got {blas_threads}")
    _THREADS.update(n=n, min_batch=min_batch, blas=None if blas_threads is None else int(blas_threads))


def get_num_threads():
    """The number of threads a training step uses (see :func:`set_num_threads`)."""
    return _THREADS["n"] or 1


def scoring_threads():
    """The number of threads ``reconstruct`` uses (see :func:`set_num_threads`): a training
    step's.  (Two by default were measured and rejected: docs/performance.md.)"""
    return get_num_threads()


def column_blocks(B, n=None):
    """The batch indices of each of ``n`` threads (default: a training step's number):
    ``[slice(0, B)]`` unless the batch is split."""
    n = (n or get_num_threads()) if B >= _THREADS["min_batch"] else 1
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
    with BlasThreads(1):
        futures = [pool.submit(fn, *args) for args in calls]
        return [f.result() for f in futures]


def _blas_libraries():
    """The BLAS libraries NumPy loaded, as threadpoolctl's controllers ([] without it)."""
    libs = _POOL.get("blas")
    if libs is None:
        try:
            import numpy  # noqa: F401  (BLAS is loaded with NumPy)
            from threadpoolctl import ThreadpoolController
            libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except ImportError:  # pragma: no cover - a dependency of npae; only a broken install lacks it
            libs = []
        _POOL["blas"] = libs
    return libs


class BlasThreads:
    """``with BlasThreads(n):`` BLAS runs on ``n`` threads inside, its setting is restored after
    (``n=None``: nothing changes).  A direct call into each BLAS library, about a microsecond —
    ``threadpoolctl.threadpool_limits`` re-scans the loaded libraries, ~0.2 ms."""

    def __init__(self, n=None):
        self.n, self.saved = n, []

    def __enter__(self):
        if self.n is not None:
            for lib in _blas_libraries():
                was = lib.get_num_threads()
                if was != self.n:
                    lib.set_num_threads(self.n)
                    self.saved.append((lib, was))
        return self

    def __exit__(self, *exc):
        for lib, was in self.saved:
            lib.set_num_threads(was)
        self.saved = []
        return False


def pass_blas_threads():
    """A :class:`BlasThreads` context for one of the autoencoders' passes (``set_num_threads``'s
    ``blas_threads``)."""
    return BlasThreads(_THREADS["blas"])
