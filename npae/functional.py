"""Activations, and their derivatives written in terms of their *outputs*.

The backward passes never recompute a pre-activation: they keep what the forward produced and
use ``σ'(a) = s(1 - s)`` with ``s = σ(a)``, ``tanh'(a) = 1 - y² = (1 - y)(1 + y)`` with ``y = tanh(a)`` and
``relu'(a) = [y > 0]`` with ``y = relu(a)``.

``sigmoid`` is written so that ``exp`` only ever sees a non-positive argument: it cannot
overflow (no warning for ``|x|`` up to 1e4 or beyond, float32 or float64) and it stays exact
for large negative inputs, where ``0.5 + 0.5·tanh(x/2)`` would round to zero.
"""

import numpy as np


def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + e^{-x}), computed as ``where(x ≥ 0, 1, e) / (1 + e)`` with ``e = e^{-|x|}``."""
    e = np.exp(-np.abs(x))
    return np.divide(np.where(x >= 0, 1.0, e), 1.0 + e, out=out)


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
