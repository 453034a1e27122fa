"""The LSTM's fast kernel: the plain functions of ``npae/lstm.py``, computed faster.

Equations (1)–(7) and (1')–(7') are those of ``npae/lstm.py`` (docs/bptt.md §6); only the way
they are computed differs, and ``tests/test_fast_paths.py`` holds every function here equal to
the plain ones.  docs/performance.md has what each change measured.

Nothing that is not recurrent stays in the time loops, and the loops allocate nothing.  The
arrays are *feature-major* (npae/fast/layout.py): step t's gates are one contiguous (4H, B)
block, A_tᵀ, whose gate blocks (H, B) are contiguous too, and one ``exp`` activates all four
(:func:`lstm_scan`).

The input half of (1) is folded into the step's one matrix product when the inputs differ from
step to step: the state array carries, under the H rows of h_{t-1}, the D rows of x_t and a row
of ones, and the weight is [W_hh | W_ih | b_ih + b_hh], so

    A_tᵀ = [W_hh | W_ih | b] [h_{t-1}; x_t; 1]                  (1), one GEMM per step

and the backward's GEMMs over the steps, Σ_t dA_tᵀ [h_{t-1}; x_t; 1]ᵀ = [dW_hh | dW_ih | db],
give all three weight gradients (1'), (P').  No (T, B, 4H) projection is ever stored.  When the
input is the same at every step (the autoencoder's decoder), (P) is computed once instead and
added, broadcast, at every step.  A forward step is 11 NumPy calls (12 with that add), a
backward step 6 (7 with an upstream dy) — calls, not operators: ``np.add(a, b, out=a)`` costs
about 0.4 µs less than ``a += b``.  The functions take and return the glossary's (T, B, ·)
layout: what they return are transposed views of the feature-major storage, which
``feature_major`` recovers without a copy.
"""

import numpy as np

from ..functional import sigmoid_grad_from_output, tanh_grad_from_output
from ..recurrent import input_projection_backward, is_broadcast
from .buffers import buffer, one_step_buffer
from .layout import add_into, batch_major, feature_major, input_projection_fm, sum_over_steps
from .underflow import quiet_steps, stop_if_underflowed, underflow_threshold


def lstm_scan(xwT, zT, cT, gT, tcT, weight):
    """(1)–(7) for every step, in place, feature-major.

    ``zT (T+1, H+E, B)``: rows ``:H`` of ``zT[0]`` hold h_0 and receive h_t at ``zT[t]``; the E
    rows below (``x_t`` and a row of ones, filled by the caller; E = 0 for none) are multiplied by
    the extra columns of ``weight (4H, H+E)`` = ``[W_hh | W_ih | b]``.  ``xwT (T, 4H, B)``, if not
    ``None``, is added at every step (a broadcast view is fine).  ``cT (T+1, H, B)`` holds c_0 and
    receives c_t; ``gT (T, 4H, B)`` receives the activated gates (rows i, f, g, o), ``tcT (T, H, B)``
    tanh(c_t).

    All four gates come from one ``exp`` over the whole (4H, B) block.  The rows of the weights
    (and of ``xwT``) are scaled first by ``s = -1`` for i, f, o and ``s = -2`` for g — exact in
    binary floating point — so that the step's product is ``s ⊙ A_t`` and

        σ(a) = 1 / (1 + e^{-a})                    rows i, f, o: the sigmoid of functional.py
        tanh(a) = 2 σ(2a) - 1 = 2 / (1 + e^{-2a}) - 1   rows g

    which saves a separate ``tanh`` and four calls per step (measured: 10–15 % of the forward
    loop).  ``tanh`` computed this way is exact to a few ulps of 1 (absolute), not relative: for
    |g| ≪ 1 its relative error grows as 1e-16/|g| (float64), which moves c_t by one ulp of i·g at
    most.  For a ≪ 0, e^{-a} rounds to inf and σ to 0, the right answer (no warning: errstate).
    """
    H = cT.shape[1]
    s = np.full((4 * H, 1), -1, dtype=gT.dtype)
    s[2 * H:3 * H] = -2
    weight = weight * s  # a scaled copy; the caller's weight is untouched
    if xwT is not None:
        xwT = np.broadcast_to(xwT[0] * s, xwT.shape) if xwT.strides[0] == 0 else xwT * s
    ig = np.empty_like(cT[0])
    with np.errstate(over="ignore"):
        for t in range(gT.shape[0]):
            A = np.matmul(weight, zT[t], out=gT[t])  # (1) s ⊙ (W_hh h_{t-1} [+ W_ih x_t + b])
            if xwT is not None:
                np.add(A, xwT[t], out=A)  # (1) + s ⊙ the input half, projected before the loop
            np.exp(A, out=A)
            np.add(A, 1, out=A)
            np.divide(1, A, out=A)  # (2) i, (3) f, (5) o = σ(a); rows g: σ(2 a_g)
            i, f, g, o = A[:H], A[H:2 * H], A[2 * H:3 * H], A[3 * H:]
            np.multiply(g, 2, out=g)
            np.subtract(g, 1, out=g)  # (4) g = tanh(a_g) = 2σ(2a_g) - 1
            c = cT[t + 1]
            np.multiply(f, cT[t], out=c)  # (6) f ⊙ c_{t-1} ...
            np.multiply(i, g, out=ig)
            np.add(c, ig, out=c)  # (6) ... + i ⊙ g
            np.tanh(c, out=tcT[t])
            np.multiply(o, tcT[t], out=zT[t + 1, :H])  # (7)


