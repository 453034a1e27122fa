"""LSTM: per-step functions, vectorised functions, and the layer class.

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
"""

import numpy as np

from .functional import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .recurrent import RecurrentLayer, input_projection, input_projection_backward


def _split(A, H):
    return A[..., :H], A[..., H:2 * H], A[..., 2 * H:3 * H], A[..., 3 * H:]


# ---------------------------------------------------------------------------- one step


def lstm_cell_forward(x_t, h_prev, c_prev, params):
    """One step, (1)–(7): ``x_t (B, D)``, ``h_prev, c_prev (B, H)`` →
    ``h_t, c_t (B, H)`` and the step's cache ``(i, f, g, o, tanh(c_t))``."""
    H = h_prev.shape[-1]
    A = x_t @ params["weight_ih"].T + h_prev @ params["weight_hh"].T  # (1)
    if params["bias_ih"] is not None:
        A += params["bias_ih"] + params["bias_hh"]  # (1)
    a_i, a_f, a_g, a_o = _split(A, H)
    i = sigmoid(a_i)  # (2)
    f = sigmoid(a_f)  # (3)
    g = tanh(a_g)  # (4)
    o = sigmoid(a_o)  # (5)
    c_t = f * c_prev + i * g  # (6)
    tc = tanh(c_t)
    h_t = o * tc  # (7)
    return h_t, c_t, (i, f, g, o, tc)


def lstm_cell_backward(dh_t, dc_t, x_t, h_prev, c_prev, step_cache, params):
    """One step back: total ``dh_t``, ``dc_t`` → ``dx_t``, ``dh_prev``, ``dc_prev`` and this step's
    parameter gradients ``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}``."""
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
    dx_t = dA @ params["weight_ih"]  # (1')
    dh_prev = dA @ params["weight_hh"]  # (1')
    db = dA.sum(axis=0) if params["bias_ih"] is not None else None  # (1')
    grads = {"weight_ih": dA.T @ x_t, "weight_hh": dA.T @ h_prev, "bias_ih": db, "bias_hh": db}  # (1')
    return dx_t, dh_prev, dc_prev, grads


# ---------------------------------------------------------------------------- plain loops


def lstm_forward_loop(x, h0, c0, params):
    """The plain version: one :func:`lstm_cell_forward` per step.

    ``x (T, B, D)``, ``h0, c0 (B, H)`` → ``output (T, B, H)``, ``(h_n, c_n)``, ``cache``.
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    h = np.empty((T + 1, B, H), dtype=h0.dtype)
    c = np.empty_like(h)
    gates = np.empty((T, B, 4 * H), dtype=h0.dtype)
    tanh_c = np.empty((T, B, H), dtype=h0.dtype)
    h[0], c[0] = h0, c0
    for t in range(T):
        h[t + 1], c[t + 1], (i, f, g, o, tc) = lstm_cell_forward(x[t], h[t], c[t], params)
        gates[t] = np.concatenate([i, f, g, o], axis=-1)
        tanh_c[t] = tc
    cache = {"x": x, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "params": params}
    return h[1:], (h[T], c[T]), cache


def lstm_backward_loop(dy, dh_n, dc_n, cache):
    """The plain version of the backward: one :func:`lstm_cell_backward` per step, newest first.

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


# ---------------------------------------------------------------------------- vectorised


