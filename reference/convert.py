"""Weights both ways between npae and torch, with no renaming (the names are the same)."""

import numpy as np
import torch

import npae
from npae.backends import to_numpy

from .models import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder

_PAIRS = {"rnn": (npae.RNNAutoencoder, RNNAutoencoder), "lstm": (npae.LSTMAutoencoder, LSTMAutoencoder),
          "gru": (npae.GRUAutoencoder, GRUAutoencoder)}


def _sizes(state):
    """Cell, sizes and dtype of an autoencoder, read off its state dict's keys and shapes."""
    cells = [c for c in _PAIRS if f"encoder_{c}.weight_ih_l0" in state]
    if len(cells) != 1:
        raise npae.errors.StateDictError(
            "not an npae/tutorial autoencoder state dict: expected the key "
            "'encoder_rnn.weight_ih_l0', 'encoder_lstm.weight_ih_l0' or 'encoder_gru.weight_ih_l0'; "
            "got keys " + ", ".join(map(str, state))
        )
    cell = cells[0]
    w_ih = state[f"encoder_{cell}.weight_ih_l0"]
    latent, hidden = state["encoder_fc.weight"].shape
    layers = sum(1 for k in state if k.startswith(f"encoder_{cell}.weight_ih_l") and "reverse" not in k)
    return cell, int(w_ih.shape[1]), int(hidden), int(latent), layers


def to_torch(model):
    """A ``reference`` twin of an npae autoencoder (or of its state dict), weights copied (and,
    for the dense model, the batch-norm running statistics); ``dropout`` and the training mode
    are copied from a model."""
    if isinstance(model, npae.DenseAutoencoder):
        from .dense import dense_to_torch

        return dense_to_torch(model)
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    cell, d, h, l, n = _sizes(state)
    dtype = next(iter(state.values())).dtype
    twin = _PAIRS[cell][1](d, h, l, num_layers=n, dropout=getattr(model, "dropout", 0.0), dtype=dtype)
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    twin.train(getattr(model, "training", True))
    return twin


def to_npae(model, dtype=None):
    """An npae autoencoder holding the weights of a torch model (``reference`` or the tutorial's
    own class) or of a torch/NumPy state dict.  ``dtype`` defaults to the weights' own."""
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    from .dense import DenseAutoencoder, dense_to_npae

    if isinstance(model, DenseAutoencoder):
        return dense_to_npae(model, dtype)
    state = {k: to_numpy(v) for k, v in state.items()}
    cell, d, h, l, n = _sizes(state)
    if dtype is None:
        dtype = next(iter(state.values())).dtype
    twin = _PAIRS[cell][0](d, h, l, num_layers=n, dropout=getattr(model, "dropout", 0.0), dtype=dtype)
    twin.load_state_dict(state)
    twin.train(getattr(model, "training", True))
    return twin
