"""Stacked and bidirectional recurrent layers: a composition of one-layer, one-direction passes.

A layer with ``num_layers`` layers and K = ``num_directions`` (2 with ``bidirectional=True``, else
1) runs num_layers·K single recurrences, each with its own parameters (torch's ``weight_ih_l{k}`` and
``weight_ih_l{k}_reverse``) and its own initial state, index ``k·K + d`` of the
``(num_layers·K, B, H)`` state arrays — torch's layout.  Writing ``y^{(k)}`` for layer k's output
``(T, B, K·H)`` and ``y^{(-1)} = x``::

    (S1)  layer k reads  v^{(k)} = y^{(k-1)}                  (k = 0: the input x)
          and, in training mode with dropout p > 0 and k ≥ 1, v^{(k)} = y^{(k-1)} ⊙ m^{(k)}  (D1)
    (S2)  the forward direction runs on v_1 … v_T; the reverse direction on v_T … v_1, and its
          outputs are put back in time order: y^{(k)}_t = [ →h_t | ←h_t ]          (B, K·H)
          output = the last layer's y^{(k)},   h_n[k·K + d] = direction d's final state (for ←, the
          state after reading v_1)

Backward, the last layer first::

    (S2') split dy^{(k)} into its K column blocks; the reverse block is reversed in time before its
          recurrence's backward and the dx it returns is reversed back; the K dx's add up
          (both directions read the same v^{(k)})
    (S1') the sum is dy^{(k-1)} (through the dropout mask (D1') when there is one): the
          recurrences' own backward passes do the rest, layer after layer.

The recurrences themselves are the cells' functions (``npae/rnn.py``, ``npae/lstm.py``,
``npae/gru.py``), passed in as a ``forward(x, states, params) -> (y, states_n, cache)`` /
``backward(dy, dstates_n, cache) -> (dx, dstates_0, grads)`` pair, where ``states`` is a tuple
``(h,)`` or ``(h, c)`` of ``(B, H)`` arrays.
"""

import numpy as np

from .dense import dropout_backward, dropout_forward


def stacked_forward(x, states0, params, fns, num_layers, num_directions, masks=None):
    """(S1)–(S2): ``x (T, B, D)``, ``states0`` a tuple of ``(num_layers·K, B, H)`` arrays,
    ``params`` a list of num_layers·K parameter dicts, ``fns`` the cell's (forward, backward) pair,
    ``masks`` ``None`` or the num_layers - 1 dropout masks ``(T, B, K·H)`` applied to the inputs of
    layers 1, 2, … (D1).

    → ``output (T, B, K·H)``, the final states (same layout as ``states0``) and the cache."""
    forward, _ = fns
    K = num_directions
    finals = [np.empty_like(s) for s in states0]
    caches = []
    v = x
    for k in range(num_layers):
        if k > 0 and masks is not None:
            v = dropout_forward(v, masks[k - 1])  # (S1) with (D1): y^{(k-1)} ⊙ m^{(k)}
        outs = []
        for d in range(K):
            i = k * K + d
            v_d = v if d == 0 else np.ascontiguousarray(v[::-1])  # (S2) the reverse reads v_T … v_1
            y, s_n, cache = forward(v_d, tuple(s[i] for s in states0), params[i])
            for f, s in zip(finals, s_n):
                f[i] = s
            outs.append(y if d == 0 else y[::-1])  # (S2) back in time order
            caches.append(cache)
        v = outs[0] if K == 1 else np.concatenate(outs, axis=-1)  # (S2) [→h_t | ←h_t]
    return v, tuple(finals), {"caches": caches, "masks": masks, "num_layers": num_layers, "K": K}


def stacked_backward(dy, dstates_n, cache, fns):
    """(S2')–(S1'): ``dy (T, B, K·H)`` or ``None``, ``dstates_n`` a tuple of ``(num_layers·K, B, H)`` arrays
    (or ``None`` entries) → ``dx (T, B, D)``, the initial states' gradients and a list of num_layers·K
    gradient dicts (the order of ``params``)."""
    _, backward = fns
    n_layers, K, caches, masks = cache["num_layers"], cache["K"], cache["caches"], cache["masks"]
    grads = [None] * (n_layers * K)
    dstates0 = None
    dv = dy
    for k in range(n_layers - 1, -1, -1):
        dx_sum = None
        for d in range(K):
            i = k * K + d
            dy_d = None
            if dv is not None:
                H = dv.shape[-1] // K
                dy_d = dv[..., d * H:(d + 1) * H]  # (S2') this direction's column block
                if d == 1:
                    dy_d = dy_d[::-1]  # (S2') in the order the reverse recurrence ran
                dy_d = np.ascontiguousarray(dy_d)
            ds_n = tuple(None if s is None else s[i] for s in dstates_n)
            dx, ds0, grads[i] = backward(dy_d, ds_n, caches[i])
            if dstates0 is None:
                dstates0 = tuple(np.empty((n_layers * K,) + g.shape, g.dtype) for g in ds0)
            for out, g in zip(dstates0, ds0):
                out[i] = g
            if d == 1:
                dx = dx[::-1]  # (S2') back in time order
            dx_sum = dx if dx_sum is None else dx_sum + dx  # (S2') both directions read v^{(k)}
        if k > 0 and masks is not None:
            dx_sum = dropout_backward(dx_sum, masks[k - 1])  # (S1') through (D1')
        dv = dx_sum  # (S1') layer k's input gradient is layer k-1's output gradient
    return np.ascontiguousarray(dv), dstates0, grads
