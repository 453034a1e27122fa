"""The RNN's fast recurrence: (R1)–(R2) of ``npae/rnn.py`` in place, with reused buffers.

The same numbers as the plain :func:`npae.rnn.rnn_recurrence` (``tests/test_fast_paths.py``);
what differs: the loop writes into preallocated storage (three calls a step, no allocation), the
activation's derivative is taken for all steps before the backward loop, and the backward stops
once the carried gradient has underflowed (npae/fast/underflow.py).
"""

import numpy as np

from ..functional import ACTIVATIONS
from ..recurrent import input_projection, is_broadcast, layer_gradients
from .buffers import buffer
from .layout import batch_major
from .underflow import quiet_steps, stop_if_underflowed, underflow_threshold


def rnn_recurrence_fast(xw, h0, weight_hh, nonlinearity="tanh", work=None):
    """The truly recurrent part of (R1)–(R2), given the projected inputs ``xw (T, B, H)``.

    ``xw`` may be a broadcast view (the autoencoder's decoder sees one vector at every step).
    Returns ``h (T+1, B, H)`` with ``h[0] = h0``; the loop itself is :func:`rnn_scan`.
    ``work``: a dict whose array ``"h"`` is reused as that storage (see
    :func:`npae.fast.buffers.buffer`).
    """
    h = buffer(work, "h", (xw.shape[0] + 1,) + h0.shape, h0.dtype)
    h[0] = h0
    rnn_scan(xw, h, weight_hh, nonlinearity)
    return h


def rnn_scan(xw, h, weight_hh, nonlinearity="tanh"):
    """(R1)–(R2) in place: ``h (T+1, B, H)`` holds h_0 and receives h_t; three calls per step."""
    act, _ = ACTIVATIONS[nonlinearity]
    W_hhT = weight_hh.T
    for t in range(xw.shape[0]):
        a = np.matmul(h[t], W_hhT, out=h[t + 1])  # (R1) recurrent half ...
        np.add(a, xw[t], out=a)  # ... plus the precomputed input half
        act(a, out=a)  # (R2), in place


def rnn_forward_fm(x, h0, params, nonlinearity="tanh", work=None):
    """(P), (R1)–(R2) feature-major, for inference: ``x (T, B, D)`` → ``h (T+1, B, H)``, a view of
    the storage ``zT (T+1, H+E, B)``.

    As the LSTM's kernel (npae/fast/lstm.py): inputs that differ from step to step are folded into
    the step's GEMM — ``zT[t]`` holds h_{t-1}, x_t and a row of ones, the weight is [W_hh | W_ih |
    b_ih + b_hh] — so a step is two calls (the GEMM, the activation, in place) and no (T, B, H)
    projection is made; a broadcast input (the decoder's) is projected once and added at every
    step (three calls).  ``work``: a dict whose ``"zT"`` is reused.
    """
    T, B, D = x.shape
    H = h0.shape[-1]
    W_hh, W_ih, b_ih, b_hh = params["weight_hh"], params["weight_ih"], params["bias_ih"], params["bias_hh"]
    act, _ = ACTIVATIONS[nonlinearity]
    if not is_broadcast(x):
        zT = buffer(work, "zT", (T + 1, H + D + (b_ih is not None), B), h0.dtype)
        zT[:T, H:H + D] = np.swapaxes(x, 1, 2)
        columns = [W_hh, W_ih]
        if b_ih is not None:
            zT[:T, H + D] = 1
            columns.append((b_ih + b_hh)[:, None])
        weight, xwT = np.concatenate(columns, axis=1), None
    else:  # the same input at every step: (P) once, (H, B)
        zT = buffer(work, "zT", (T + 1, H, B), h0.dtype)
        weight, xwT = W_hh, input_projection(x[0], W_ih, b_ih, b_hh).T
    zT[0, :H] = h0.T
    matmul, add = np.matmul, np.add
    for t in range(T):
        a = matmul(weight, zT[t], out=zT[t + 1, :H])  # (R1), the input half folded in or ...
        if xwT is not None:
            add(a, xwT, out=a)  # ... added
        act(a, out=a)  # (R2), in place
    return batch_major(zT[:, :H])


