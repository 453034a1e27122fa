"""Activations, and their derivatives written in terms of their *outputs*.

The backward passes never recompute a pre-activation: they keep what the forward produced and
use ``σ'(a) = s(1 - s)`` with ``s = σ(a)``, ``tanh'(a) = 1 - y² = (1 - y)(1 + y)`` with ``y = tanh(a)`` and
``relu'(a) = [y > 0]`` with ``y = relu(a)``.

``sigmoid`` is ``1 / (1 + e^{-x})``, torch's own formula: four NumPy calls, one ``exp``, and
accurate to a few ulps *relative* everywhere — also in the far negative tail, where
``0.5 + 0.5·tanh(x/2)`` would round to zero.  For ``x`` below about -88.7 (float32) or -709.8
(float64) ``e^{-x}`` rounds to +inf and ``1 / (1 + inf) = 0``, which is what σ(x) rounds to there
and what torch returns, bit for bit.  That overflow is expected, so it is silenced locally
(``np.errstate``): no warning for any ``|x|``, 1e4 and beyond.  (The previous form,
``where(x ≥ 0, 1, e) / (1 + e)`` with ``e = e^{-|x|}``, is as exact but takes seven calls and two
temporaries.)  The LSTM's vectorised loop applies the same formula to a whole block of gates at
once, under one ``errstate`` for all steps (``npae/lstm.py::lstm_scan``).
"""

import numpy as np


def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + e^{-x}); ``out`` may be ``x`` itself (in place).  No overflow warning."""
    x = np.asarray(x)
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    with np.errstate(over="ignore"):  # e^{-x} = inf for x ≪ 0 gives σ = 0, the right answer
        np.negative(x, out=out)
        np.exp(out, out=out)
    np.add(out, 1, out=out)
    return np.divide(1, out, out=out)


def tanh(x, out=None):
    """tanh(x); NumPy's is already overflow-free."""
    return np.tanh(x, out=out)


def relu(x, out=None):
    """max(x, 0)."""
    return np.maximum(x, 0, out=out)


def sigmoid_grad_from_output(s):
    """dσ/da expressed with s = σ(a): s(1 - s)."""
    return s * (1 - s)


def tanh_grad_from_output(y):
    """d tanh/da expressed with y = tanh(a): 1 - y², evaluated as (1 - y)(1 + y).

    The factored form matters where |y| ≈ 1 (a saturated unit): ``1 - y*y`` rounds y² first and
    loses up to half the digits, while (1 - y) is exact there.  It is also what torch computes.
    """
    return (1 - y) * (1 + y)


def relu_grad_from_output(y):
    """d relu/da expressed with y = relu(a): 1 where y > 0, else 0 (torch's choice at a = 0)."""
    return (y > 0).astype(y.dtype)


ACTIVATIONS = {
    "tanh": (tanh, tanh_grad_from_output),
    "relu": (relu, relu_grad_from_output),
}
