"""The LSTM's fast kernel: the plain functions of ``npae/lstm.py``, computed faster.

Equations (1)–(7) and (1')–(7') are those of ``npae/lstm.py`` (docs/bptt.md §6); only the way
they are computed differs, and ``tests/test_fast_paths.py`` holds every function here equal to
the plain ones.  docs/performance.md has what each change measured.

Nothing that is not recurrent stays in the time loops, and the loops allocate nothing.  The
arrays are *feature-major* (npae/fast/layout.py): step t's gates are one contiguous (4H, B)
block whose gate blocks (H, B) are contiguous too.  Inside the kernel the gates are ordered
**o, i, f, g** (torch's order is i, f, g, o; :func:`plain_rows` converts), and each step's block
of the state array ``S (T+1, 5H, B)`` holds the activated gates and, below them, c_{t-1}:

    S[t] = [o_t; i_t; f_t; g_t; c_{t-1}]

so that σ of o, i, f is one contiguous block, one ``tanh`` activates all four gates
(:func:`lstm_scan`), and ``[i; f] ⊙ [g; c_{t-1}]`` is one product whose halves sum to c_t.

The input half of (1) is folded into the step's one matrix product when the inputs differ from
step to step: the state array ``zT`` carries, under the H rows of h_{t-1}, the D rows of x_t and
a row of ones, and the weight is [W_hh | W_ih | b_ih + b_hh], so

    A_tᵀ = [W_hh | W_ih | b] [h_{t-1}; x_t; 1]                  (1), one GEMM per step

and the backward's GEMMs over the steps, Σ_t dA_tᵀ [h_{t-1}; x_t; 1]ᵀ = [dW_hh | dW_ih | db],
give all three weight gradients (1'), (P').  No (T, B, 4H) projection is ever stored.  When the
input is the same at every step (the autoencoder's decoder), (P) is computed once instead and
added, broadcast, at every step.  A forward step is 8 NumPy calls (9 with that add), a backward
step 5 (6 with an upstream dy) — calls, not operators: ``np.add(a, b, out=a)`` costs about 0.4 µs
less than ``a += b``.  The glossary's (T, B, ·) arrays (``h``, ``c``, ``gates`` in torch's order,
``tanh_c``) are views of that storage, except ``gates``, which is made on first use
(:class:`LSTMState`).
"""

import numpy as np

from ..functional import tanh_grad_from_output
from ..recurrent import input_projection_backward, is_broadcast
from .buffers import buffer, one_step_buffer
from .layout import add_into, batch_major, feature_major, input_projection_fm, sum_over_steps
from .underflow import UNDERFLOW_CHECK_EVERY, quiet_steps, stop_if_underflowed, underflow_threshold


_ROWS = {}


def internal_rows(H):
    """The kernel's gate rows ``o, i, f, g`` as indices into torch's ``i, f, g, o``."""
    rows = _ROWS.get(H)
    if rows is None:
        rows = _ROWS[H] = np.concatenate([np.arange(3 * H, 4 * H), np.arange(3 * H)])
    return rows


def plain_rows(a, H, axis=0):
    """The kernel's gate rows ``o, i, f, g`` of ``a`` (along ``axis``) in torch's order ``i, f,
    g, o``: a new array."""
    a = np.moveaxis(a, axis, 0)
    return np.moveaxis(np.concatenate([a[H:4 * H], a[:H]]), 0, axis)


def _half_rows(H, dtype):
    """The forward's row scale in the kernel's order: ½ for o, i, f (exact), 1 for g."""
    s = np.full((4 * H, 1), 0.5, dtype=dtype)
    s[3 * H:] = 1
    return s


