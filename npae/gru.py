"""GRU: the one-step functions, the per-step loop, the plain vectorised functions, the layer.

Forward, for t = 1 … T (gate rows in torch's order r, z, n; each block is H wide).  The input
half and the recurrent half of the pre-activations are kept apart, because torch's candidate
gate multiplies only the recurrent half (``b_hn`` included) by the reset gate::

    (G1)  A_t = x_t W_ihᵀ + b_ih       = [a_r | a_z | a_n]                      (B, 3H)
    (G2)  C_t = h_{t-1} W_hhᵀ + b_hh   = [c_r | c_z | c_n]                      (B, 3H)
    (G3)  r_t = σ(a_r + c_r)           reset gate
    (G4)  z_t = σ(a_z + c_z)           update gate
    (G5)  n_t = tanh(a_n + r_t ⊙ c_n)  candidate state
    (G6)  h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
          output = (h_1, …, h_T),  h_n = h_T

Backward, newest step first; ``dh_t`` is the total gradient at h_t (``output[t]``'s gradient plus
what step t+1 sends back through (G2) and (G6))::

    (G6') dn_t = dh_t ⊙ (1 - z_t)    dz_t = dh_t ⊙ (h_{t-1} - n_t)    dh_{t-1} = dh_t ⊙ z_t
    (G5') da_n = dn_t ⊙ (1 - n_t²)   dc_n = da_n ⊙ r_t                 dr_t = da_n ⊙ c_n
    (G4') da_z = dc_z = dz_t ⊙ z_t (1 - z_t)
    (G3') da_r = dc_r = dr_t ⊙ r_t (1 - r_t)
    (G2') dh_{t-1} += dC_t W_hh      dW_hh = Σ_t dC_tᵀ h_{t-1}          db_hh = Σ_t Σ_b dC_t
    (G1') dx_t = dA_t W_ih           dW_ih = Σ_t dA_tᵀ x_t              db_ih = Σ_t Σ_b dA_t

with ``dA_t = [da_r | da_z | da_n]`` and ``dC_t = [da_r | da_z | dc_n]``: the two halves share the
r and z rows and differ in the n rows, so — unlike the RNN and the LSTM — the two biases get
different gradients.  The cache keeps ``h (T+1, B, H)`` with ``h[0] = h_0``, the activated gates
``(T, B, 3H)`` and ``c_n (T, B, H)``: every derivative is taken from an output.

The layer runs ``npae/fast/gru.py`` by default (``impl="fast"``): the same numbers, computed in
place; skip it on a first reading.
"""

import numpy as np

from .functional import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .fast import gru as fast
from .recurrent import RecurrentLayer, input_projection, layer_gradients


def _split(A, H):
    return A[..., :H], A[..., H:2 * H], A[..., 2 * H:]


# ---------------------------------------------------------------------------- one step


def gru_cell_gates(a, h_prev, weight_hh, bias_hh):
    """(G2)–(G6) given the input half ``a = A_t (B, 3H)``: → ``h_t (B, H)``, the activated gates
    ``(B, 3H)`` (r, z, n) and ``c_n (B, H)``."""
    H = h_prev.shape[-1]
    C = h_prev @ weight_hh.T  # (G2)
    if bias_hh is not None:
        C += bias_hh  # (G2)
    a_r, a_z, a_n = _split(a, H)
    c_r, c_z, c_n = _split(C, H)
    r = sigmoid(a_r + c_r)  # (G3)
    z = sigmoid(a_z + c_z)  # (G4)
    n = tanh(a_n + r * c_n)  # (G5)
    h_t = (1 - z) * n + z * h_prev  # (G6)
    return h_t, np.concatenate([r, z, n], axis=-1), c_n


def gru_cell_forward(x_t, h_prev, params):
    """One step, (G1)–(G6): ``x_t (B, D)``, ``h_prev (B, H)`` → ``h_t (B, H)`` and the step's cache
    ``(gates (B, 3H), c_n (B, H))``."""
    a = x_t @ params["weight_ih"].T  # (G1)
    if params["bias_ih"] is not None:
        a += params["bias_ih"]  # (G1)
    h_t, gates, c_n = gru_cell_gates(a, h_prev, params["weight_hh"], params["bias_hh"])
    return h_t, (gates, c_n)


def gru_gates_backward(dh_t, h_prev, gates, c_n):
    """(G6')–(G3') for one step: total ``dh_t (B, H)`` → ``dA_t``, ``dC_t (B, 3H)`` and the direct
    part of ``dh_{t-1}`` (the part through ``z_t ⊙ h_{t-1}``)."""
    H = h_prev.shape[-1]
    r, z, n = _split(gates, H)
    dn = dh_t * (1 - z)  # (G6')
    dz = dh_t * (h_prev - n)  # (G6')
    dh_prev = dh_t * z  # (G6')
    da_n = dn * tanh_grad_from_output(n)  # (G5')
    dc_n = da_n * r  # (G5')
    dr = da_n * c_n  # (G5')
    da_z = dz * sigmoid_grad_from_output(z)  # (G4')
    da_r = dr * sigmoid_grad_from_output(r)  # (G3')
    dA = np.concatenate([da_r, da_z, da_n], axis=-1)
    dC = np.concatenate([da_r, da_z, dc_n], axis=-1)
    return dA, dC, dh_prev


