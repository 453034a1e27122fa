"""What the RNN and the LSTM layer share: the input projection and the layer plumbing.

Glossary (used in every docstring of npae):

    T  time steps          B  batch size        D  input features
    H  hidden size         G  gate rows = k·H   (k = 1 for the RNN, 4 for the LSTM)

Inside, everything is *time-major* — ``x (T, B, D)``, states ``(B, H)`` — as in torch; the
``batch_first`` layout ``(B, T, D)`` is handled at the edge (here), and initial/final states are
never batch-first: ``(1, B, H)`` (``num_layers = 1``).

The input projection of all steps is one matrix product, because nothing in it is recurrent::

    (P)   X_W = x W_ihᵀ + b_ih + b_hh                     (T, B, G)
    (P')  dx = dA W_ih,  dW_ih = Σ_t dA_tᵀ x_t,  db_ih = db_hh = Σ_{t,b} dA

where ``dA (T, B, G)`` is the gradient of the gate pre-activations.  Both biases receive the
same gradient because they enter (P) as a plain sum.
"""

import numpy as np

from ._checks import as_array, check_last_dim
from .errors import ShapeError
from .init import recurrent_bound, uniform
from .module import Module, Parameter, as_float_dtype, as_generator


def input_projection(x, weight_ih, bias_ih=None, bias_hh=None):
    """(P) ``X_W = x W_ihᵀ + b_ih + b_hh`` for all T steps at once: ``x (T, B, D) → (T, B, G)``."""
    xw = x @ weight_ih.T
    if bias_ih is not None:
        xw += bias_ih
    if bias_hh is not None:
        xw += bias_hh
    return xw


def input_projection_backward(dA, x, weight_ih, need_dx=True):
    """(P') From ``dA (T, B, G)`` to ``dx (T, B, D)``, ``dW_ih (G, D)`` and the bias gradient ``(G,)``.

    ``dx`` is skipped (``None``) when ``need_dx`` is false.
    """
    G = dA.shape[-1]
    dA2 = dA.reshape(-1, G)
    dW_ih = dA2.T @ x.reshape(-1, x.shape[-1])
    db = dA2.sum(axis=0)
    dx = dA @ weight_ih if need_dx else None
    return dx, dW_ih, db


class RecurrentLayer(Module):
    """Constructor, parameters and input/state handling shared by :class:`RNN` and :class:`LSTM`.

    Subclasses set ``n_gates`` and implement ``_forward_fns`` (the functional pair to use).
    """

    n_gates = 1
    impls = ("vectorized", "loop")

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32, seed=None,
                 rng=None, impl="vectorized"):
        super().__init__()
        name = type(self).__name__
        if num_layers != 1:
            raise NotImplementedError(
                f"npae.{name} implements num_layers=1 only (got {num_layers}); "
                f"stack several npae.{name} layers by hand for a deeper network"
            )
        if bidirectional:
            raise NotImplementedError(f"npae.{name} does not implement bidirectional=True yet")
        if dropout:
            raise NotImplementedError(
                f"npae.{name} does not implement dropout (got {dropout}); torch only applies it "
                "between stacked layers, so with num_layers=1 use dropout=0"
            )
        if proj_size:
            raise NotImplementedError(f"npae.{name} does not implement proj_size (got {proj_size})")
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(
                f"input_size and hidden_size must be positive integers, got {input_size} and {hidden_size}"
            )
        if impl not in self.impls:
            raise ValueError(f"impl must be one of {self.impls}, got {impl!r}")
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.batch_first = bool(batch_first)
        self.impl = impl
        G, D, H = self.n_gates * self.hidden_size, self.input_size, self.hidden_size
        k = recurrent_bound(H)
        # torch's order: weight_ih, weight_hh, bias_ih, bias_hh; gate rows i, f, g, o (LSTM)
        self.weight_ih_l0 = Parameter(uniform((G, D), k, rng, dtype))
        self.weight_hh_l0 = Parameter(uniform((G, H), k, rng, dtype))
        self.bias_ih_l0 = Parameter(uniform((G,), k, rng, dtype)) if bias else None
        self.bias_hh_l0 = Parameter(uniform((G,), k, rng, dtype)) if bias else None
        self.bias = bool(bias)

    # ------------------------------------------------------------------ helpers
    def params(self) -> dict:
        """The parameter arrays under the functional core's names (``weight_ih`` ...)."""
        return {
            "weight_ih": self.weight_ih_l0.data,
            "weight_hh": self.weight_hh_l0.data,
            "bias_ih": None if self.bias_ih_l0 is None else self.bias_ih_l0.data,
            "bias_hh": None if self.bias_hh_l0 is None else self.bias_hh_l0.data,
        }

    def _accumulate(self, grads):
        self.weight_ih_l0.accumulate(grads["weight_ih"])
        self.weight_hh_l0.accumulate(grads["weight_hh"])
        if self.bias_ih_l0 is not None:
            self.bias_ih_l0.accumulate(grads["bias_ih"])
            self.bias_hh_l0.accumulate(grads["bias_hh"])

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
        return x, batched

    def _state(self, s, B, batched, name):
        """An initial state given as ``(1, B, H)`` (or ``(1, H)`` unbatched) → ``(B, H)``."""
        H = self.hidden_size
        if s is None:
            return np.zeros((B, H), dtype=self.dtype)
        s = as_array(s, self.dtype, name)
        want = (1, B, H) if batched else (1, H)
        if s.shape != want:
            raise ShapeError(
                f"{name} has shape {s.shape}; expected {want} (num_layers, batch, hidden_size) — "
                "initial states are never batch-first"
            )
        return s[0] if batched else s  # (B, H)

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
        """``(B, H)`` → ``(1, B, H)`` (or ``(1, H)`` unbatched), torch's layout for h_n / c_n."""
        return s[None].copy() if batched else s.copy()

    def _grad_output(self, grad_output, cache_x, batched):
        """Validate ``grad_output`` against the cached input and return it time-major."""
        T, B = cache_x.shape[:2]
        H = self.hidden_size
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
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s
