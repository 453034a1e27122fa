"""LSTM: the one-step functions, the per-step loop, the plain vectorised functions, the layer.

Forward, for t = 1 … T (gate rows in torch's order i, f, g, o; each block is H wide)::

    (1)  A_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh = [a_i | a_f | a_g | a_o]     (B, 4H)
    (2)  i_t = σ(a_i)          input gate
    (3)  f_t = σ(a_f)          forget gate
    (4)  g_t = tanh(a_g)       candidate cell
    (5)  o_t = σ(a_o)          output gate
    (6)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    (7)  h_t = o_t ⊙ tanh(c_t)
         output = (h_1, …, h_T),  h_n = h_T,  c_n = c_T

Backward, newest step first.  ``dh_t`` is the total gradient at h_t (``output[t]``'s gradient
plus what step t+1 sends back through (1)); ``dc_t`` likewise collects from (7) at this step and
from (6) at step t+1::

    (7')  do_t = dh_t ⊙ tanh(c_t)              dc_t += dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))
    (6')  di_t = dc_t ⊙ g_t   dg_t = dc_t ⊙ i_t   df_t = dc_t ⊙ c_{t-1}   dc_{t-1} = dc_t ⊙ f_t
    (2')–(5')  da_i = di ⊙ i(1-i)   da_f = df ⊙ f(1-f)   da_g = dg ⊙ (1-g²)   da_o = do ⊙ o(1-o)
    (1')  dh_{t-1} = dA_t W_hh        dx_t = dA_t W_ih
          dW_hh = Σ_t dA_tᵀ h_{t-1}   dW_ih = Σ_t dA_tᵀ x_t   db_ih = db_hh = Σ_t Σ_b dA_t

The cache keeps the *activated* gates ``(T, B, 4H)``, ``h`` and ``c`` as ``(T+1, B, H)`` arrays
with the initial state at index 0, and ``tanh(c_t)``: every derivative is taken from an output.

Three rungs, each the same numbers (``tests/test_layers.py``, ``tests/test_fast_paths.py``):
one step (:func:`lstm_cell_forward`), the per-step loop (:func:`lstm_forward_loop`), and the plain
vectorised version (:func:`lstm_forward`): (P) for all steps as one GEMM, a loop over the
recurrent product h_{t-1} W_hhᵀ only, and one GEMM per weight gradient after the backward loop.
The layer runs the tuned kernel of ``npae/fast/lstm.py`` by default (``impl="fast"``), which
computes the same thing faster; skip it on a first reading.
"""

import numpy as np

from .fast import lstm as fast
from .functional import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .recurrent import RecurrentLayer, input_projection, layer_gradients


def _split(A, H):
    return A[..., :H], A[..., H:2 * H], A[..., 2 * H:3 * H], A[..., 3 * H:]


# ---------------------------------------------------------------------------- one step


def lstm_gates(A, c_prev):
    """(2)–(7) from one step's pre-activations ``A (B, 4H)`` and ``c_prev (B, H)`` →
    ``h_t, c_t (B, H)`` and the step's cache ``(i, f, g, o, tanh(c_t))``."""
    a_i, a_f, a_g, a_o = _split(A, c_prev.shape[-1])
    i = sigmoid(a_i)  # (2)
    f = sigmoid(a_f)  # (3)
    g = tanh(a_g)  # (4)
    o = sigmoid(a_o)  # (5)
    c_t = f * c_prev + i * g  # (6)
    tc = tanh(c_t)
    h_t = o * tc  # (7)
    return h_t, c_t, (i, f, g, o, tc)


def lstm_cell_forward(x_t, h_prev, c_prev, params):
    """One step, (1)–(7): ``x_t (B, D)``, ``h_prev, c_prev (B, H)`` →
    ``h_t, c_t (B, H)`` and the step's cache ``(i, f, g, o, tanh(c_t))``."""
    A = x_t @ params["weight_ih"].T + h_prev @ params["weight_hh"].T  # (1)
    if params["bias_ih"] is not None:
        A += params["bias_ih"] + params["bias_hh"]  # (1)
    return lstm_gates(A, c_prev)  # (2)–(7)