def lstm_recurrence(xw, h0, c0, weight_hh):
    """The truly recurrent part of (1)–(7), given the projected inputs ``xw (T, B, 4H)``.

    ``xw`` may be a broadcast view (the autoencoder's decoder sees one vector at every step).
    Returns ``h, c (T+1, B, H)`` (initial state at index 0), the activated ``gates (T, B, 4H)``
    and ``tanh_c (T, B, H)``.
    """
    T = xw.shape[0]
    B, H = h0.shape
    dtype = h0.dtype
    h = np.empty((T + 1, B, H), dtype=dtype)
    c = np.empty_like(h)
    gates = np.empty((T, B, 4 * H), dtype=dtype)
    tanh_c = np.empty((T, B, H), dtype=dtype)
    tmp = np.empty((B, H), dtype=dtype)
    h[0], c[0] = h0, c0
    W_hhT = weight_hh.T
    for t in range(T):
        A = np.matmul(h[t], W_hhT, out=gates[t])  # (1) recurrent half ...
        A += xw[t]  # ... plus the precomputed input half
        sigmoid(A[:, :2 * H], out=A[:, :2 * H])  # (2) i, (3) f
        tanh(A[:, 2 * H:3 * H], out=A[:, 2 * H:3 * H])  # (4) g
        sigmoid(A[:, 3 * H:], out=A[:, 3 * H:])  # (5) o
        i, f, g, o = _split(A, H)
        np.multiply(f, c[t], out=c[t + 1])  # (6) f ⊙ c_{t-1} ...
        np.multiply(i, g, out=tmp)
        c[t + 1] += tmp  # (6) ... + i ⊙ g
        tanh(c[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=h[t + 1])  # (7)
    return h, c, gates, tanh_c


def lstm_recurrence_backward(dy, dh_n, dc_n, h, c, gates, tanh_c, weight_hh):
    """Backward through :func:`lstm_recurrence`.

    ``dy (T, B, H)``, ``dh_n``, ``dc_n (B, H)`` (each may be ``None``) →
    ``dA (T, B, 4H)`` (gate pre-activation gradients), ``dh0``, ``dc0 (B, H)``, ``dW_hh (4H, H)``.
    """
    T = gates.shape[0]
    H = h.shape[-1]
    dA = np.empty_like(gates)
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (1') h_n = h_T: enters at T
    dc = np.zeros_like(c[0]) if dc_n is None else dc_n.copy()  # (6') c_n = c_T: enters at T
    for t in range(T - 1, -1, -1):  # step t here produced h[t+1], c[t+1]
        if dy is not None:
            dh += dy[t]  # (1') total dh: output[t] also feeds the loss
        i, f, g, o = _split(gates[t], H)
        tc = tanh_c[t]
        da_i, da_f, da_g, da_o = _split(dA[t], H)
        dc += dh * o * tanh_grad_from_output(tc)  # (7')
        np.multiply(dh * tc, sigmoid_grad_from_output(o), out=da_o)  # (7') then (5')
        np.multiply(dc * g, sigmoid_grad_from_output(i), out=da_i)  # (6') then (2')
        np.multiply(dc * c[t], sigmoid_grad_from_output(f), out=da_f)  # (6') then (3')
        np.multiply(dc * i, tanh_grad_from_output(g), out=da_g)  # (6') then (4')
        dc *= f  # (6'): dc_{t-1}
        dh = dA[t] @ weight_hh  # (1'): dh_{t-1}
    dW_hh = dA.reshape(-1, 4 * H).T @ h[:-1].reshape(-1, H)  # (1') one GEMM for all steps
    return dA, dh, dc, dW_hh


def lstm_forward(x, h0, c0, params):
    """Vectorised forward: (P) for all steps in one GEMM, then :func:`lstm_recurrence`.

    Same contract as :func:`lstm_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
    h, c, gates, tanh_c = lstm_recurrence(xw, h0, c0, params["weight_hh"])
    cache = {"x": x, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "params": params}
    return h[1:], (h[-1], c[-1]), cache


def lstm_backward(dy, dh_n, dc_n, cache):
    """Vectorised backward: the recurrence step by step, then (P') as single GEMMs.

    Same contract as :func:`lstm_backward_loop`.
    """
    params = cache["params"]
    dA, dh0, dc0, dW_hh = lstm_recurrence_backward(
        dy, dh_n, dc_n, cache["h"], cache["c"], cache["gates"], cache["tanh_c"], params["weight_hh"])
    dx, dW_ih, db = input_projection_backward(dA, cache["x"], params["weight_ih"])  # (P')
    has_bias = params["bias_ih"] is not None
    grads = {"weight_ih": dW_ih, "weight_hh": dW_hh,
             "bias_ih": db if has_bias else None, "bias_hh": db.copy() if has_bias else None}  # (P')
    return dx, (dh0, dc0), grads


# ---------------------------------------------------------------------------- the layer


class LSTM(RecurrentLayer):
    r"""``torch.nn.LSTM`` (one layer) in NumPy.

    PyTorch's equations, for each element of the input sequence::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    Parameters: ``weight_ih_l0 (4H, D)`` = [W_ii | W_if | W_ig | W_io] stacked by rows,
    ``weight_hh_l0 (4H, H)``, ``bias_ih_l0 (4H,)``, ``bias_hh_l0 (4H,)``, all ~ U(-1/√H, 1/√H).

    ``forward(x, hx=None)``: ``x (T, B, D)`` — ``(B, T, D)`` with ``batch_first`` — or unbatched
    ``(T, D)``; ``hx = (h_0, c_0)``, each ``(1, B, H)``.  Returns ``output`` (layout of ``x``,
    last axis H) and ``(h_n, c_n)``.

    ``backward(grad_output, grad_state=None)`` with ``grad_state = (grad_h_n, grad_c_n)`` (any of
    them may be ``None``): accumulates every parameter's ``.grad`` and returns
    ``(grad_input, (grad_h0, grad_c0))``.

    ``impl="loop"`` runs the plain per-step functions; the default runs the vectorised ones.
    """

    n_gates = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, dtype=np.float32, seed=None,
                 rng=None, impl="vectorized"):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype, seed=seed, rng=rng, impl=impl)

    def forward(self, x, hx=None):
        """(1)–(7): ``x (T, B, D)`` (``(B, T, D)`` if batch_first), ``hx = (h_0, c_0)``, each
        ``(1, B, H)``, or None → ``output`` (layout of x, last axis H), ``(h_n, c_n)``."""
        x, batched = self._time_major_input(x)
        B = x.shape[1]
        if hx is None:
            hx = (None, None)
        elif not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTM hx must be a tuple (h_0, c_0), each of shape (1, B, H)")
        h0 = self._state(hx[0], B, batched, "h_0")
        c0 = self._state(hx[1], B, batched, "c_0")
        fwd = lstm_forward if self.impl == "vectorized" else lstm_forward_loop
        y, (h_n, c_n), cache = fwd(x, h0, c0, self.params())
        self._cache = (cache, batched)
        return self._user_layout(y, batched), (self._state_out(h_n, batched),
                                               self._state_out(c_n, batched))

    def backward(self, grad_output, grad_state=None):
        """(7')–(1'), (P'): gradients of ``output`` and ``(h_n, c_n)`` (any may be None) →
        ``(grad_input, (grad_h0, grad_c0))``; accumulates every parameter's ``.grad``."""
        cache, batched = self._take_cache()
        B = cache["x"].shape[1]
        dy = self._grad_output(grad_output, cache["x"], batched)
        if grad_state is None:
            grad_state = (None, None)
        dh_n = self._grad_state(grad_state[0], B, batched, "grad_h_n")
        dc_n = self._grad_state(grad_state[1], B, batched, "grad_c_n")
        bwd = lstm_backward if self.impl == "vectorized" else lstm_backward_loop
        dx, (dh0, dc0), grads = bwd(dy, dh_n, dc_n, cache)
        self._accumulate(grads)
        return self._user_layout(dx, batched), (self._state_out(dh0, batched),
                                                self._state_out(dc0, batched))