def rnn_recurrence_backward_fast(dy, dh_n, h, weight_hh, nonlinearity="tanh", work=None):
    """Backward through :func:`rnn_recurrence_fast`: ``dy (T, B, H)`` or ``None``, ``dh_n (B, H)`` or ``None``
    → ``dA (T, B, H)`` (pre-activation gradients), ``dh0 (B, H)``, ``dW_hh (H, H)``: (R2') through
    the activation, (R1') back to h_{t-1} (the loop, :func:`rnn_scan_backward`), then dW_hh.
    ``work``: as in :func:`rnn_recurrence_fast` (its array ``"dA"``)."""
    dA = buffer(work, "dA", h[1:].shape, h.dtype)
    dh = np.zeros_like(h[0]) if dh_n is None else dh_n.copy()  # (R1') h_n = h_T: enters at T
    rnn_scan_backward(dy, dh, h, weight_hh, nonlinearity, dA)
    H = h.shape[-1]
    dW_hh = dA.reshape(-1, H).T @ h[:-1].reshape(-1, H)  # (R1') one GEMM for all steps
    return dA, dh, dW_hh


def rnn_scan_backward(dy, dh, h, weight_hh, nonlinearity, dA):
    """The loop of :func:`rnn_recurrence_backward_fast`, in place: ``dh (B, H)`` holds dh_n on entry and
    dh_0 on return; ``dA (T, B, H)`` receives the pre-activation gradients.

    φ'(a_t) depends only on the forward's outputs, so it is computed for all steps before the loop,
    into ``dA`` itself; a step is then three calls, with no allocation.  Without ``dy`` (or where
    the remaining steps' dy is as small) the loop stops once dh has underflowed, as
    :func:`npae.fast.lstm.lstm_scan_backward` does.
    """
    _, act_grad = ACTIVATIONS[nonlinearity]
    T, B, H = dA.shape
    n = max(1, (1 << 18) // (B * H))  # steps per block: bounded temporaries
    for s in range(0, T, n):
        dA[s:s + n] = act_grad(h[1 + s:1 + s + n])  # (R2') φ'(a_t), from the outputs h_t
    flush = underflow_threshold(dh.dtype)  # see npae/fast/underflow.py
    quiet = quiet_steps(dy, flush)  # steps 0 … quiet-1 receive no upstream gradient to speak of
    for t in range(T - 1, -1, -1):  # step t here is h[t+1] = h_{t+1}
        if stop_if_underflowed(flush if t < quiet else None, T - 1 - t, dA[:t + 1], dh):
            return  # nothing reaches steps t … 0 any more: their dA and dh_0 are zero
        if dy is not None:
            np.add(dh, dy[t], out=dh)  # (R1') total dh: output[t] also feeds the loss
        np.multiply(dA[t], dh, out=dA[t])  # (R2') da_t = dh_t ⊙ φ'(a_t)
        np.matmul(dA[t], weight_hh, out=dh)  # (R1'): what h_t sends back to h_{t-1}


def rnn_forward_fast(x, h0, params, nonlinearity="tanh"):
    """The layer's fast forward: (P) for all steps in one GEMM, then :func:`rnn_recurrence_fast`.

    Same contract as :func:`npae.rnn.rnn_forward_loop`.
    """
    xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
    h = rnn_recurrence_fast(xw, h0, params["weight_hh"], nonlinearity)
    cache = {"x": x, "h": h, "params": params, "nonlinearity": nonlinearity}
    return h[1:], h[-1], cache


def rnn_backward_fast(dy, dh_n, cache):
    """The layer's fast backward: the recurrence step by step, then (P') as single GEMMs.

    Same contract as :func:`npae.rnn.rnn_backward_loop`.
    """
    x, h, params = cache["x"], cache["h"], cache["params"]
    dA, dh0, dW_hh = rnn_recurrence_backward_fast(dy, dh_n, h, params["weight_hh"], cache["nonlinearity"])
    dx, grads = layer_gradients(dA, x, params, dW_hh)  # (P')
    return dx, dh0, grads
