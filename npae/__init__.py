"""npae: RNN, LSTM, GRU and dense autoencoders in NumPy, with hand-written BPTT and Adam.

Importing ``npae`` needs NumPy only: ``npae.plots`` and ``npae.report`` import matplotlib when a
figure is drawn, and ``reference`` (a separate package) holds everything that needs torch.

Note: the attribute ``npae.gradcheck`` is the function, which shadows its module of the same name;
``from npae.gradcheck import gradcheck_module`` still reaches the module.
"""

from . import data, errors, metrics, plots, report, scoring
from .autoencoder import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder, build_autoencoder
from .dense import BatchNorm1d, DenseAutoencoder, Dropout
from .baselines import PCADetector
from .detector import AnomalyDetector, Detection
from .errors import NpaeError
from .gradcheck import gradcheck, gradcheck_module
from .gru import GRU
from .linear import Linear
from .losses import MSELoss
from .lstm import LSTM
from .module import Module, Parameter
from .optim import SGD, Adam, Optimizer, ReduceLROnPlateau, clip_grad_norm_
from .fast import get_num_threads, set_num_threads
from .rnn import RNN
from .trace import Trace
from .train import History, fit

__version__ = "0.1.0"

__all__ = [
    "RNN", "LSTM", "GRU", "Linear", "Dropout", "BatchNorm1d",
    "RNNAutoencoder", "LSTMAutoencoder", "GRUAutoencoder", "DenseAutoencoder", "build_autoencoder",
    "MSELoss",
    "Adam", "SGD", "Optimizer", "ReduceLROnPlateau", "clip_grad_norm_",
    "gradcheck", "gradcheck_module", "Module", "Parameter", "NpaeError", "errors",
    "AnomalyDetector", "PCADetector", "Detection", "fit", "History", "Trace",
    "set_num_threads", "get_num_threads",
    "data", "scoring", "metrics", "plots", "report",
]
