"""Elman RNN: the one-step functions, the per-step loop, the plain vectorised functions, the layer.

Forward, for t = 1 … T (``h_0`` is the initial state; φ is tanh or relu)::

    (R1)  a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh        (B, H)
    (R2)  h_t = φ(a_t)                                        (B, H)
          output = (h_1, …, h_T),  h_n = h_T

Backward.  ``dh_t`` is the *total* gradient reaching ``h_t``: what the loss sends through
``output[t]`` plus what step t+1 sends back through (R1) — the one place time shows up::

    (R2') da_t = dh_t ⊙ φ'(a_t) = dh_t ⊙ (1 - h_t²)   (tanh)   or  dh_t ⊙ [h_t > 0]   (relu)
    (R1') dh_{t-1} += da_t W_hh        dx_t = da_t W_ih
          dW_hh = Σ_t da_tᵀ h_{t-1}    dW_ih = Σ_t da_tᵀ x_t    db_ih = db_hh = Σ_t Σ_b da_t

``h_n`` *is* ``output[T]``, so the gradient for ``h_n`` and the last row of the output gradient
add up at step T.  The cache stores ``h`` as one array ``(T+1, B, H)`` with ``h[0] = h_0``, so
``h[t]`` is h_t and ``h[t-1]`` is its predecessor: no off-by-one.

The layer runs ``npae/fast/rnn.py`` by default (``impl="fast"``): the same numbers, computed in
place; skip it on a first reading.
"""

import numpy as np

from ._checks import check_choice
from .functional import ACTIVATIONS
from .fast import rnn as fast
from .recurrent import RecurrentLayer, input_projection, layer_gradients

# ---------------------------------------------------------------------------- one step


def rnn_cell_forward(x_t, h_prev, params, nonlinearity="tanh"):
    """One step, (R1)–(R2): ``x_t (B, D)``, ``h_prev (B, H)`` → ``h_t (B, H)``."""
    act, _ = ACTIVATIONS[nonlinearity]
    a = x_t @ params["weight_ih"].T + h_prev @ params["weight_hh"].T  # (R1)
    if params["bias_ih"] is not None:
        a += params["bias_ih"] + params["bias_hh"]  # (R1)
    return act(a)  # (R2)


def rnn_cell_backward(dh_t, x_t, h_prev, h_t, params, nonlinearity="tanh"):
    """One step back: from ``dh_t`` (total gradient at h_t) to ``dx_t``, ``dh_prev`` and this step's
    parameter gradients ``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}``."""
    _, act_grad = ACTIVATIONS[nonlinearity]
    da = dh_t * act_grad(h_t)  # (R2')
    dx_t = da @ params["weight_ih"]  # (R1')
    dh_prev = da @ params["weight_hh"]  # (R1')
    db = da.sum(axis=0) if params["bias_ih"] is not None else None  # (R1')
    grads = {"weight_ih": da.T @ x_t, "weight_hh": da.T @ h_prev, "bias_ih": db, "bias_hh": db}  # (R1')
    return dx_t, dh_prev, grads


# ---------------------------------------------------------------------------- per-step loop


def rnn_forward_loop(x, h0, params, nonlinearity="tanh"):
    """The per-step version: one :func:`rnn_cell_forward` per step.

    ``x (T, B, D)``, ``h0 (B, H)`` → ``output (T, B, H)``, ``h_n (B, H)``, ``cache``.
    """
    T, B, _ = x.shape
    h = np.empty((T + 1, B, h0.shape[-1]), dtype=h0.dtype)
    h[0] = h0
    for t in range(T):
        h[t + 1] = rnn_cell_forward(x[t], h[t], params, nonlinearity)
    cache = {"x": x, "h": h, "params": params, "nonlinearity": nonlinearity}
    return h[1:], h[T], cache


