"""The GRU's fast recurrence: (G2)–(G6) of ``npae/gru.py`` written into preallocated storage.

The same numbers as the plain :func:`npae.gru.gru_recurrence` (``tests/test_fast_paths.py``);
what differs: every step's arithmetic goes through ``out=`` (no allocation), the factors of the
backward that do not involve dh are computed for all steps before the loop, and the backward
stops once the carried gradient has underflowed (npae/fast/underflow.py).
"""

import numpy as np

from ..functional import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from ..recurrent import input_projection, layer_gradients
from .underflow import quiet_steps, stop_if_underflowed, underflow_threshold


def gru_recurrence_fast(xw, h0, weight_hh, bias_hh):
    """The truly recurrent part — (G2) the recurrent half, (G3) r, (G4) z, (G5) n, (G6) h_t —
    given the input halves ``xw = A (T, B, 3H)`` of all steps (a broadcast view when the input is
    the same at every step).

    Returns ``h (T+1, B, H)`` with ``h[0] = h0``, ``gates (T, B, 3H)`` and ``c_n (T, B, H)``.
    The loop is :func:`npae.gru.gru_cell_gates` written into preallocated storage (``out=``): one GEMM
    and a dozen elementwise calls per step, no allocation.
    """
    T = xw.shape[0]
    B, H = h0.shape
    h = np.empty((T + 1, B, H), dtype=h0.dtype)
    gates = np.empty((T, B, 3 * H), dtype=h0.dtype)
    c_n = np.empty((T, B, H), dtype=h0.dtype)
    C = np.empty((B, 3 * H), dtype=h0.dtype)
    W_hhT = weight_hh.T
    h[0] = h0
    for t in range(T):  # only the recurrent product h_{t-1} W_hhᵀ and the gate arithmetic
        np.matmul(h[t], W_hhT, out=C)  # (G2)
        if bias_hh is not None:
            np.add(C, bias_hh, out=C)  # (G2)
        g, rz, n = gates[t], gates[t, :, :2 * H], gates[t, :, 2 * H:]
        np.add(xw[t, :, :2 * H], C[:, :2 * H], out=rz)
        sigmoid(rz, out=rz)  # (G3) r and (G4) z, side by side
        c_n[t] = C[:, 2 * H:]
        np.multiply(g[:, :H], c_n[t], out=n)  # (G5) r ⊙ c_n ...
        np.add(n, xw[t, :, 2 * H:], out=n)  # ... + a_n
        tanh(n, out=n)  # (G5)
        np.subtract(h[t], n, out=h[t + 1])  # (G6) h_t = n + z ⊙ (h_{t-1} - n)
        np.multiply(h[t + 1], g[:, H:2 * H], out=h[t + 1])  # (G6)
        np.add(h[t + 1], n, out=h[t + 1])  # (G6)
    return h, gates, c_n


def gru_recurrence_backward_fast(dy, dh_n, h, gates, c_n, weight_hh):
    """Backward through :func:`gru_recurrence_fast`: (G6') through h_t, (G5') through n, (G4') through z,
    (G3') through r at each step, (G2') back to h_{t-1}; after the loop dW_hh and db_hh as one
    GEMM / one sum over all steps.

    ``dy (T, B, H)`` or ``None``, ``dh_n (B, H)`` or ``None`` → ``dA (T, B, 3H)`` (gradients of
    the input halves), ``dh0 (B, H)``, ``dW_hh (3H, H)``, ``db_hh (3H,)``.

    Every factor of (G3')–(G6') that does not involve dh depends on the forward's outputs only,
    so it is computed for all steps before the loop; a step is then seven elementwise calls and
    one GEMM (the same numbers as :func:`npae.gru.gru_gates_backward`, in a different grouping).  Where no
    upstream gradient arrives any more (an encoder) the loop stops once dh has underflowed, as
    the RNN's and the LSTM's do (npae/fast/underflow.py).
    """
    T, B, H = c_n.shape
    r, z, n = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:]
    F_n = (1 - z) * tanh_grad_from_output(n)  # (G6') dn = dh ⊙ (1-z), (G5') da_n = dn ⊙ (1-n²)
    F_z = (h[:-1] - n) * sigmoid_grad_from_output(z)  # (G6') dz = dh ⊙ (h_{t-1} - n), (G4')
    F_r = c_n * sigmoid_grad_from_output(r)  # (G5') dr = da_n ⊙ c_n, (G3') da_r = dr ⊙ r(1-r)
    dA = np.empty((T, B, 3 * H), dtype=h.dtype)
    dC = np.empty((T, B, 3 * H), dtype=h.dtype)
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (G6') h_n = h_T: enters at T
    tmp = np.empty_like(dh)
    flush = underflow_threshold(dh.dtype)  # npae/fast/underflow.py
    quiet = quiet_steps(dy, flush)
    for t in range(T - 1, -1, -1):
        if stop_if_underflowed(flush if t < quiet else None, T - 1 - t, dA[:t + 1], dh):
            dC[:t + 1] = 0  # nothing reaches steps t … 0 any more: their gradients are zero
            break
        if dy is not None:
            np.add(dh, dy[t], out=dh)  # (G6') total dh: output[t] also feeds the loss
        da_n = np.multiply(dh, F_n[t], out=dA[t, :, 2 * H:])  # (G6') (G5') da_n
        np.multiply(dh, F_z[t], out=dA[t, :, H:2 * H])  # (G6') (G4') da_z
        np.multiply(da_n, F_r[t], out=dA[t, :, :H])  # (G5') (G3') da_r
        dC[t, :, :2 * H] = dA[t, :, :2 * H]  # (G3') (G4') dc_r = da_r, dc_z = da_z
        np.multiply(da_n, r[t], out=dC[t, :, 2 * H:])  # (G5') dc_n = da_n ⊙ r
        np.matmul(dC[t], weight_hh, out=tmp)  # (G2') what (G2) sends back to h_{t-1} ...
        np.multiply(dh, z[t], out=dh)  # (G6') ... plus the direct carry dh ⊙ z
        np.add(dh, tmp, out=dh)  # (G2')
    dC2 = dC.reshape(-1, 3 * H)
    dW_hh = dC2.T @ h[:-1].reshape(-1, H)  # (G2') Σ_t dC_tᵀ h_{t-1}, one GEMM
    return dA, dh, dW_hh, dC2.sum(axis=0)  # (G2') db_hh = Σ_t Σ_b dC_t


def gru_forward_fast(x, h0, params):
    """The layer's fast forward: (G1) for all steps in one GEMM, then :func:`gru_recurrence_fast`.

    Same contract as :func:`npae.gru.gru_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"])  # (G1), all steps: (P) without b_hh
    h, gates, c_n = gru_recurrence_fast(xw, h0, params["weight_hh"], params["bias_hh"])
    cache = {"x": x, "h": h, "gates": gates, "c_n": c_n, "params": params}
    return h[1:], h[-1], cache


def gru_backward_fast(dy, dh_n, cache):
    """The layer's fast backward, the contract of :func:`npae.gru.gru_backward`:
    :func:`gru_recurrence_backward_fast`, then (G1') as single GEMMs."""
    p = cache["params"]
    dA, dh0, dW_hh, db_hh = gru_recurrence_backward_fast(dy, dh_n, cache["h"], cache["gates"],
                                                         cache["c_n"], p["weight_hh"])
    dx, grads = layer_gradients(dA, cache["x"], p, dW_hh, db_hh)  # (G1'), and b_hh's own (G2')
    return dx, dh0, grads
