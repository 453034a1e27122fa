"""Feature-major storage: step t's arrays as ``(F, B)`` instead of ``(B, F)``.

The tuned recurrences store the gate pre-activations of step t as ``A_tᵀ (G, B)`` instead of
``A_t (B, G)``, the states as ``(H, B)``.  The numbers are the same; what changes is that each
gate's block ``(H, B)`` is one contiguous piece of memory, so every NumPy call inside the time
loop gets a contiguous array (for the small arrays of a step, a call on a column slice of
``(B, 4H)`` costs about three times more).  The functions of the fast tier hand the glossary's
``(T, B, ·)`` layout back as transposed *views* of that storage, and :func:`feature_major` turns
such a view back into the storage without a copy.
"""

import numpy as np

from ..recurrent import input_projection, is_broadcast


def feature_major(a):
    """``(…, B, F)`` → C-contiguous ``(…, F, B)``.  Free (a view) when ``a`` is a transposed view
    of C-contiguous storage, as the fast functions return; a copy otherwise.  A broadcast
    ``(T, B, F)`` (zero stride on T) stays one, over a single ``(F, B)``."""
    if is_broadcast(a):
        once = feature_major(a[0])
        return np.broadcast_to(once, (a.shape[0],) + once.shape)
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def batch_major(aT):
    """The inverse view: ``(…, F, B)`` → ``(…, B, F)`` (no copy)."""
    return np.swapaxes(aT, -1, -2)


def input_projection_fm(x, weight_ih, bias_ih=None, bias_hh=None):
    """(P), feature-major: ``x (T, B, D)`` → ``X_Wᵀ (T, G, B)``; ``x (B, D)`` → ``(G, B)``.
    A broadcast ``x`` is projected once and the result broadcast."""
    return feature_major(input_projection(x, weight_ih, bias_ih, bias_hh))


def sum_over_steps(aT, bT, chunk=1 << 20, work=None):
    """``Σ_t aT[t] bT[t]ᵀ`` for ``aT (T, G, B)``, ``bT (T, F, B)`` → ``(G, F)``: the weight
    gradients (1'), (R1'), (P') as GEMMs over the joint (t, b) axis, a block of steps at a time.

    Small steps (G·B < 16384): each block is copied to ``(G, steps·B)`` and ``(F, steps·B)`` and
    multiplied once, a GEMM large enough to run at speed.  Large steps: one batched matmul per block
    (a GEMM per step, no copy) and a sum over the block — measured 15 % faster at the mid and large
    sizes, where the copies cost more than they save.  Blocks hold about ``chunk`` elements.
    ``work``: a dict whose arrays are reused for the copies (:func:`npae.fast.buffers.buffer`).
    """
    from .buffers import buffer

    T, G, B = aT.shape
    F = bT.shape[1]
    out = None
    if G * B < 16384:
        n = max(1, chunk // max(1, G * B))
        for s in range(0, T, n):
            k = min(n, T - s)
            a = buffer(work, "sum_a", (G, k, B), aT.dtype)
            b = buffer(work, "sum_b", (F, k, B), bT.dtype)
            np.copyto(a, aT[s:s + k].transpose(1, 0, 2))
            np.copyto(b, bT[s:s + k].transpose(1, 0, 2))
            p = a.reshape(G, -1) @ b.reshape(F, -1).T
            out = p if out is None else np.add(out, p, out=out)
    else:
        n = max(1, chunk // max(1, G * F))
        for s in range(0, T, n):
            p = np.matmul(aT[s:s + n], bT[s:s + n].swapaxes(1, 2)).sum(axis=0)
            out = p if out is None else np.add(out, p, out=out)
    return out


def add_into(total, part):
    """``total + part`` in place (``part`` itself the first time): gradients summed over blocks."""
    return part if total is None else np.add(total, part, out=total)
