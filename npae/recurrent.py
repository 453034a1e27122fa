"""What the RNN, LSTM and GRU layers share: the input projection and the layer plumbing.

Glossary (used in every docstring of npae):

    T  time steps          B  batch size        D  input features
    H  hidden size         G  gate rows = k·H   (k = 1 for the RNN, 4 for the LSTM, 3 for the GRU)

Inside, everything is *time-major* — ``x (T, B, D)``, states ``(B, H)`` — as in torch; the
``batch_first`` layout ``(B, T, D)`` is handled at the edge (here), and initial/final states are
never batch-first: ``(num_layers·num_directions, B, H)``, as torch (``npae/stacked.py``).

The input projection of all steps is one matrix product, because nothing in it is recurrent::

    (P)   X_W = x W_ihᵀ + b_ih + b_hh                     (T, B, G)
    (P')  dx = dA W_ih,  dW_ih = Σ_t dA_tᵀ x_t,  db_ih = db_hh = Σ_{t,b} dA

where ``dA (T, B, G)`` is the gradient of the gate pre-activations.  Both biases receive the
same gradient because they enter (P) as a plain sum.  (The GRU projects with ``b_ih`` only, its
(G1): its ``b_hh`` sits partly inside the reset product, ``npae/gru.py``.)
"""

import os

import numpy as np

from ._checks import as_array, check_last_dim, check_sizes
from .dense import dropout_mask
from .errors import DataError, ShapeError
from .init import recurrent_bound, uniform
from .module import Module, Parameter, as_float_dtype, as_generator
from .stacked import stacked_backward, stacked_forward


def input_projection(x, weight_ih, bias_ih=None, bias_hh=None):
    """(P) ``X_W = x W_ihᵀ + b_ih + b_hh`` for all T steps at once: ``x (T, B, D) → (T, B, G)``
    (or one step, ``(B, D) → (B, G)``): a single 2-D GEMM over the T·B rows.

    An ``x`` that is the same at every step (a broadcast view with a zero stride on T, as the
    autoencoder's decoder input) is projected once; the result is broadcast the same way.
    """
    if is_broadcast(x):
        once = input_projection(x[0], weight_ih, bias_ih, bias_hh)
        return np.broadcast_to(once, (x.shape[0],) + once.shape)
    xw = (x.reshape(-1, x.shape[-1]) @ weight_ih.T).reshape(x.shape[:-1] + (weight_ih.shape[0],))
    if bias_ih is not None:
        xw += bias_ih
    if bias_hh is not None:
        xw += bias_hh
    return xw


def is_broadcast(x):
    """True for a ``(T, …)`` array that repeats one ``(…)`` array T > 1 times (zero stride on T)."""
    return x.ndim == 3 and x.shape[0] > 1 and x.strides[0] == 0


def input_projection_backward(dA, x, weight_ih, need_dx=True):
    """(P') From ``dA (T, B, G)`` to ``dx (T, B, D)``, ``dW_ih (G, D)`` and the bias gradient ``(G,)``.

    ``dx`` is skipped (``None``) when ``need_dx`` is false.  For a broadcast ``x`` (the same input
    at every step, see :func:`input_projection`) every step's gradient lands on the one input:
    ``dx (B, D)`` and ``dW_ih`` come from ``Σ_t dA_t``, one small GEMM each.  ``dA`` may be the
    transposed view of feature-major storage that the LSTM's backward returns: the sums then run on
    that storage, with no copy of ``dA``.
    """
    G = dA.shape[-1]
    if is_broadcast(x):
        dA, x = dA.sum(axis=0), x[0]  # Σ_t dA_t, (B, G)
    if dA.ndim == 3 and dA.strides[-1] != dA.itemsize and np.swapaxes(dA, -1, -2).flags.c_contiguous:
        dAT = feature_major(dA)  # the storage itself
        dW_ih = sum_over_steps(dAT, feature_major(x))
        db = dAT.sum(axis=(0, 2))
    else:
        dA2 = dA.reshape(-1, G)
        dW_ih = dA2.T @ x.reshape(-1, x.shape[-1])
        db = dA2.sum(axis=0)
    dx = dA @ weight_ih if need_dx else None
    return dx, dW_ih, db


