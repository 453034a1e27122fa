"""The PyTorch twins of npae's autoencoders: the seed tutorial's architecture, same names.

These are the oracles the tests compare npae against, and the ``torch`` backend of the detector.
Constructor: ``(input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
dtype=torch.float32, seed=None)``; ``dtype`` may be a torch or a NumPy dtype.  With
``num_layers > 1`` the encoder passes on its last layer's final state and every decoder layer
starts from u (``hidden.repeat(num_layers, 1, 1)``), as npae's.  With ``seed``, initialisation draws from a private
generator and leaves torch's global random state untouched.
"""

import numpy as np
import torch
from torch import nn


def torch_dtype(dtype) -> torch.dtype:
    """``torch.float32``/``torch.float64`` from a torch dtype, a NumPy dtype or a name."""
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    dt = np.dtype(dtype)
    if dt == np.float32:
        return torch.float32
    if dt == np.float64:
        return torch.float64
    raise TypeError(f"dtype must be float32 or float64, got {dt}")


class _Autoencoder(nn.Module):
    cell = None
    layer = None

    def __init__(self, input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
                 dtype=torch.float32, seed=None):
        super().__init__()
        self.input_size, self.hidden_size, self.latent_size = input_size, hidden_size, latent_size
        self.num_layers, self.dropout = num_layers, dropout
        kw = dict(num_layers=num_layers, batch_first=True, dropout=dropout)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            setattr(self, f"encoder_{self.cell}",
                    self.layer(input_size=input_size, hidden_size=hidden_size, **kw))
            self.encoder_fc = nn.Linear(hidden_size, latent_size)
            self.decoder_fc = nn.Linear(latent_size, hidden_size)
            setattr(self, f"decoder_{self.cell}",
                    self.layer(input_size=hidden_size, hidden_size=hidden_size, **kw))
            self.output_fc = nn.Linear(hidden_size, input_size)
        self.to(torch_dtype(dtype))

    def encode(self, x):
        """``x (B, T, D)`` → latent ``z (B, latent_size)``."""
        _, state = getattr(self, f"encoder_{self.cell}")(x)
        hidden = state[0] if isinstance(state, tuple) else state
        return self.encoder_fc(hidden[-1])  # the last layer's (the tutorial's squeeze(0) for one)

    def decode(self, latent, seq_len):
        """``z (B, latent_size)`` → ``x̂ (B, seq_len, D)``: u repeated as input and used as h_0."""
        hidden = self.decoder_fc(latent).unsqueeze(0)
        decoder_input = hidden.repeat(seq_len, 1, 1).transpose(0, 1)
        hidden = hidden.repeat(self.num_layers, 1, 1)  # h_0 = u in every layer
        state = (hidden, torch.zeros_like(hidden)) if self.cell == "lstm" else hidden
        out, _ = getattr(self, f"decoder_{self.cell}")(decoder_input, state)
        return self.output_fc(out)

    def forward(self, x):
        return self.decode(self.encode(x), x.size(1))


class RNNAutoencoder(_Autoencoder):
    """Torch twin of :class:`npae.RNNAutoencoder` (parameters ``encoder_rnn.*`` …)."""

    cell = "rnn"
    layer = nn.RNN


class LSTMAutoencoder(_Autoencoder):
    """Torch twin of :class:`npae.LSTMAutoencoder` (parameters ``encoder_lstm.*`` …)."""

    cell = "lstm"
    layer = nn.LSTM


class GRUAutoencoder(_Autoencoder):
    """Torch twin of :class:`npae.GRUAutoencoder` (parameters ``encoder_gru.*`` …)."""

    cell = "gru"
    layer = nn.GRU