def lstm_scan(xwT, zT, S, tcT, weight, P=None, views=None):
    """(1)–(7) for every step, in place, feature-major.

    ``S (T+1, 5H, B)``: block t's rows ``:4H`` receive step t's activated gates in the kernel's
    order o, i, f, g; its rows ``4H:`` hold c_{t-1} (``S[0, 4H:]`` = c_0 on entry; c_t is written
    into block t+1).  ``zT (T+1, H+E, B)``: rows ``:H`` of ``zT[0]`` hold h_0 and receive h_t at
    ``zT[t]``; the E rows below (x_t and a row of ones; E = 0 for none) are multiplied by the
    extra columns of ``weight (4H, H+E)``.  ``weight`` and ``xwT (T, 4H, B)`` (added at every
    step when not ``None``; a broadcast view is fine) are in the kernel's row order and *scaled*:
    rows o, i, f by ½ — exact in binary floating point — so that the step's product is a/2 there
    and one ``tanh`` over the whole block gives

        σ(a) = ½ tanh(a/2) + ½          rows o, i, f: (2), (3), (5)
        tanh(a)                          rows g: (4)

    (one transcendental call instead of ``exp`` and a division; NumPy's float32 ``tanh`` is no
    slower than its ``exp``).  σ computed this way is exact to an ulp of ½ (absolute), like the
    plain ``1/(1+e^{-a})`` near ½; for a ≪ 0 it is exactly 0.  ``tcT (T, H, B)`` receives
    tanh(c_t); ``P (2H, B)`` is scratch.  8 calls per step, 9 with ``xwT``; ``views``: see
    :func:`_forward_views`.
    """
    H = tcT.shape[1]
    P = np.empty((2 * H,) + tcT.shape[2:], tcT.dtype) if P is None else P
    half = np.array(0.5, tcT.dtype)  # a 0-d array: cheaper to pass than a Python float
    mul, add, tanh, matmul = np.multiply, np.add, np.tanh, np.matmul
    for A, xw, oif, if_, gc, c, tc, o, z, h in _forward_views(xwT, zT, S, tcT, views):
        matmul(weight, z, out=A)  # (1), rows o, i, f halved
        if xw is not None:
            add(A, xw, out=A)  # (1) + the input half, projected before the loop
        tanh(A, out=A)  # (4) g = tanh(a_g); rows o, i, f: tanh(a/2)
        mul(oif, half, out=oif)
        add(oif, half, out=oif)  # (2), (3), (5) o, i, f = ½ tanh(a/2) + ½ = σ(a)
        mul(if_, gc, out=P)  # (6) [i ⊙ g; f ⊙ c_{t-1}]
        tanh(add(P[:H], P[H:], out=c), out=tc)  # (6) c_t = i ⊙ g + f ⊙ c_{t-1}; tanh(c_t)
        mul(o, tc, out=h)  # (7) h_t = o ⊙ tanh(c_t)


def _forward_views(xwT, zT, S, tcT, views=None):
    """Every step's views of :func:`lstm_scan`'s arrays, made once per set of buffers: ``views``
    (a dict, or ``None``) keeps them for the next call on the same arrays (slicing ten views a
    step costs about a microsecond)."""
    key = tuple(None if a is None else (a.__array_interface__["data"][0], a.shape, a.strides)
                for a in (zT, S, tcT, xwT))
    if views is not None and views.get("key") == key:
        return views["steps"]  # the same memory as last time (the old views keep it alive)
    T, H = tcT.shape[0], tcT.shape[1]
    steps = []
    for t in range(T):
        St = S[t]
        steps.append((St[:4 * H], None if xwT is None else xwT[t], St[:3 * H], St[H:3 * H],
                      St[3 * H:], S[t + 1, 4 * H:], tcT[t], St[:H], zT[t], zT[t + 1, :H]))
    if views is not None:
        views.update(key=key, steps=steps)
    return steps