def gru_cell_backward(dh_t, x_t, h_prev, step_cache, params):
    """One step back: total ``dh_t`` → ``dx_t``, ``dh_prev`` and this step's parameter gradients
    ``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}``: (G6') (G5') (G4') (G3') through the gates
    (:func:`gru_gates_backward`), then (G2') and (G1')."""
    gates, c_n = step_cache
    dA, dC, dh_prev = gru_gates_backward(dh_t, h_prev, gates, c_n)  # (G6')–(G3')
    dh_prev = dh_prev + dC @ params["weight_hh"]  # (G2')
    dx_t = dA @ params["weight_ih"]  # (G1')
    has_bias = params["bias_ih"] is not None
    grads = {"weight_ih": dA.T @ x_t, "weight_hh": dC.T @ h_prev,  # (G1') (G2')
             "bias_ih": dA.sum(axis=0) if has_bias else None,  # (G1')
             "bias_hh": dC.sum(axis=0) if has_bias else None}  # (G2')
    return dx_t, dh_prev, grads


# ---------------------------------------------------------------------------- per-step loop


def gru_forward_loop(x, h0, params):
    """The per-step version: one :func:`gru_cell_forward` per step.

    ``x (T, B, D)``, ``h0 (B, H)`` → ``output (T, B, H)``, ``h_n (B, H)``, ``cache``.
    """
    T, B, _ = x.shape
    H = h0.shape[-1]
    h = np.empty((T + 1, B, H), dtype=h0.dtype)
    gates = np.empty((T, B, 3 * H), dtype=h0.dtype)
    c_n = np.empty((T, B, H), dtype=h0.dtype)
    h[0] = h0
    for t in range(T):
        h[t + 1], (gates[t], c_n[t]) = gru_cell_forward(x[t], h[t], params)
    cache = {"x": x, "h": h, "gates": gates, "c_n": c_n, "params": params}
    return h[1:], h[T], cache