def rnn_backward_loop(dy, dh_n, cache):
    """The per-step version of the backward: one :func:`rnn_cell_backward` per step, newest first.

    ``dy (T, B, H)`` (or ``None``) and ``dh_n (B, H)`` (or ``None``) →
    ``dx (T, B, D)``, ``dh0 (B, H)``, ``grads`` (dict of arrays, torch's shapes).
    """
    x, h, params, nl = cache["x"], cache["h"], cache["params"], cache["nonlinearity"]
    T = x.shape[0]
    dx = np.empty_like(x)
    grads = {k: None if v is None else np.zeros_like(v) for k, v in params.items()}
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (R1') h_n = h_T: its gradient enters at T
    for t in range(T - 1, -1, -1):
        if dy is not None:
            dh += dy[t]  # (R1') total dh: output[t] = h_{t+1} also feeds the loss directly
        dx[t], dh, g = rnn_cell_backward(dh, x[t], h[t], h[t + 1], params, nl)
        for k in grads:
            if grads[k] is not None:
                grads[k] += g[k]  # (R1') shared weights: sum over time
    return dx, dh, grads


# ---------------------------------------------------------------------------- plain vectorised
#
# Nothing of (P) is recurrent, so the input half of (R1) for all steps is one GEMM before the loop
# (npae/recurrent.py); the loop keeps only h_{t-1} W_hhᵀ and φ; after the backward loop, every
# weight gradient is one GEMM over the joint (t, b) axis.


def rnn_recurrence(xw, h0, weight_hh, nonlinearity="tanh"):
    """The truly recurrent part of (R1)–(R2), given the projected inputs ``xw (T, B, H)`` of (P).

    ``xw`` may be a broadcast view (the autoencoder's decoder sees one vector at every step).
    Returns ``h (T+1, B, H)`` with ``h[0] = h0``.
    """
    act, _ = ACTIVATIONS[nonlinearity]
    h = np.empty((xw.shape[0] + 1,) + h0.shape, dtype=h0.dtype)
    h[0] = h0
    for t in range(xw.shape[0]):
        h[t + 1] = act(xw[t] + h[t] @ weight_hh.T)  # (R1) the input half from (P) + the recurrent half, (R2)
    return h


def rnn_recurrence_backward(dy, dh_n, h, weight_hh, nonlinearity="tanh"):
    """Backward through :func:`rnn_recurrence`: ``dy (T, B, H)`` or ``None``, ``dh_n (B, H)`` or
    ``None`` → ``dA (T, B, H)`` (pre-activation gradients), ``dh0 (B, H)``, ``dW_hh (H, H)``:
    (R2') through the activation and (R1') back to h_{t-1} at each step, then dW_hh as one GEMM."""
    _, act_grad = ACTIVATIONS[nonlinearity]
    dA = np.empty_like(h[1:])
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (R1') h_n = h_T: enters at T
    for t in range(len(dA) - 1, -1, -1):  # step t produced h[t+1] = h_{t+1}
        if dy is not None:
            dh = dh + dy[t]  # (R1') total dh: output[t] also feeds the loss
        dA[t] = dh * act_grad(h[t + 1])  # (R2') da_t = dh_t ⊙ φ'(a_t)
        dh = dA[t] @ weight_hh  # (R1') what h_t sends back to h_{t-1}
    H = h.shape[-1]
    dW_hh = dA.reshape(-1, H).T @ h[:-1].reshape(-1, H)  # (R1') Σ_t dA_tᵀ h_{t-1}: one GEMM
    return dA, dh, dW_hh


def rnn_forward(x, h0, params, nonlinearity="tanh"):
    """The plain vectorised forward: (P) for all steps in one GEMM, then :func:`rnn_recurrence`.

    Same contract as :func:`rnn_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
    h = rnn_recurrence(xw, h0, params["weight_hh"], nonlinearity)  # (R1)–(R2)
    cache = {"x": x, "h": h, "params": params, "nonlinearity": nonlinearity}
    return h[1:], h[-1], cache


def rnn_backward(dy, dh_n, cache):
    """The plain vectorised backward: :func:`rnn_recurrence_backward`, then (P') as single GEMMs.

    Same contract as :func:`rnn_backward_loop`.
    """
    x, h, params = cache["x"], cache["h"], cache["params"]
    dA, dh0, dW_hh = rnn_recurrence_backward(dy, dh_n, h, params["weight_hh"], cache["nonlinearity"])
    dx, grads = layer_gradients(dA, x, params, dW_hh)  # (P')
    return dx, dh0, grads



# ---------------------------------------------------------------------------- the layer


class RNN(RecurrentLayer):
    r"""``torch.nn.RNN`` in NumPy.

    PyTorch's equation, for each element of the input sequence::

        h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)

    (or relu with ``nonlinearity="relu"``).  Parameters: ``weight_ih_l0 (H, D)``,
    ``weight_hh_l0 (H, H)``, ``bias_ih_l0 (H,)``, ``bias_hh_l0 (H,)``, all ~ U(-1/√H, 1/√H);
    with ``num_layers`` N > 1 also ``_l1`` … ``_l{N-1}``, with ``bidirectional=True`` the
    ``_reverse`` ones (K = 2 directions), as torch; ``dropout`` between layers in training mode.

    ``forward(x, hx=None)``: ``x (T, B, D)`` — ``(B, T, D)`` with ``batch_first`` — or unbatched
    ``(T, D)``; ``hx (num_layers·K, B, H)``.  Returns ``output (T, B, K·H)`` (same layout as ``x``) and
    ``h_n (num_layers·K, B, H)``.

    ``backward(grad_output, grad_h_n=None)``: gradients of the loss w.r.t. ``output`` and ``h_n``
    (either may be ``None``).  Accumulates every parameter's ``.grad`` and returns
    ``(grad_input, grad_hx)``.

    ``impl``: ``"fast"`` (the default) runs ``npae/fast/rnn.py``, ``"vectorized"`` the plain
    vectorised functions above, ``"loop"`` the per-step loop.
    """

    n_gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, dtype=np.float32,
                 seed=None, rng=None, impl="fast"):
        check_choice("nonlinearity", nonlinearity, tuple(ACTIVATIONS))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype, seed=seed, rng=rng, impl=impl)
        self.nonlinearity = nonlinearity

    n_states = 1

    def _functions(self):
        fwd, bwd = {"fast": (fast.rnn_forward_fast, fast.rnn_backward_fast),  # looked up per call
                    "vectorized": (rnn_forward, rnn_backward),
                    "loop": (rnn_forward_loop, rnn_backward_loop)}[self.impl]
        nl = self.nonlinearity

        def forward(x, states, params):
            y, h_n, cache = fwd(x, states[0], params, nl)
            return y, (h_n,), cache

        def backward(dy, dstates, cache):
            dx, dh0, grads = bwd(dy, dstates[0], cache)
            return dx, (dh0,), grads

        return forward, backward

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")
