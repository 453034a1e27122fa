"""The torch twin of :class:`npae.DenseAutoencoder` (the guide's PyOD-style dense autoencoder)."""

import numpy as np
import torch
from torch import nn

import npae
from npae.backends import to_numpy

from .models import torch_dtype

_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class DenseAutoencoder(nn.Module):
    """Same constructor, layers and attribute names as :class:`npae.DenseAutoencoder`, so the
    state dicts (batch norm's running statistics included) have the same keys, in the same order:
    ``fc{k}`` (nn.Linear) → ``bn{k}`` (nn.BatchNorm1d) → ``act{k}`` → ``drop{k}`` (nn.Dropout) …
    → ``output_fc``, on windows flattened to ``window_size · input_size`` values."""

    def __init__(self, input_size, window_size, hidden_sizes=(144, 4, 4, 144), *, activation="relu",
                 batch_norm=True, dropout=0.2, dtype=torch.float32, seed=None):
        super().__init__()
        self.input_size, self.window_size = input_size, window_size
        self.hidden_sizes, self.activation = list(hidden_sizes), activation
        self.batch_norm, self.dropout = batch_norm, dropout
        F = input_size * window_size
        self._blocks = []
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            fan_in = F
            for k, h in enumerate(self.hidden_sizes):
                setattr(self, f"fc{k}", nn.Linear(fan_in, h))
                self._blocks.append(f"fc{k}")
                if batch_norm:
                    setattr(self, f"bn{k}", nn.BatchNorm1d(h))
                    self._blocks.append(f"bn{k}")
                setattr(self, f"act{k}", _ACT[activation]())
                setattr(self, f"drop{k}", nn.Dropout(dropout))
                self._blocks += [f"act{k}", f"drop{k}"]
                fan_in = h
            self.output_fc = nn.Linear(fan_in, F)
        self._blocks.append("output_fc")
        self.to(torch_dtype(dtype))

    def forward(self, x):
        """``x (B, T, D)`` → ``x̂ (B, T, D)``."""
        v = x.reshape(x.shape[0], -1)
        for name in self._blocks:
            v = getattr(self, name)(v)
        return v.reshape(x.shape)


def _config(model):
    return dict(activation=model.activation, batch_norm=model.batch_norm, dropout=model.dropout)


def dense_to_torch(model):
    """A :class:`DenseAutoencoder` twin of an npae one: weights, running statistics, mode."""
    twin = DenseAutoencoder(model.input_size, model.window_size, model.hidden_sizes, **_config(model),
                            dtype=model.dtype)
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    twin.train(model.training)
    return twin


def dense_to_npae(model, dtype=None):
    """The npae twin of a :class:`DenseAutoencoder`."""
    state = {k: to_numpy(v) for k, v in model.state_dict().items()}
    if dtype is None:
        dtype = next(iter(state.values())).dtype
    twin = npae.DenseAutoencoder(model.input_size, model.window_size, model.hidden_sizes,
                                 **_config(model), dtype=dtype)
    twin.load_state_dict(state)
    twin.train(model.training)
    return twin