def lstm_gates_backward(dh_t, dc_t, c_prev, step_cache):
    """(7')–(2') for one step: the total ``dh_t``, ``dc_t`` → the pre-activation gradient
    ``dA (B, 4H)`` and ``dc_prev``, the cell carry to step t-1."""
    i, f, g, o, tc = step_cache
    do = dh_t * tc  # (7')
    dc = dc_t + dh_t * o * tanh_grad_from_output(tc)  # (7')
    di = dc * g  # (6')
    dg = dc * i  # (6')
    df = dc * c_prev  # (6')
    dc_prev = dc * f  # (6')
    dA = np.concatenate([
        di * sigmoid_grad_from_output(i),  # (2')
        df * sigmoid_grad_from_output(f),  # (3')
        dg * tanh_grad_from_output(g),  # (4')
        do * sigmoid_grad_from_output(o),  # (5')
    ], axis=-1)
    return dA, dc_prev


def lstm_cell_backward(dh_t, dc_t, x_t, h_prev, c_prev, step_cache, params):
    """One step back: total ``dh_t``, ``dc_t`` → ``dx_t``, ``dh_prev``, ``dc_prev`` and this step's
    parameter gradients ``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}``."""
    dA, dc_prev = lstm_gates_backward(dh_t, dc_t, c_prev, step_cache)  # (7')–(2')
    dx_t = dA @ params["weight_ih"]  # (1')
    dh_prev = dA @ params["weight_hh"]  # (1')
    db = dA.sum(axis=0) if params["bias_ih"] is not None else None  # (1')
    grads = {"weight_ih": dA.T @ x_t, "weight_hh": dA.T @ h_prev, "bias_ih": db, "bias_hh": db}  # (1')
    return dx_t, dh_prev, dc_prev, grads


# ---------------------------------------------------------------------------- per-step loop


def _storage(T, B, H, dtype):
    """The cache's arrays: ``h, c (T+1, B, H)``, ``gates (T, B, 4H)``, ``tanh_c (T, B, H)``."""
    return (np.empty((T + 1, B, H), dtype), np.empty((T + 1, B, H), dtype),
            np.empty((T, B, 4 * H), dtype), np.empty((T, B, H), dtype))


def lstm_forward_loop(x, h0, c0, params):
    """The per-step version: one :func:`lstm_cell_forward` per step.

    ``x (T, B, D)``, ``h0, c0 (B, H)`` → ``output (T, B, H)``, ``(h_n, c_n)``, ``cache``.
    """
    T, B, _ = x.shape
    h, c, gates, tanh_c = _storage(T, B, h0.shape[-1], h0.dtype)
    h[0], c[0] = h0, c0
    for t in range(T):
        h[t + 1], c[t + 1], step = lstm_cell_forward(x[t], h[t], c[t], params)
        gates[t], tanh_c[t] = np.concatenate(step[:4], axis=-1), step[4]
    cache = {"x": x, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "params": params}
    return h[1:], (h[T], c[T]), cache


