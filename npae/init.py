"""Initialisers with PyTorch's distributions (not its random stream) and an explicit Generator.

* recurrent layers (``nn.RNN``/``nn.LSTM``): every weight and bias ~ U(-1/√H, 1/√H);
* ``nn.Linear``: weight and bias ~ U(-1/√fan_in, 1/√fan_in)
  (torch's ``kaiming_uniform_(a=√5)`` reduces to that bound).

Values are drawn in float64 and then cast, so a float32 and a float64 model built from the same
seed hold the same weights up to rounding.
"""

import math

import numpy as np


def uniform(shape, bound, rng: np.random.Generator, dtype) -> np.ndarray:
    """An array of ``shape`` drawn from U(-bound, bound), in ``dtype``."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def recurrent_bound(hidden_size: int) -> float:
    """torch.nn.RNNBase.reset_parameters: 1/√H."""
    return 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0


def linear_bound(fan_in: int) -> float:
    """torch.nn.Linear.reset_parameters: 1/√fan_in (weights and bias alike)."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