def gru_backward_loop(dy, dh_n, cache):
    """The per-step version of the backward: one :func:`gru_cell_backward` per step, newest first.

    ``dy (T, B, H)`` (or ``None``) and ``dh_n (B, H)`` (or ``None``) →
    ``dx (T, B, D)``, ``dh0 (B, H)``, ``grads`` (torch's shapes).
    """
    x, h, params = cache["x"], cache["h"], cache["params"]
    T = x.shape[0]
    dx = np.empty(x.shape, dtype=h.dtype)
    grads = {k: None if v is None else np.zeros_like(v) for k, v in params.items()}
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (G6') h_n = h_T: enters at T
    for t in range(T - 1, -1, -1):
        if dy is not None:
            dh = dh + dy[t]  # (G6') total dh: output[t] also feeds the loss
        step_cache = (cache["gates"][t], cache["c_n"][t])
        dx[t], dh, g = gru_cell_backward(dh, x[t], h[t], step_cache, params)
        for k in grads:
            if grads[k] is not None:
                grads[k] += g[k]  # (G1') (G2') shared weights: sum over time
    return dx, dh, grads


# ---------------------------------------------------------------------------- plain vectorised
#
# (G1) is not recurrent, so it is one GEMM for all steps before the loop; the loop keeps (G2)–(G6)
# (:func:`gru_cell_gates`); after the backward loop, dW_hh and db_hh are one GEMM / one sum.


def gru_recurrence(xw, h0, weight_hh, bias_hh):
    """The truly recurrent part — (G2) the recurrent half, (G3) r, (G4) z, (G5) n, (G6) h_t —
    given the input halves ``xw = A (T, B, 3H)`` of all steps (a broadcast view when the input is
    the same at every step).

    Returns ``h (T+1, B, H)`` with ``h[0] = h0``, ``gates (T, B, 3H)`` and ``c_n (T, B, H)``:
    one :func:`gru_cell_gates` per step.
    """
    T = xw.shape[0]
    B, H = h0.shape
    h = np.empty((T + 1, B, H), dtype=h0.dtype)
    gates = np.empty((T, B, 3 * H), dtype=h0.dtype)
    c_n = np.empty((T, B, H), dtype=h0.dtype)
    h[0] = h0
    for t in range(T):
        h[t + 1], gates[t], c_n[t] = gru_cell_gates(xw[t], h[t], weight_hh, bias_hh)  # (G2)–(G6)
    return h, gates, c_n


def gru_recurrence_backward(dy, dh_n, h, gates, c_n, weight_hh):
    """Backward through :func:`gru_recurrence`: (G6') through h_t, (G5') through n, (G4') through z,
    (G3') through r at each step (:func:`gru_gates_backward`), (G2') back to h_{t-1}; after the
    loop dW_hh and db_hh as one GEMM / one sum over all steps.

    ``dy (T, B, H)`` or ``None``, ``dh_n (B, H)`` or ``None`` → ``dA (T, B, 3H)`` (gradients of
    the input halves), ``dh0 (B, H)``, ``dW_hh (3H, H)``, ``db_hh (3H,)``.
    """
    T, B, H = c_n.shape
    dA = np.empty((T, B, 3 * H), dtype=h.dtype)
    dC = np.empty((T, B, 3 * H), dtype=h.dtype)
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (G6') h_n = h_T: enters at T
    for t in range(T - 1, -1, -1):
        if dy is not None:
            dh = dh + dy[t]  # (G6') total dh: output[t] also feeds the loss
        dA[t], dC[t], dh_direct = gru_gates_backward(dh, h[t], gates[t], c_n[t])  # (G6')–(G3')
        dh = dh_direct + dC[t] @ weight_hh  # (G2') through C_t = h_{t-1} W_hhᵀ + b_hh
    dC2 = dC.reshape(-1, 3 * H)
    dW_hh = dC2.T @ h[:-1].reshape(-1, H)  # (G2') Σ_t dC_tᵀ h_{t-1}, one GEMM
    return dA, dh, dW_hh, dC2.sum(axis=0)  # (G2') db_hh = Σ_t Σ_b dC_t


def gru_forward(x, h0, params):
    """The plain vectorised forward: (G1) for all steps in one GEMM, then :func:`gru_recurrence`.

    Same contract as :func:`gru_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"])  # (G1), all steps: (P) without b_hh
    h, gates, c_n = gru_recurrence(xw, h0, params["weight_hh"], params["bias_hh"])
    cache = {"x": x, "h": h, "gates": gates, "c_n": c_n, "params": params}
    return h[1:], h[-1], cache


def gru_backward(dy, dh_n, cache):
    """The plain vectorised backward: :func:`gru_recurrence_backward`, then (G1') as single GEMMs.

    Same contract as :func:`gru_backward_loop`; ``x`` in the cache may be a broadcast view (then
    ``dx`` is ``(B, D)``, every step's share summed, as :func:`npae.recurrent.input_projection_backward`).
    """
    x, params = cache["x"], cache["params"]
    dA, dh0, dW_hh, db_hh = gru_recurrence_backward(dy, dh_n, cache["h"], cache["gates"], cache["c_n"],
                                                    params["weight_hh"])
    dx, grads = layer_gradients(dA, x, params, dW_hh, db_hh)  # (G1'), and b_hh's own (G2')
    return dx, dh0, grads



# ---------------------------------------------------------------------------- the layer


class GRU(RecurrentLayer):
    r"""``torch.nn.GRU`` in NumPy.

    PyTorch's equations, for each element of the input sequence::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Parameters: ``weight_ih_l0 (3H, D)`` = [W_ir | W_iz | W_in] stacked by rows,
    ``weight_hh_l0 (3H, H)``, ``bias_ih_l0 (3H,)``, ``bias_hh_l0 (3H,)``, all ~ U(-1/√H, 1/√H);
    with ``num_layers`` / ``bidirectional`` also ``_l{k}`` and ``_reverse`` ones, as torch.

    ``forward(x, hx=None)``: ``x (T, B, D)`` — ``(B, T, D)`` with ``batch_first`` — or unbatched
    ``(T, D)``; ``hx (num_layers·num_directions, B, H)``.  Returns ``output (T, B, num_directions·H)``
    (same layout as ``x``) and ``h_n``.  ``backward(grad_output, grad_h_n=None)`` as :class:`npae.RNN`.

    ``impl``: ``"fast"`` (the default) runs ``npae/fast/gru.py``, ``"vectorized"`` the plain
    vectorised functions above, ``"loop"`` the per-step loop.
    """

    n_gates = 3
    n_states = 1

    def _functions(self):
        fwd, bwd = {"fast": (fast.gru_forward_fast, fast.gru_backward_fast),  # looked up per call
                    "vectorized": (gru_forward, gru_backward),
                    "loop": (gru_forward_loop, gru_backward_loop)}[self.impl]

        def forward(x, states, params):
            y, h_n, cache = fwd(x, states[0], params)
            return y, (h_n,), cache

        def backward(dy, dstates, cache):
            dx, dh0, grads = bwd(dy, dstates[0], cache)
            return dx, (dh0,), grads

        return forward, backward
