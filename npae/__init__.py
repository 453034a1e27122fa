"""npae: RNN and LSTM sequence autoencoders in NumPy, with hand-written BPTT and Adam."""

from . import errors
from .autoencoder import LSTMAutoencoder, RNNAutoencoder
from .errors import NpaeError
from .gradcheck import gradcheck, gradcheck_module
from .linear import Linear
from .losses import MSELoss
from .lstm import LSTM
from .module import Module, Parameter
from .optim import SGD, Adam, Optimizer, clip_grad_norm_
from .rnn import RNN

__version__ = "0.1.0"

__all__ = [
    "RNN", "LSTM", "Linear", "RNNAutoencoder", "LSTMAutoencoder", "MSELoss",
    "Adam", "SGD", "Optimizer", "clip_grad_norm_",
    "gradcheck", "gradcheck_module", "Module", "Parameter", "NpaeError", "errors",
]
