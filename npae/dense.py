"""Dropout (used here and between stacked recurrent layers)."""

import numpy as np


def dropout_mask(shape, p, rng, dtype):
    """(D1)'s mask: each entry ``1/(1-p)`` with probability ``1-p``, else 0 (torch's inverted
    dropout; ``p = 1`` gives all zeros).  Drawn from the explicit Generator ``rng``."""
    if p >= 1:
        return np.zeros(shape, dtype=dtype)
    keep = rng.random(shape) >= p
    return (keep * (1.0 / (1.0 - p))).astype(dtype)


def dropout_forward(x, mask):
    """(D1) ``y = x ⊙ m``."""
    return x * mask


def dropout_backward(dy, mask):
    """(D1') ``dx = dy ⊙ m``."""
    return dy * mask
