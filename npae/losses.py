"""Mean squared error, torch's ``nn.MSELoss(reduction="mean")``.

    (M)   L = (1/N) Σ (x̂ - x)²            N = number of elements (B·T·D for windows (B, T, D))
    (M')  dL/dx̂ = (2/N) (x̂ - x)

The target x receives no gradient (it is data), as in torch when the target does not require
one.  Derivation: ``docs/bptt.md``, section 8.
"""

import numpy as np

from ._checks import as_array
from .errors import ShapeError
from .module import Module


def mse_loss(input, target):
    """(M) ``input`` x̂ and ``target`` x of the same shape, e.g. (B, T, D) → the loss (a 0-d array
    in the input's dtype) and the cache for the backward."""
    diff = input - target
    return np.mean(diff * diff), (diff,)


def mse_loss_backward(cache, grad=1.0):
    """(M') ``dL/dx̂ = (2/N)(x̂ - x)``, shaped like the input, times the upstream ``grad``
    (1 for a loss at the top of the graph)."""
    (diff,) = cache
    return diff * (2.0 * grad / diff.size)


class MSELoss(Module):
    """``torch.nn.MSELoss()`` in NumPy: ``loss = MSELoss()(input, target)``, then
    ``grad_input = loss_fn.backward()``.

    PyTorch's equation (``reduction="mean"``)::

        ℓ(x̂, x) = mean((x̂ - x)²)

    ``input`` x̂ and ``target`` x must have the same shape (the autoencoder's (B, T, D)); the
    result is the mean over all N elements, a 0-d NumPy array in the input's dtype.
    ``backward()`` returns ``dL/dx̂`` (M'), shaped like ``input``.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction != "mean":
            raise NotImplementedError(f"MSELoss implements reduction='mean' only, got {reduction!r}")

    def forward(self, input, target):
        """(M) The mean squared error of ``input`` against ``target`` (same shape); keeps the cache."""
        input = np.asarray(input)
        dtype = input.dtype if input.dtype.kind == "f" else np.float64
        input = as_array(input, dtype, "input")
        target = as_array(target, dtype, "target")
        if input.shape != target.shape:
            raise ShapeError(f"MSELoss needs input and target of the same shape, got {input.shape} and {target.shape}")
        if input.size == 0:
            raise ShapeError("MSELoss of an empty array is undefined")
        loss, self._cache = mse_loss(input, target)
        return loss

    def backward(self, grad=1.0):
        """(M') ``dL/d input``, shaped like the last ``input``, times ``grad``."""
        return mse_loss_backward(self._take_cache(), grad)