# ---------------------------------------------------------------------------- feature-major
#
# The tuned recurrences store the arrays of a step *feature-major*: the gate pre-activations of
# step t as ``A_tᵀ (G, B)`` instead of ``A_t (B, G)``, the states as ``(H, B)``.  The numbers are
# the same; what changes is that each gate's block ``(H, B)`` is one contiguous piece of memory,
# so every NumPy call inside the time loop gets a contiguous array (for the small arrays of a
# step, a call on a column slice of ``(B, 4H)`` costs about three times more).  The public
# functions hand the glossary's ``(T, B, ·)`` layout
# back as transposed *views* of that storage, and :func:`feature_major` turns such a view back
# into the storage without a copy.


def feature_major(a):
    """``(…, B, F)`` → C-contiguous ``(…, F, B)``.  Free (a view) when ``a`` is a transposed view
    of C-contiguous storage, as the vectorised functions return; a copy otherwise.  A broadcast
    ``(T, B, F)`` (zero stride on T) stays one, over a single ``(F, B)``."""
    if is_broadcast(a):
        once = feature_major(a[0])
        return np.broadcast_to(once, (a.shape[0],) + once.shape)
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def batch_major(aT):
    """The inverse view: ``(…, F, B)`` → ``(…, B, F)`` (no copy)."""
    return np.swapaxes(aT, -1, -2)


def input_projection_fm(x, weight_ih, bias_ih=None, bias_hh=None):
    """(P), feature-major: ``x (T, B, D)`` → ``X_Wᵀ (T, G, B)``; ``x (B, D)`` → ``(G, B)``.
    A broadcast ``x`` is projected once and the result broadcast."""
    return feature_major(input_projection(x, weight_ih, bias_ih, bias_hh))


