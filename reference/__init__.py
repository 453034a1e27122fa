"""PyTorch twins of npae's models and the weight converters (needs the ``torch`` extra)."""

from .convert import to_npae, to_torch
from .dense import DenseAutoencoder
from .models import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder, torch_dtype

__all__ = ["RNNAutoencoder", "LSTMAutoencoder", "GRUAutoencoder", "DenseAutoencoder",
           "to_torch", "to_npae", "torch_dtype"]
