"""Linear layer: ``y = x Wᵀ + b`` over any number of leading axes.

Shapes: ``x (..., F_in)``, ``W (F_out, F_in)``, ``b (F_out,)``, ``y (..., F_out)``, where F_in and
F_out are the numbers of input and output features and "..." any leading axes.  In the
autoencoders (glossary: T steps, B batch, D features, H hidden, L latent): ``encoder_fc`` maps
(B, H) → (B, L), ``decoder_fc`` (B, L) → (B, H), and ``output_fc`` (T, B, H) → (T, B, D), all T
steps in one call.

Forward and backward (numbered as in ``docs/bptt.md``)::

    (L1)  y = x Wᵀ + b
    (L1') dx = dy W,   dW = Σ dyᵀ x,   db = Σ dy     (sums over all leading axes)
"""

import numpy as np

from ._checks import as_array, check_last_dim, check_sizes
from .errors import ShapeError
from .init import linear_bound, uniform
from .module import Module, Parameter, as_float_dtype, as_generator


def linear_forward(x, weight, bias):
    """(L1) ``y = x Wᵀ + b``: ``x (..., F_in)``, ``weight (F_out, F_in)``, ``bias (F_out,)`` or
    ``None`` → ``y (..., F_out)`` and the cache the backward needs (``x``, ``weight``)."""
    y = x @ weight.T
    if bias is not None:
        y += bias
    return y, (x, weight, bias is not None)


def linear_backward(dy, cache):
    """(L1') Gradients of (L1): ``dy (..., F_out)`` → ``dx = dy W (..., F_in)`` and
    ``{"weight": dW (F_out, F_in), "bias": db (F_out,) or None}``, with
    ``dW = Σ dyᵀ x`` and ``db = Σ dy`` summed over every leading axis."""
    x, weight, has_bias = cache
    dy2 = dy.reshape(-1, dy.shape[-1])
    grads = {"weight": dy2.T @ x.reshape(-1, x.shape[-1])}
    grads["bias"] = dy2.sum(axis=0) if has_bias else None
    dx = dy @ weight
    return dx, grads


class Linear(Module):
    r"""``torch.nn.Linear`` in NumPy.

    PyTorch's equation, applied to the last axis of the input::

        y = x Aᵀ + b

    (npae writes A as W).  Parameters: ``weight (F_out, F_in)`` and ``bias (F_out,)``, both
    ~ U(-1/√F_in, 1/√F_in), with F_in = ``in_features`` and F_out = ``out_features``.

    ``Linear(in_features, out_features, bias=True, *, dtype=float32, seed=None, rng=None)``.
    ``forward(x)``: ``x (..., F_in)`` → ``y (..., F_out)`` (any leading axes, e.g. (B, H) or
    (T, B, H)).  ``backward(grad_output)``: ``dL/dy (..., F_out)`` → ``dL/dx (..., F_in)``,
    accumulating ``weight.grad`` and ``bias.grad`` — equations (L1)/(L1') of ``docs/bptt.md``.
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, seed=None, rng=None):
        super().__init__()
        check_sizes(in_features=in_features, out_features=out_features)
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.in_features, self.out_features = int(in_features), int(out_features)
        k = linear_bound(self.in_features)
        self.weight = Parameter(uniform((self.out_features, self.in_features), k, rng, dtype))
        self.bias = Parameter(uniform((self.out_features,), k, rng, dtype)) if bias else None

    def forward(self, x):
        """(L1) ``x (..., F_in)`` → ``y (..., F_out)``; keeps the cache for ``backward``."""
        x = as_array(x, self.dtype)
        if x.ndim == 0:
            raise ShapeError("Linear needs at least a 1-D input (..., in_features)")
        check_last_dim(x, self.in_features, "input")
        y, cache = linear_forward(x, self.weight.data, None if self.bias is None else self.bias.data)
        self._cache = cache
        return y

    def backward(self, grad_output):
        """(L1') ``grad_output (..., F_out)`` → ``dL/dx (..., F_in)``; accumulates ``weight.grad``
        and ``bias.grad``."""
        cache = self._take_cache()
        dy = as_array(grad_output, self.dtype, "grad_output")
        if dy.shape[:-1] != cache[0].shape[:-1] or dy.shape[-1] != self.out_features:
            raise ShapeError(
                f"grad_output has shape {dy.shape}; expected {cache[0].shape[:-1] + (self.out_features,)}"
            )
        dx, grads = linear_backward(dy, cache)
        self.weight.accumulate(grads["weight"])
        if self.bias is not None:
            self.bias.accumulate(grads["bias"])
        return dx

    def extra_repr(self):
        """The constructor arguments, as ``repr`` shows them."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