def lstm_scan_backward(dyT, dhT, dcT, cT, gT, tcT, weight_hh, dAT, K=None):
    """Backward through :func:`lstm_scan`, in place, feature-major.

    ``dyT (T, H, B)`` or ``None``; ``dhT, dcT (H, B)`` hold dh_n, dc_n on entry (zeros for none)
    and dh_0, dc_0 on return; ``dAT (T, 4H, B)`` receives the gate pre-activation gradients;
    ``K (T, H, B)`` is scratch (allocated when ``None``).

    Only dh and dc are carried from step to step, and each gate's gradient is one of them times a
    factor that does not depend on them: ``da_i = dc ⊙ [g ⊙ i(1-i)]``, ``da_f = dc ⊙ [c_{t-1} ⊙
    f(1-f)]``, ``da_g = dc ⊙ [i ⊙ (1-g²)]``, ``da_o = dh ⊙ [tanh(c_t) ⊙ o(1-o)]``.  The factors in
    brackets are computed for all steps before the loop, into ``dAT`` itself.

    Without ``dyT`` nothing is added to the carry; once all of dh and dc is below tiny/eps the
    loop stops and the earlier steps get exactly zero (checked every few steps; why:
    npae/fast/underflow.py).  With ``dyT`` the same holds where all of the remaining
    steps' dy is below that size too (:func:`npae.fast.underflow.quiet_steps`: a stacked layer).
    """
    T, H, B = tcT.shape
    K = np.empty_like(tcT) if K is None else K  # o ⊙ (1 - tanh²(c_t)): how dh_t reaches dc_t
    c_prevT = cT[:-1]
    n = max(1, (1 << 18) // gT[0].size)  # steps per block: bounded temporaries
    for s in range(0, T, n):
        _gate_factors(gT[s:s + n], c_prevT[s:s + n], tcT[s:s + n], dAT[s:s + n], K[s:s + n])
    dA_ifg = dAT[:, :3 * H].reshape(T, 3, H, B)  # rows i, f, g: all three multiply dc
    dA_o, f = dAT[:, 3 * H:], gT[:, H:2 * H]
    tmp = np.empty_like(dhT)
    W_hhT = weight_hh.T
    flush = underflow_threshold(dhT.dtype)  # see npae/fast/underflow.py
    quiet = quiet_steps(dyT, flush)  # steps 0 … quiet-1 receive no upstream gradient to speak of
    for t in range(T - 1, -1, -1):  # step t produced h_{t+1}, c_{t+1}
        if stop_if_underflowed(flush if t < quiet else None, T - 1 - t, dAT[:t + 1], dhT, dcT):
            return  # nothing reaches steps t … 0 any more: their dA, dh_0 and dc_0 are zero
        if dyT is not None:
            np.add(dhT, dyT[t], out=dhT)  # (1') total dh: output[t] also feeds the loss
        np.multiply(dhT, K[t], out=tmp)
        np.add(dcT, tmp, out=dcT)  # (7') dc_t += dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))
        np.multiply(dA_ifg[t], dcT, out=dA_ifg[t])  # (6') then (2')–(4'): da_i, da_f, da_g = dc ⊙ factors
        np.multiply(dA_o[t], dhT, out=dA_o[t])  # (7') then (5'): da_o = dh ⊙ tanh(c_t) ⊙ o(1-o)
        np.multiply(dcT, f[t], out=dcT)  # (6') dc_{t-1} = dc_t ⊙ f_t
        np.matmul(W_hhT, dAT[t], out=dhT)  # (1') dh_{t-1} = W_hhᵀ dA_t


def _gate_factors(gT, c_prevT, tcT, dAT, K):
    """The dh/dc-free factors of (2')–(7') for a block of steps (see :func:`lstm_scan_backward`)."""
    H = tcT.shape[1]
    i, f, g, o = gT[:, :H], gT[:, H:2 * H], gT[:, 2 * H:3 * H], gT[:, 3 * H:]
    np.multiply(g, sigmoid_grad_from_output(i), out=dAT[:, :H])  # (6') di = dc ⊙ g, (2')
    np.multiply(c_prevT, sigmoid_grad_from_output(f), out=dAT[:, H:2 * H])  # (6') df = dc ⊙ c_{t-1}, (3')
    np.multiply(i, tanh_grad_from_output(g), out=dAT[:, 2 * H:3 * H])  # (6') dg = dc ⊙ i, (4')
    np.multiply(tcT, sigmoid_grad_from_output(o), out=dAT[:, 3 * H:])  # (7') do = dh ⊙ tanh(c_t), (5')
    np.multiply(o, tanh_grad_from_output(tcT), out=K)  # (7') dc_t += dh ⊙ o ⊙ (1 - tanh²(c_t))


def lstm_forward_fm(x, h0, c0, params, work=None, keep=True):
    """(P) and :func:`lstm_scan` for ``x (T, B, D)``: the feature-major storage of one pass.

    ``x`` may be a broadcast view, the same input at every step (then (P) runs once and is added
    at every step); otherwise the inputs are folded into the step's GEMM.  Returns a dict: ``zT``
    (state rows ``:H``, then any input rows), ``cT``, ``gT``, ``tcT`` as in :func:`lstm_scan`,
    ``folded``, ``x`` and ``H``.  ``work``: a dict whose arrays are reused as that storage (see
    :func:`npae.fast.buffers.buffer`).

    ``keep=False`` (inference: no backward will follow) keeps only ``h``: the gates, c_t and
    tanh(c_t) of every step are written into one step-sized buffer each (a view with a zero
    stride on T), which stays in cache; ``gT``, ``cT``, ``tcT`` then hold the last step only.
    """
    T, B, D = x.shape
    H = h0.shape[-1]
    W_hh, W_ih, b_ih = params["weight_hh"], params["weight_ih"], params["bias_ih"]
    dtype = h0.dtype
    folded = not is_broadcast(x)
    if folded:  # (1) with the weight [W_hh | W_ih | b] and the state rows [h_{t-1}; x_t; 1]
        zT = buffer(work, "zT", (T + 1, H + D + (b_ih is not None), B), dtype)
        zT[:T, H:H + D] = np.swapaxes(x, 1, 2)  # (row T's inputs are never used)
        columns = [W_hh, W_ih]
        if b_ih is not None:
            zT[:T, H + D] = 1
            columns.append((b_ih + params["bias_hh"])[:, None])
        weight, xwT = np.concatenate(columns, axis=1), None
    else:  # (P) once: the decoder's input is the same at every step
        zT = buffer(work, "zT", (T + 1, H, B), dtype)
        weight, xwT = W_hh, input_projection_fm(x, W_ih, b_ih, params["bias_hh"])
    if keep:
        cT = buffer(work, "cT", (T + 1, H, B), dtype)
        gT = buffer(work, "gT", (T, 4 * H, B), dtype)
        tcT = buffer(work, "tcT", (T, H, B), dtype)
    else:  # every step writes the same memory: c_t over c_{t-1} is safe, elementwise, in place
        cT = one_step_buffer(work, "c1", (H, B), T + 1, dtype)
        gT = one_step_buffer(work, "g1", (4 * H, B), T, dtype)
        tcT = one_step_buffer(work, "tc1", (H, B), T, dtype)
    zT[0, :H], cT[0] = h0.T, c0.T
    lstm_scan(xwT, zT, cT, gT, tcT, weight)
    return {"zT": zT, "cT": cT, "gT": gT, "tcT": tcT, "folded": folded, "x": x, "H": H}


def lstm_backward_fm(dy, dh_n, dc_n, fm, params, need_dx=True, work=None, chunk=1 << 20):
    """Backward of :func:`lstm_forward_fm`: ``dy (T, B, H)``, ``dh_n``, ``dc_n (B, H)`` (each may be
    ``None``) → ``dx (T, B, D)`` (``(B, D)`` for a broadcast input: every step's share summed),
    ``dh0``, ``dc0 (B, H)`` and ``{"weight_ih", "weight_hh", "bias"}`` (``bias``: the gradient of
    each of the two biases, ``None`` without biases).  The caller's arrays are never written;
    ``work`` as in :func:`lstm_forward_fm` (for ``dA`` and scratch).

    Back through time a block of steps at a time (about ``chunk`` elements of dA): the block's
    :func:`lstm_scan_backward`, then its share of the weight-gradient GEMMs.  So dA is never
    stored for all T steps (4·T·B·H floats less at the peak) and a block is still in cache when
    its GEMMs read it.
    """
    zT, gT, cT, tcT, H, x = fm["zT"], fm["gT"], fm["cT"], fm["tcT"], fm["H"], fm["x"]
    W_hh, W_ih = params["weight_hh"], params["weight_ih"]
    T, D, B = gT.shape[0], x.shape[-1], zT.shape[2]
    dtype = gT.dtype
    dhT = np.zeros((H, B), dtype) if dh_n is None else dh_n.T.copy()  # (1') h_n = h_T: enters at T
    dcT = np.zeros((H, B), dtype) if dc_n is None else dc_n.T.copy()  # (6') c_n = c_T: enters at T
    dyT = None if dy is None else feature_major(dy)
    folded, broadcast = fm["folded"], is_broadcast(x)
    xT = None if folded or broadcast else feature_major(x)  # a plain input (a loop's cache)
    n = min(T, max(1, chunk // gT[0].size))
    dA, K = buffer(work, "dA", (n, 4 * H, B), dtype), buffer(work, "K", (n, H, B), dtype)
    dx = np.empty((T, B, D), dtype) if need_dx and not broadcast else None
    dW = dW_ih = db = dA_sum = None
    for e in range(T, 0, -n):  # blocks of steps, newest first
        s = max(0, e - n)
        dAb, Kb = dA[:e - s], K[:e - s]
        lstm_scan_backward(None if dyT is None else dyT[s:e], dhT, dcT, cT[s:e + 1], gT[s:e],
                           tcT[s:e], W_hh, dAb, Kb)
        # folded: (1') and (P') in one GEMM, Σ_t dA_tᵀ [h_{t-1}; x_t; 1]ᵀ = [dW_hh | dW_ih | db];
        # otherwise (1') Σ_t dA_tᵀ h_{t-1}
        dW = add_into(dW, sum_over_steps(dAb, zT[s:e] if folded else zT[s:e, :H]))
        if dx is not None:
            dx[s:e] = np.matmul(batch_major(dAb), W_ih)  # (P') dx_t = dA_t W_ih
        if broadcast:
            dA_sum = add_into(dA_sum, dAb.sum(axis=0))  # the one input's gradients collect Σ_t dA_t
        elif not folded:
            dW_ih = add_into(dW_ih, sum_over_steps(dAb, xT[s:e]))  # (P') Σ_t dA_tᵀ x_t
            db = add_into(db, dAb.sum(axis=(0, 2)))  # (P') Σ_t Σ_b dA_t
    if folded:
        return dx, dhT.T, dcT.T, {"weight_hh": dW[:, :H], "weight_ih": dW[:, H:H + D],
                                  "bias": dW[:, H + D] if dW.shape[1] > H + D else None}
    if broadcast:  # (P') from Σ_t dA_t: dx (B, D), dW_ih, db
        dx, dW_ih, db = input_projection_backward(batch_major(dA_sum), x[0], W_ih, need_dx)
    return dx, dhT.T, dcT.T, {"weight_hh": dW, "weight_ih": dW_ih, "bias": db}


def lstm_state_views(fm):
    """The glossary's views of the storage: ``h, c (T+1, B, H)``, ``gates (T, B, 4H)``, ``tanh_c``."""
    H = fm["H"]
    return (batch_major(fm["zT"][:, :H]), batch_major(fm["cT"]), batch_major(fm["gT"]),
            batch_major(fm["tcT"]))




def lstm_forward_fast(x, h0, c0, params):
    """The layer's fast forward: :func:`lstm_forward_fm`, (P) folded into each step's one GEMM.

    Same contract as :func:`npae.lstm.lstm_forward_loop` (the arrays in the cache are views).
    """
    fm = lstm_forward_fm(x, h0, c0, params)
    h, c, gates, tanh_c = lstm_state_views(fm)
    cache = {"x": x, "h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "params": params, "fm": fm}
    return h[1:], (h[-1], c[-1]), cache


def lstm_backward_fast(dy, dh_n, dc_n, cache):
    """The layer's fast backward: :func:`lstm_backward_fm`, the weight gradients as GEMMs over all
    steps.  Same contract as :func:`npae.lstm.lstm_backward_loop`; also takes a cache made by the
    loop or by :func:`npae.lstm.lstm_forward`.
    """
    params = cache["params"]
    fm = cache.get("fm")
    if fm is None:  # a cache of lstm_forward_loop: the same numbers, batch-major
        fm = {"zT": feature_major(cache["h"]), "cT": feature_major(cache["c"]),
              "gT": feature_major(cache["gates"]), "tcT": feature_major(cache["tanh_c"]),
              "folded": False, "x": cache["x"], "H": cache["h"].shape[-1]}
    dx, dh0, dc0, g = lstm_backward_fm(dy, dh_n, dc_n, fm, params)
    has_bias = params["bias_ih"] is not None
    grads = {"weight_ih": g["weight_ih"], "weight_hh": g["weight_hh"],
             "bias_ih": g["bias"] if has_bias else None,
             "bias_hh": g["bias"].copy() if has_bias else None}  # (P') the same for both biases
    return dx, (dh0, dc0), grads