def lstm_scan_backward(dyT, dhT, dcT, S, hT, tcT, weight_hh, D, views=None):
    """Backward through :func:`lstm_scan`, in place, feature-major.

    ``dyT (T, H, B)`` or ``None``; ``dhT, dcT (H, B)`` hold dh_n, dc_n on entry (zeros for none)
    and dh_0, dc_0 on return; ``S (T, 5H, B)``, ``hT`` (h_1 … h_T) and ``tcT (T, H, B)`` are the
    forward's (block t of S: step t's gates and c_{t-1}); ``weight_hh (4H, H)`` in the kernel's row order, unscaled.  ``D (T, 5H, B)``
    receives, in rows ``H:``, the gate pre-activation gradients dA_t (rows o, i, f, g); its rows
    ``:H`` are scratch.

    Only dh and dc are carried from step to step, and each gate's gradient is one of them times a
    factor that does not depend on them: ``da_o = dh ⊙ [tanh(c_t) ⊙ o(1-o)]``, ``da_i = dc ⊙ [g ⊙
    i(1-i)]``, ``da_f = dc ⊙ [c_{t-1} ⊙ f(1-f)]``, ``da_g = dc ⊙ [i ⊙ (1-g²)]``, and dh reaches
    dc through ``K = o ⊙ (1 - tanh²(c_t))``.  The factors are computed for all steps before the
    loop (:func:`_gate_factors`), into ``D = [K; o; i; f; g]`` itself, so that a step multiplies
    rows ``[K; o]`` by dh and rows ``[i; f; g]`` by dc, one call each: 5 calls (6 with dy).

    Without ``dyT`` nothing is added to the carry; once all of dh and dc is below tiny/eps the
    loop stops and the earlier steps get exactly zero (checked every few steps; why:
    npae/fast/underflow.py).  With ``dyT`` the same holds where all of the remaining
    steps' dy is below that size too (:func:`npae.fast.underflow.quiet_steps`: a stacked layer).
    ``views``: see :func:`_backward_views`.
    """
    T, H, B = tcT.shape
    n = max(1, (1 << 18) // S[0].size)  # steps per block: bounded temporaries
    for s in range(0, T, n):
        _gate_factors(S[s:s + n], hT[s:s + n], tcT[s:s + n], D[s:s + n])
    W_hhT = weight_hh.T
    mul, add, matmul = np.multiply, np.add, np.matmul
    flush = underflow_threshold(dhT.dtype)  # see npae/fast/underflow.py
    quiet = quiet_steps(dyT, flush)  # steps 0 … quiet-1 receive no upstream gradient to speak of
    every = UNDERFLOW_CHECK_EVERY
    for t, dy, k, k0, d, f, dA in _backward_views(dyT, S, D, views):  # newest step first
        if t < quiet and (T - 1 - t) % every == 0 and stop_if_underflowed(
                flush, 0, D[:t + 1], dhT, dcT):
            return  # nothing reaches steps t … 0 any more: their dA, dh_0 and dc_0 are zero
        if dy is not None:
            add(dhT, dy, out=dhT)  # (1') total dh: output[t] also feeds the loss
        mul(k, dhT, out=k)  # [dh ⊙ K; da_o = dh ⊙ tanh(c_t) ⊙ o(1-o)]: (7'), (5')
        add(dcT, k0, out=dcT)  # (7') dc_t += dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))
        mul(d, dcT, out=d)  # (6') then (2')–(4'): da_i, da_f, da_g = dc ⊙ factors
        mul(dcT, f, out=dcT)  # (6') dc_{t-1} = dc_t ⊙ f_t
        matmul(W_hhT, dA, out=dhT)  # (1') dh_{t-1} = W_hhᵀ dA_t


def _backward_views(dyT, S, D, views=None):
    """Every step's views of :func:`lstm_scan_backward`'s arrays, newest step first: made once per
    set of arrays and kept in ``views`` (a dict, or ``None``), as :func:`_forward_views`."""
    key = tuple(None if a is None else (a.__array_interface__["data"][0], a.shape, a.strides)
                for a in (dyT, S, D))
    if views is not None and views.get("key") == key:
        return views["steps"]
    T, H5, B = D.shape
    H = H5 // 5
    D5 = D.reshape(T, 5, H, B)
    steps = [(t, None if dyT is None else dyT[t], D5[t, :2], D5[t, 0], D5[t, 2:], S[t, 2 * H:3 * H],
              D[t, H:]) for t in range(T - 1, -1, -1)]
    if views is not None:
        views.update(key=key, steps=steps)
    return steps


def _gate_factors(S, hT, tcT, D):
    """The dh/dc-free factors of (2')–(7') for a block of steps (see :func:`lstm_scan_backward`),
    into ``D`` in place: ``[o(1-tanh²c); tanh(c) o(1-o); g i(1-i); c_{t-1} f(1-f); i(1-g²)]``,
    written as ``o - h ⊙ tanh(c)`` and ``h ⊙ (1-o)`` with the forward's h_t = o ⊙ tanh(c_t)
    (``hT (T, H, B)``); 1 - g² as the plain tier's ``(1 - g)(1 + g)``."""
    H = tcT.shape[1]
    mul, sub = np.multiply, np.subtract
    o, i = S[:, :H], S[:, H:2 * H]
    sub(1, S[:, :3 * H], out=D[:, H:4 * H])  # 1-o, 1-i, 1-f
    D_if = D[:, 2 * H:4 * H]
    mul(D_if, S[:, H:3 * H], out=D_if)  # σ'(a) = σ(1-σ) for i, f: (2'), (3')
    mul(D_if, S[:, 3 * H:5 * H], out=D_if)  # (6') di = dc ⊙ g, df = dc ⊙ c_{t-1}
    D_o = D[:, H:2 * H]
    mul(D_o, hT, out=D_o)  # (7'), (5') do = dh ⊙ tanh(c_t) ⊙ o(1-o) = dh ⊙ h_t (1-o)
    mul(tanh_grad_from_output(S[:, 3 * H:4 * H]), i, out=D[:, 4 * H:])  # (4') 1 - g², (6') dg = dc ⊙ i
    K = D[:, :H]
    mul(hT, tcT, out=K)
    sub(o, K, out=K)  # (7') dc_t += dh ⊙ o ⊙ (1 - tanh²(c_t)) = dh ⊙ (o - h_t ⊙ tanh(c_t))


class LSTMState(dict):
    """A forward's arrays by the glossary's names: ``h``, ``c`` (T+1, B, H), ``tanh_c`` (T, B, H)
    (views of the storage), and ``fm`` (the storage); ``gates`` (T, B, 4H, torch's order i, f,
    g, o) is made from the storage when first read."""

    def __missing__(self, key):
        if key != "gates" or "fm" not in self:
            raise KeyError(key)
        fm = self["fm"]
        S, H = fm["S"], fm["H"]
        T = fm["tcT"].shape[0]
        gates = self["gates"] = batch_major(plain_rows(S[:T, :4 * H], H, axis=1))
        return gates


def lstm_forward_fm(x, h0, c0, params, work=None, keep=True):
    """(P) and :func:`lstm_scan` for ``x (T, B, D)``: the feature-major storage of one pass.

    ``x`` may be a broadcast view, the same input at every step (then (P) runs once and is added
    at every step); otherwise the inputs are folded into the step's GEMM.  Returns a dict: ``zT``
    (state rows ``:H``, then any input rows), ``S``, ``tcT`` as in :func:`lstm_scan`, ``folded``,
    ``x`` and ``H``.  ``work``: a dict whose arrays are reused as that storage (see
    :func:`npae.fast.buffers.buffer`).

    ``keep=False`` (inference: no backward will follow) keeps only ``h``: the gates, c_t and
    tanh(c_t) of every step are written into one step-sized buffer each (a view with a zero
    stride on T), which stays in cache; ``S`` and ``tcT`` then hold the last step only.
    """
    T, B, D = x.shape
    H = h0.shape[-1]
    W_hh, W_ih, b_ih = params["weight_hh"], params["weight_ih"], params["bias_ih"]
    dtype = h0.dtype
    rows, half = internal_rows(H), _half_rows(H, dtype)
    folded = not is_broadcast(x)
    if folded:  # (1) with the weight [W_hh | W_ih | b] and the state rows [h_{t-1}; x_t; 1]
        zT = buffer(work, "zT", (T + 1, H + D + (b_ih is not None), B), dtype)
        zT[:T, H:H + D] = np.swapaxes(x, 1, 2)  # (row T's inputs are never used)
        columns = [W_hh, W_ih]
        if b_ih is not None:
            zT[:T, H + D] = 1
            columns.append((b_ih + params["bias_hh"])[:, None])
        weight, xwT = np.concatenate(columns, axis=1)[rows] * half, None
    else:  # (P) once: the decoder's input is the same at every step
        zT = buffer(work, "zT", (T + 1, H, B), dtype)
        xw = input_projection_fm(x, W_ih, b_ih, params["bias_hh"])[0]  # (4H, B), broadcast over T
        xw_once = np.multiply(xw[rows], half, out=buffer(work, "xw", xw.shape, dtype))
        weight, xwT = W_hh[rows] * half, np.broadcast_to(xw_once, (T,) + xw.shape)
    if keep:
        S = buffer(work, "S", (T + 1, 5 * H, B), dtype)
        tcT = buffer(work, "tcT", (T, H, B), dtype)
    else:  # every step writes the same memory: c_t over c_{t-1} is safe, elementwise, in place
        S = one_step_buffer(work, "S1", (5 * H, B), T + 1, dtype)
        tcT = one_step_buffer(work, "tc1", (H, B), T, dtype)
    zT[0, :H], S[0, 4 * H:] = h0.T, c0.T
    lstm_scan(xwT, zT, S, tcT, weight, buffer(work, "P", (2 * H, B), dtype),
              None if work is None else work.setdefault("views", {}))
    return {"zT": zT, "S": S, "tcT": tcT, "folded": folded, "x": x, "H": H}


def fm_from_cache(cache):
    """The storage of :func:`lstm_forward_fm` rebuilt from a plain cache (``h``, ``c``, ``gates``
    in torch's order, ``tanh_c``, ``x``): what :func:`lstm_backward_fm` reads."""
    h, c, gates = cache["h"], cache["c"], cache["gates"]
    T, B, G = gates.shape
    H = G // 4
    S = np.empty((T + 1, 5 * H, B), gates.dtype)
    S[:T, :4 * H] = feature_major(gates[..., internal_rows(H)])
    S[:, 4 * H:] = feature_major(c)
    return {"zT": feature_major(h), "S": S, "tcT": feature_major(cache["tanh_c"]),
            "folded": False, "x": cache["x"], "H": H}


def lstm_backward_fm(dy, dh_n, dc_n, fm, params, need_dx=True, work=None, chunk=1 << 20):
    """Backward of :func:`lstm_forward_fm`: ``dy (T, B, H)``, ``dh_n``, ``dc_n (B, H)`` (each may be
    ``None``) → ``dx (T, B, D)`` (``(B, D)`` for a broadcast input: every step's share summed),
    ``dh0``, ``dc0 (B, H)`` and ``{"weight_ih", "weight_hh", "bias"}`` (``bias``: the gradient of
    each of the two biases, ``None`` without biases).  The caller's arrays are never written;
    ``work`` as in :func:`lstm_forward_fm` (for ``D`` and scratch).

    Back through time a block of steps at a time (about ``chunk`` elements of dA): the block's
    :func:`lstm_scan_backward`, then its share of the weight-gradient GEMMs.  So dA is never
    stored for all T steps (4·T·B·H floats less at the peak) and a block is still in cache when
    its GEMMs read it.  The gradients are computed in the kernel's row order and returned in
    torch's.
    """
    zT, S, tcT, H, x = fm["zT"], fm["S"], fm["tcT"], fm["H"], fm["x"]
    W_hh, W_ih = params["weight_hh"], params["weight_ih"]
    rows = internal_rows(H)
    T, D, B = tcT.shape[0], x.shape[-1], zT.shape[2]
    dtype = S.dtype
    dhT = np.zeros((H, B), dtype) if dh_n is None else dh_n.T.copy()  # (1') h_n = h_T: enters at T
    dcT = np.zeros((H, B), dtype) if dc_n is None else dc_n.T.copy()  # (6') c_n = c_T: enters at T
    dyT = None
    if dy is not None:  # into a reused buffer: the loop's views of it are kept (_backward_views)
        dyT = buffer(work, "dyT", (T, H, B), dtype)
        np.copyto(dyT, np.swapaxes(dy, 1, 2))
    folded, broadcast = fm["folded"], is_broadcast(x)
    xT = None if folded or broadcast else feature_major(x)  # a plain input (a loop's cache)
    n = min(T, max(1, chunk // (4 * H * B)))
    Dbuf = buffer(work, "D", (n, 5 * H, B), dtype)
    W_hh_k, W_ih_k = W_hh[rows], W_ih[rows]
    dx = np.empty((T, B, D), dtype) if need_dx and not broadcast else None
    dW = dW_ih = db = dA_sum = None
    for e in range(T, 0, -n):  # blocks of steps, newest first
        s = max(0, e - n)
        Db = Dbuf[:e - s]
        lstm_scan_backward(None if dyT is None else dyT[s:e], dhT, dcT, S[s:e], zT[s + 1:e + 1, :H],
                           tcT[s:e], W_hh_k, Db,
                           None if work is None else work.setdefault(("views", s), {}))
        dAb = Db[:, H:]
        # folded: (1') and (P') in one GEMM, Σ_t dA_tᵀ [h_{t-1}; x_t; 1]ᵀ = [dW_hh | dW_ih | db];
        # otherwise (1') Σ_t dA_tᵀ h_{t-1}
        dW = add_into(dW, sum_over_steps(dAb, zT[s:e] if folded else zT[s:e, :H], work=work))
        if dx is not None:
            dx[s:e] = np.matmul(batch_major(dAb), W_ih_k)  # (P') dx_t = dA_t W_ih
        if broadcast:
            dA_sum = add_into(dA_sum, dAb.sum(axis=0))  # the one input's gradients collect Σ_t dA_t
        elif not folded:
            dW_ih = add_into(dW_ih, sum_over_steps(dAb, xT[s:e]))  # (P') Σ_t dA_tᵀ x_t
            db = add_into(db, dAb.sum(axis=(0, 2)))  # (P') Σ_t Σ_b dA_t
    dW = plain_rows(dW, H)
    if folded:
        return dx, dhT.T, dcT.T, {"weight_hh": dW[:, :H], "weight_ih": dW[:, H:H + D],
                                  "bias": dW[:, H + D] if dW.shape[1] > H + D else None}
    if broadcast:  # (P') from Σ_t dA_t: dx (B, D), dW_ih, db
        dx, dW_ih, db = input_projection_backward(batch_major(plain_rows(dA_sum, H)), x[0], W_ih,
                                                  need_dx)
    else:
        dW_ih, db = plain_rows(dW_ih, H), plain_rows(db, H)
    return dx, dhT.T, dcT.T, {"weight_hh": dW, "weight_ih": dW_ih, "bias": db}


def lstm_state(fm):
    """The glossary's names for the storage of one pass (:class:`LSTMState`): ``h``, ``c``
    (T+1, B, H), ``tanh_c`` (T, B, H) as views, ``gates`` made on first use, and ``fm``."""
    H = fm["H"]
    return LSTMState(h=batch_major(fm["zT"][:, :H]), c=batch_major(fm["S"][:, 4 * H:]),
                     tanh_c=batch_major(fm["tcT"]), fm=fm)


def lstm_forward_fast(x, h0, c0, params):
    """The layer's fast forward: :func:`lstm_forward_fm`, (P) folded into each step's one GEMM.

    Same contract as :func:`npae.lstm.lstm_forward_loop` (the arrays in the cache are views; the
    cache's ``gates`` is made when first read).
    """
    fm = lstm_forward_fm(x, h0, c0, params)
    cache = lstm_state(fm)
    cache.update(x=x, params=params)
    h, c = cache["h"], cache["c"]
    return h[1:], (h[-1], c[-1]), cache


def lstm_backward_fast(dy, dh_n, dc_n, cache):
    """The layer's fast backward: :func:`lstm_backward_fm`, the weight gradients as GEMMs over all
    steps.  Same contract as :func:`npae.lstm.lstm_backward_loop`; also takes a cache made by the
    loop or by :func:`npae.lstm.lstm_forward`.
    """
    params = cache["params"]
    fm = cache["fm"] if "fm" in cache else fm_from_cache(cache)  # a loop's cache: batch-major
    dx, dh0, dc0, g = lstm_backward_fm(dy, dh_n, dc_n, fm, params)
    has_bias = params["bias_ih"] is not None
    grads = {"weight_ih": g["weight_ih"], "weight_hh": g["weight_hh"],
             "bias_ih": g["bias"] if has_bias else None,
             "bias_hh": g["bias"].copy() if has_bias else None}  # (P') the same for both biases
    return dx, (dh0, dc0), grads
