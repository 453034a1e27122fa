"""What the RNN, LSTM and GRU layers share: the input projection (P) and the layer class.

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

import numpy as np

from ._checks import as_array, check_last_dim, check_sizes, is_int
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
    ``dx (B, D)`` and ``dW_ih`` come from ``Σ_t dA_t``, one small GEMM each.
    """
    G = dA.shape[-1]
    if is_broadcast(x):
        dA, x = dA.sum(axis=0), x[0]  # Σ_t dA_t, (B, G)
    dA2 = dA.reshape(-1, G)
    dW_ih = dA2.T @ x.reshape(-1, x.shape[-1])  # (P') Σ_t dA_tᵀ x_t: one GEMM over the (t, b) rows
    db = dA2.sum(axis=0)  # (P') Σ_t Σ_b dA_t, both biases
    dx = dA @ weight_ih if need_dx else None  # (P')
    return dx, dW_ih, db


def layer_gradients(dA, x, params, dW_hh, db_hh=None):
    """The end of a layer's backward: (P') from ``dA`` and the layer's input ``x`` → ``dx`` and the
    four parameter gradients under torch's names.  Both biases get Σ dA (P'), unless the cell gives
    ``b_hh`` its own gradient ``db_hh`` (the GRU's (G2'))."""
    dx, dW_ih, db = input_projection_backward(dA, x, params["weight_ih"])  # (P')
    has_bias = params["bias_ih"] is not None
    b_hh = db.copy() if db_hh is None else db_hh
    grads = {"weight_ih": dW_ih, "weight_hh": dW_hh,
             "bias_ih": db if has_bias else None, "bias_hh": b_hh if has_bias else None}
    return dx, grads


# Names that lived here before the fast tier had its own package (npae/fast/): old imports keep
# working, resolved on first use.
_MOVED = {
    "feature_major": "layout", "batch_major": "layout", "input_projection_fm": "layout",
    "sum_over_steps": "layout", "UNDERFLOW_CHECK_EVERY": "underflow",
    "underflow_threshold": "underflow", "quiet_steps": "underflow",
    "stop_if_underflowed": "underflow", "buffer": "buffers", "one_step_buffer": "buffers",
    "set_num_threads": "threads", "get_num_threads": "threads", "column_blocks": "threads",
    "run_blocks": "threads",
}


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"npae.fast.{_MOVED[name]}"), name)
    raise AttributeError(f"module 'npae.recurrent' has no attribute {name!r}")


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
    impls = ("fast", "vectorized", "loop")

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32, seed=None,
                 rng=None, impl="fast"):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"npae.{name} does not implement proj_size (got {proj_size})")
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        if not is_int(num_layers, 1):
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