def lstm_backward_loop(dy, dh_n, dc_n, cache):
    """The per-step version of the backward: one :func:`lstm_cell_backward` per step, newest first.

    ``dy (T, B, H)``, ``dh_n``, ``dc_n (B, H)`` (each may be ``None``) →
    ``dx (T, B, D)``, ``(dh0, dc0)``, ``grads``.
    """
    x, h, c, params = cache["x"], cache["h"], cache["c"], cache["params"]
    gates, tanh_c = cache["gates"], cache["tanh_c"]
    T, H = x.shape[0], h.shape[-1]
    dx = np.empty_like(x)
    grads = {k: None if v is None else np.zeros_like(v) for k, v in params.items()}
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (1') h_n = h_T: enters at T
    dc = np.zeros_like(c[0]) if dc_n is None else dc_n.copy()  # (6') c_n = c_T: enters at T
    for t in range(T - 1, -1, -1):
        if dy is not None:
            dh += dy[t]  # (1') total dh: output[t] also feeds the loss
        step_cache = _split(gates[t], H) + (tanh_c[t],)
        dx[t], dh, dc, g = lstm_cell_backward(dh, dc, x[t], h[t], c[t], step_cache, params)
        for k in grads:
            if grads[k] is not None:
                grads[k] += g[k]  # (1') shared weights: sum over time
    return dx, (dh, dc), grads


# ---------------------------------------------------------------------------- plain vectorised
#
# Nothing of (P) is recurrent, so the input half of (1) for all steps is one GEMM before the loop
# (npae/recurrent.py); the loop keeps only h_{t-1} W_hhᵀ and the gates; after the backward loop,
# every weight gradient is one GEMM over the joint (t, b) axis.


def lstm_recurrence(xw, h0, c0, weight_hh):
    """The truly recurrent part — (1) the pre-activations, the gates (2) i, (3) f, (4) g, (5) o,
    (6) c_t and (7) h_t — for every step, given the projected inputs ``xw (T, B, 4H)`` of (P).

    ``xw`` may be a broadcast view (the autoencoder's decoder sees one vector at every step).
    Returns ``h, c (T+1, B, H)`` (initial state at index 0), the activated ``gates (T, B, 4H)``
    and ``tanh_c (T, B, H)``.
    """
    T = xw.shape[0]
    B, H = h0.shape
    h, c, gates, tanh_c = _storage(T, B, H, h0.dtype)
    h[0], c[0] = h0, c0
    for t in range(T):
        A = xw[t] + h[t] @ weight_hh.T  # (1): the input half from (P), plus the recurrent half
        h[t + 1], c[t + 1], step = lstm_gates(A, c[t])  # (2)–(7)
        gates[t], tanh_c[t] = np.concatenate(step[:4], axis=-1), step[4]
    return h, c, gates, tanh_c


def lstm_recurrence_backward(dy, dh_n, dc_n, h, c, gates, tanh_c, weight_hh):
    """Backward through :func:`lstm_recurrence`: (7') through h_t, (6') through c_t and its carry,
    (2') (3') (4') (5') through the gates, (1') back to h_{t-1}, and dW_hh after the loop.

    ``dy (T, B, H)``, ``dh_n``, ``dc_n (B, H)`` (each may be ``None``) →
    ``dA (T, B, 4H)`` (gate pre-activation gradients), ``dh0``, ``dc0 (B, H)``, ``dW_hh (4H, H)``.
    """
    T, B, H = tanh_c.shape
    dA = np.empty_like(gates)
    dh = np.zeros((B, H), h.dtype) if dh_n is None else dh_n.copy()  # (1') h_n = h_T: enters at T
    dc = np.zeros((B, H), h.dtype) if dc_n is None else dc_n.copy()  # (6') c_n = c_T: enters at T
    for t in range(T - 1, -1, -1):
        if dy is not None:
            dh = dh + dy[t]  # (1') total dh: output[t] also feeds the loss
        step_cache = _split(gates[t], H) + (tanh_c[t],)
        dA[t], dc = lstm_gates_backward(dh, dc, c[t], step_cache)  # (7')–(2')
        dh = dA[t] @ weight_hh  # (1') dh_{t-1} = dA_t W_hh
    dW_hh = dA.reshape(-1, 4 * H).T @ h[:-1].reshape(-1, H)  # (1') Σ_t dA_tᵀ h_{t-1}: one GEMM
    return dA, dh, dc, dW_hh


def lstm_forward(x, h0, c0, params):
    """The plain vectorised forward: (P) for all steps in one GEMM, then :func:`lstm_recurrence`.

    Same contract as :func:`lstm_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
    h, c, gates, tanh_c = lstm_recurrence(xw, h0, c0, params["weight_hh"])  # (1)–(7)
    cache = {"x": x, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "params": params}
    return h[1:], (h[-1], c[-1]), cache


def lstm_backward(dy, dh_n, dc_n, cache):
    """The plain vectorised backward: :func:`lstm_recurrence_backward`, then (P') as single GEMMs.

    Same contract as :func:`lstm_backward_loop`; ``x`` in the cache may be a broadcast view (then
    ``dx`` is ``(B, D)``, every step's share summed, as
    :func:`npae.recurrent.input_projection_backward`).
    """
    params = cache["params"]
    dA, dh0, dc0, dW_hh = lstm_recurrence_backward(dy, dh_n, dc_n, cache["h"], cache["c"],
                                                   cache["gates"], cache["tanh_c"],
                                                   params["weight_hh"])  # (7')–(1')
    dx, grads = layer_gradients(dA, cache["x"], params, dW_hh)  # (P')
    return dx, (dh0, dc0), grads



# ---------------------------------------------------------------------------- the layer


class LSTM(RecurrentLayer):
    r"""``torch.nn.LSTM`` in NumPy.

    PyTorch's equations, for each element of the input sequence::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    Parameters: ``weight_ih_l0 (4H, D)`` = [W_ii | W_if | W_ig | W_io] stacked by rows,
    ``weight_hh_l0 (4H, H)``, ``bias_ih_l0 (4H,)``, ``bias_hh_l0 (4H,)``, all ~ U(-1/√H, 1/√H);
    ``_l{k}`` / ``_reverse`` ones with ``num_layers`` / ``bidirectional``, as torch.

    ``forward(x, hx=None)``: ``x (T, B, D)`` — ``(B, T, D)`` with ``batch_first`` — or unbatched
    ``(T, D)``; ``hx = (h_0, c_0)``, each ``(num_layers·K, B, H)``.  Returns ``output`` (layout of ``x``,
    last axis K·H) and ``(h_n, c_n)``.

    ``backward(grad_output, grad_state=None)`` with ``grad_state = (grad_h_n, grad_c_n)`` (any of
    them may be ``None``): accumulates every parameter's ``.grad`` and returns
    ``(grad_input, (grad_h0, grad_c0))``.

    ``impl``: ``"fast"`` (the default) runs the tuned kernel of ``npae/fast/lstm.py``,
    ``"vectorized"`` the plain vectorised functions above, ``"loop"`` the per-step loop.
    """

    n_gates = 4
    n_states = 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32, seed=None,
                 rng=None, impl="fast"):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype, seed=seed, rng=rng, impl=impl)

    def _functions(self):
        fwd, bwd = {"fast": (fast.lstm_forward_fast, fast.lstm_backward_fast),  # looked up per call
                    "vectorized": (lstm_forward, lstm_backward),
                    "loop": (lstm_forward_loop, lstm_backward_loop)}[self.impl]

        def forward(x, states, params):
            return fwd(x, states[0], states[1], params)

        def backward(dy, dstates, cache):
            return bwd(dy, dstates[0], dstates[1], cache)

        return forward, backward

    def forward(self, x, hx=None):
        """(1)–(7), layer after layer (S1)–(S2): ``x (T, B, D)`` (``(B, T, D)`` if batch_first),
        ``hx = (h_0, c_0)``, each ``(num_layers·K, B, H)``, or None → ``output`` (layout of x, last axis
        K·H), ``(h_n, c_n)``."""
        if hx is None:
            hx = (None, None)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTM hx must be a tuple (h_0, c_0), each of shape (num_layers·num_directions, B, H)")
        y, (h_n, c_n) = self._run(x, list(hx))
        return y, (h_n, c_n)

    def backward(self, grad_output, grad_state=None):
        """(7')–(1'), (P'), layer after layer (S2')–(S1'): gradients of ``output`` and
        ``(h_n, c_n)`` (any may be None) → ``(grad_input, (grad_h0, grad_c0))``; accumulates every
        parameter's ``.grad``."""
        if grad_state is None:
            grad_state = (None, None)
        dx, (dh0, dc0) = self._run_backward(grad_output, list(grad_state))
        return dx, (dh0, dc0)