def sum_over_steps(aT, bT, chunk=1 << 20):
    """``Σ_t aT[t] bT[t]ᵀ`` for ``aT (T, G, B)``, ``bT (T, F, B)`` → ``(G, F)``: the weight
    gradients (1'), (R1'), (P') as GEMMs over the joint (t, b) axis, a block of steps at a time.

    Small steps (G·B < 16384): each block is copied to ``(G, steps·B)`` and ``(F, steps·B)`` and
    multiplied once, a GEMM large enough to run at speed.  Large steps: one batched matmul per block
    (a GEMM per step, no copy) and a sum over the block — measured 15 % faster at the mid and large
    sizes, where the copies cost more than they save.  Blocks hold about ``chunk`` elements.
    """
    T, G, B = aT.shape
    F = bT.shape[1]
    out = None
    if G * B < 16384:
        n = max(1, chunk // max(1, G * B))
        for s in range(0, T, n):
            a = aT[s:s + n].transpose(1, 0, 2).reshape(G, -1)
            b = bT[s:s + n].transpose(1, 0, 2).reshape(F, -1)
            out = a @ b.T if out is None else np.add(out, a @ b.T, out=out)
    else:
        n = max(1, chunk // max(1, G * F))
        for s in range(0, T, n):
            p = np.matmul(aT[s:s + n], bT[s:s + n].swapaxes(1, 2)).sum(axis=0)
            out = p if out is None else np.add(out, p, out=out)
    return out


# ---------------------------------------------------------------------------- underflow
#
# A layer whose only upstream gradient arrives at the last step (the autoencoder's encoder) sends
# dh (and dc) back through T steps, each usually multiplying it by factors below one (the
# vanishing gradient): over a long window it decays geometrically and, in float32, reaches the
# *subnormal* range (below 1.2e-38).  x86 CPUs run every multiply or add that touches a
# subnormal through a microcode assist, tens to hundreds of times slower: measured, the backward of one float32 training step at B 256, T 200,
# H 128 took 3.05 s, against 0.91 s with the CPU told to flush subnormals to zero (the same
# numbers otherwise).  NumPy cannot set that flag, so the tuned backward loops check the carried
# gradient every few steps and, once all of it is below tiny/eps of its dtype (1e-31 in float32,
# 1e-292 in float64), stop: the earlier steps' gradients are then exactly zero instead of
# subnormal dust no float32 weight update can feel.  (The one case where this changes an answer:
# if the remaining steps *amplified* the carry by ~1e25, an exploding gradient; training would
# be in trouble anyway.)  The plain per-step loops never do this.


UNDERFLOW_CHECK_EVERY = 8  # steps between checks: 4 reductions, about 1 % of a seed-size step


def underflow_threshold(dtype) -> float:
    """``tiny / eps`` of ``dtype``: float32 9.9e-32, float64 1.0e-292."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps)


def quiet_steps(dy, threshold) -> int:
    """How many leading steps of an upstream gradient ``dy (T, …)`` are all below ``threshold`` in
    magnitude (``T`` for ``dy=None``).  A lower layer of a stacked encoder gets its ``dy`` from the
    layer above, whose backward stopped at underflow: its early steps are zero.  Once the carry
    has underflowed *and* every earlier step's ``dy`` is that small, nothing but dust reaches
    those steps, so the loop may stop there too.  Scans from step 0 and stops at the first loud
    step (for a loud ``dy``: one reduction)."""
    if dy is None:
        return 1 << 62  # every step: there is no upstream gradient at all
    k = 0
    while k < len(dy) and not (np.abs(dy[k]).max() >= threshold):
        k += 1
    return k


def stop_if_underflowed(threshold, steps_done, rest, *carried) -> bool:
    """The tuned backward loops' check (see above).  Every ``UNDERFLOW_CHECK_EVERY`` steps, if
    every entry of every array in ``carried`` is below ``threshold`` in magnitude (NaN never is),
    zero them and ``rest`` (the gradients of the steps not reached yet) and return True: the loop
    is done.  ``threshold=None`` (an upstream gradient at every step): never."""
    if threshold is None or steps_done % UNDERFLOW_CHECK_EVERY:
        return False
    if not all(a.max() < threshold and -a.min() < threshold for a in carried):
        return False
    for a in carried + (rest,):
        a[...] = 0
    return True


# ---------------------------------------------------------------------------- buffers, threads


def buffer(work, name, shape, dtype):
    """``work[name]`` when it is an array of this shape and dtype, else a new ``np.empty`` that is
    stored there for the next call; ``work=None`` always allocates.

    Reusing the large per-pass arrays (caches, ``dA``) saves the page faults of fresh memory: at
    the large benchmark size an LSTM autoencoder's step allocates ~0.5 GB, and first-touching it
    costs about as much as computing it.
    """
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


_THREADS = {"n": int(os.environ.get("NPAE_NUM_THREADS", "1") or 1), "min_batch": 256}
_POOL = {}


def set_num_threads(n=1, min_batch=256):
    """Split the autoencoders' work over ``n`` threads (default 1: off).

    NumPy runs every elementwise call on one core, while BLAS can use all of them; most of an
    LSTM step is elementwise.  With ``n > 1`` a training step splits a batch of at least
    ``min_batch`` windows into ``n`` blocks whose forward and backward run in parallel threads
    (each block's arrays contiguous; the weight gradients are summed), and ``reconstruct``
    hands its batches to ``n`` threads.  BLAS is limited to one thread per call meanwhile
    (through ``threadpoolctl`` when it is installed).  The numbers are the same up to the order
    of the sums over the batch.  Also read once from the environment variable
    ``NPAE_NUM_THREADS``.  See docs/performance.md for when it pays.
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
    from concurrent.futures import ThreadPoolExecutor

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
        import contextlib
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")


class RecurrentLayer(Module):
    """Constructor, parameters and input/state handling shared by :class:`RNN`, :class:`LSTM` and
    :class:`GRU`, and the composition of their stacked and bidirectional passes
    (:mod:`npae.stacked`).

    Subclasses set ``n_gates`` (k of the glossary), ``n_states`` (1, or 2 for the LSTM's
    ``(h, c)``) and implement ``_functions()``: the cell's forward/backward pair on tuples of
    states (see :func:`npae.stacked.stacked_forward`).

    Parameters, in torch's order: for each layer k, for each direction (``""``, then
    ``"_reverse"``): ``weight_ih_l{k}{sfx} (G, D_k)``, ``weight_hh_l{k}{sfx} (G, H)``,
    ``bias_ih_l{k}{sfx} (G,)``, ``bias_hh_l{k}{sfx} (G,)``, with ``D_0 = D`` and
    ``D_k = num_directions·H`` above, all ~ U(-1/√H, 1/√H).  States are
    ``(num_layers·num_directions, B, H)``.  Inter-layer ``dropout`` acts only in training mode
    (``train()``, the default; ``eval()`` switches it off), with masks drawn from the layer's
    own Generator (``seed``/``rng``); the masks of the last forward are in ``dropout_masks``.
    """

    n_gates = 1
    n_states = 1
    impls = ("vectorized", "loop")

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32, seed=None,
                 rng=None, impl="vectorized"):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"npae.{name} does not implement proj_size (got {proj_size})")
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 1:
            raise DataError(f"num_layers must be an integer ≥ 1, got {num_layers!r}; "
                            f"use num_layers=1 for one layer")
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) <= 1.0:
            raise DataError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        if impl not in self.impls:
            raise ValueError(f"impl must be one of {self.impls}, got {impl!r}")
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.dropout = int(num_layers), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        self.batch_first = bool(batch_first)
        self.impl = impl
        self.bias = bool(bias)
        self._rng = rng
        self.dropout_masks = None
        G, H = self.n_gates * self.hidden_size, self.hidden_size
        k = recurrent_bound(H)
        # torch's order: per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh
        for layer in range(self.num_layers):
            D = self.input_size if layer == 0 else self.num_directions * H
            for sfx in self._suffixes(layer):
                setattr(self, "weight_ih" + sfx, Parameter(uniform((G, D), k, rng, dtype)))
                setattr(self, "weight_hh" + sfx, Parameter(uniform((G, H), k, rng, dtype)))
                setattr(self, "bias_ih" + sfx, Parameter(uniform((G,), k, rng, dtype)) if bias else None)
                setattr(self, "bias_hh" + sfx, Parameter(uniform((G,), k, rng, dtype)) if bias else None)

    def _suffixes(self, layer):
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def _all_suffixes(self):
        return [s for layer in range(self.num_layers) for s in self._suffixes(layer)]

    def _functions(self):  # pragma: no cover - abstract
        """The cell's ``(forward(x, states, params), backward(dy, dstates, cache))`` pair."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def params(self, layer=0, reverse=False) -> dict:
        """One recurrence's parameter arrays under the functional core's names (``weight_ih`` ...):
        layer ``layer``, the reverse direction with ``reverse=True``."""
        sfx = f"_l{layer}" + ("_reverse" if reverse else "")
        get = lambda n: None if getattr(self, n + sfx) is None else getattr(self, n + sfx).data  # noqa: E731
        return {"weight_ih": get("weight_ih"), "weight_hh": get("weight_hh"),
                "bias_ih": get("bias_ih"), "bias_hh": get("bias_hh")}

    def _accumulate(self, grads, sfx="_l0"):
        getattr(self, "weight_ih" + sfx).accumulate(grads["weight_ih"])
        getattr(self, "weight_hh" + sfx).accumulate(grads["weight_hh"])
        if self.bias:
            getattr(self, "bias_ih" + sfx).accumulate(grads["bias_ih"])
            getattr(self, "bias_hh" + sfx).accumulate(grads["bias_hh"])

    def _masks(self, T, B):
        """The num_layers - 1 inter-layer dropout masks of one training forward (``None`` if there are none)."""
        if not (self.training and self.dropout > 0 and self.num_layers > 1):
            return None
        shape = (T, B, self.num_directions * self.hidden_size)
        return [dropout_mask(shape, self.dropout, self._rng, self.dtype) for _ in range(self.num_layers - 1)]

    def forward(self, x, hx=None):
        """One-state cells (RNN, GRU): ``x (T, B, D)`` (``(B, T, D)`` if batch_first) and
        ``hx (num_layers·K, B, H)`` or None → ``output`` (layout of x, last axis K·H) and
        ``h_n (num_layers·K, B, H)``: the cell's recurrence, layer after layer, (S1)–(S2)."""
        y, (h_n,) = self._run(x, [hx])
        return y, h_n

    def backward(self, grad_output, grad_h_n=None):
        """One-state cells: gradients of ``output`` and ``h_n`` (either may be None) →
        ``(grad_input, grad_hx)``, layer after layer (S2')–(S1'); accumulates every ``.grad``."""
        dx, (dh0,) = self._run_backward(grad_output, [grad_h_n])
        return dx, dh0

    def _run(self, x, states, masks=None):
        """Validated ``x`` and ``states`` (a list of ``n_states`` user arrays or ``None``) →
        output (the caller's layout) and the final states (torch's layout)."""
        x, batched = self._time_major_input(x)
        T, B = x.shape[:2]
        s0 = tuple(self._state(s, B, batched, n) for s, n in zip(states, self._state_names()))
        if masks is None:
            masks = self._masks(T, B)
        self.dropout_masks = masks
        params = [self.params(layer, d == 1) for layer in range(self.num_layers)
                  for d in range(self.num_directions)]
        y, s_n, cache = stacked_forward(x, s0, params, self._functions(), self.num_layers,
                                        self.num_directions, masks)  # (S1)–(S2)
        self._cache = (cache, batched, x.shape)
        return self._user_layout(y, batched), [self._state_out(s, batched) for s in s_n]

    def _run_backward(self, grad_output, grad_states):
        cache, batched, xshape = self._take_cache()
        T, B = xshape[:2]
        dy = self._grad_output(grad_output, (T, B), batched)
        ds = tuple(self._grad_state(g, B, batched, "grad_" + n[:-2] + "_n")
                   for g, n in zip(grad_states, self._state_names()))
        dx, ds0, grads = stacked_backward(dy, ds, cache, self._functions())  # (S2')–(S1')
        for sfx, g in zip(self._all_suffixes(), grads):
            self._accumulate(g, sfx)
        return self._user_layout(dx, batched), [self._state_out(s, batched) for s in ds0]

    def _state_names(self):
        return ("h_0", "c_0")[:self.n_states]

    def _time_major_input(self, x):
        """Validate ``x`` and return it as ``(T, B, D)`` plus whether the call was batched."""
        x = as_array(x, self.dtype)
        if x.ndim not in (2, 3):
            layout = "(B, T, D)" if self.batch_first else "(T, B, D)"
            raise ShapeError(
                f"{type(self).__name__} expects a 3-D input {layout} or an unbatched 2-D input "
                f"(T, D); got shape {x.shape}"
            )
        check_last_dim(x, self.input_size, "input")
        batched = x.ndim == 3
        if not batched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ShapeError(f"input has an empty axis (T={x.shape[0]}, B={x.shape[1]}); need T ≥ 1 and B ≥ 1")
        if is_broadcast(x):  # a layer's backward returns a gradient per step: give it a real array
            x = np.ascontiguousarray(x)
        return x, batched

    def _state(self, s, B, batched, name):
        """An initial state given as ``(num_layers·K, B, H)`` (or ``(num_layers·K, H)`` unbatched) → ``(num_layers·K, B, H)``."""
        H, NK = self.hidden_size, self.num_layers * self.num_directions
        if s is None:
            return np.zeros((NK, B, H), dtype=self.dtype)
        s = as_array(s, self.dtype, name)
        want = (NK, B, H) if batched else (NK, H)
        if s.shape != want:
            raise ShapeError(
                f"{name} has shape {s.shape}; expected {want} (num_layers·num_directions, batch, "
                "hidden_size) — initial states are never batch-first"
            )
        return s if batched else s[:, None, :]

    def _grad_state(self, g, B, batched, name):
        if g is None:
            return None
        return self._state(g, B, batched, name)

    def _user_layout(self, y, batched):
        """Time-major ``(T, B, ·)`` → the caller's layout (a fresh contiguous array)."""
        if not batched:
            return np.ascontiguousarray(y[:, 0, :])
        if self.batch_first:
            return np.ascontiguousarray(y.transpose(1, 0, 2))
        return y.copy()  # the states are the cache: hand out a copy, never a view

    @staticmethod
    def _state_out(s, batched):
        """``(num_layers·K, B, H)`` → torch's layout for h_n / c_n (``(num_layers·K, H)`` unbatched), a copy."""
        return s.copy() if batched else np.ascontiguousarray(s[:, 0, :])

    def _grad_output(self, grad_output, TB, batched):
        """Validate ``grad_output`` against the output's shape and return it time-major."""
        T, B = TB
        H = self.num_directions * self.hidden_size
        if grad_output is None:
            return None
        dy = as_array(grad_output, self.dtype, "grad_output")
        if not batched:
            want = (T, H)
        else:
            want = (B, T, H) if self.batch_first else (T, B, H)
        if dy.shape != want:
            raise ShapeError(f"grad_output has shape {dy.shape}; the output had shape {want}")
        if not batched:
            return dy[:, None, :]
        return dy.transpose(1, 0, 2) if self.batch_first else dy

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s
