"""Weights both ways between npae and torch, with no renaming (the names are the same)."""

import numpy as np
import torch

import npae

from .models import LSTMAutoencoder, RNNAutoencoder

_PAIRS = {"rnn": (npae.RNNAutoencoder, RNNAutoencoder), "lstm": (npae.LSTMAutoencoder, LSTMAutoencoder)}


def _sizes(state):
    """Cell, sizes and dtype of an autoencoder, read off its state dict's keys and shapes."""
    cells = [c for c in _PAIRS if f"encoder_{c}.weight_ih_l0" in state]
    if len(cells) != 1:
        raise npae.errors.StateDictError(
            "not an npae/tutorial autoencoder state dict: expected the key "
            "'encoder_rnn.weight_ih_l0' or 'encoder_lstm.weight_ih_l0'; got keys " + ", ".join(map(str, state))
        )
    cell = cells[0]
    w_ih = state[f"encoder_{cell}.weight_ih_l0"]
    latent, hidden = state["encoder_fc.weight"].shape
    return cell, int(w_ih.shape[1]), int(hidden), int(latent)


def _numpy(v):
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def to_torch(model):
    """A ``reference`` twin of an npae autoencoder (or of its state dict), weights copied."""
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    cell, d, h, l = _sizes(state)
    dtype = next(iter(state.values())).dtype
    twin = _PAIRS[cell][1](d, h, l, dtype=dtype)
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return twin


def to_npae(model, dtype=None):
    """An npae autoencoder holding the weights of a torch model (``reference`` or the tutorial's
    own class) or of a torch/NumPy state dict.  ``dtype`` defaults to the weights' own."""
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    state = {k: _numpy(v) for k, v in state.items()}
    cell, d, h, l = _sizes(state)
    if dtype is None:
        dtype = next(iter(state.values())).dtype
    twin = _PAIRS[cell][0](d, h, l, dtype=dtype)
    twin.load_state_dict(state)
    return twin
