"""The seed tutorial's recurrent autoencoders: ``RNNAutoencoder``, ``LSTMAutoencoder`` and
``GRUAutoencoder`` (the same architecture with ``nn.GRU``), and :func:`build_autoencoder`.

Data path for one batch of windows ``x (B, T, D)`` (batch-first at the edge, time-major inside)::

    (A1)  encoder recurrence over x_1 … x_T from a zero state      → h_T^enc      (B, H)
    (A2)  z = h_T^enc W_eᵀ + b_e           encoder_fc              → latent z     (B, L)
    (A3)  u = z W_dᵀ + b_d                 decoder_fc              → u            (B, H)
    (A4)  decoder recurrence with input u at *every* step and initial state h_0 = u
          (and c_0 = 0 for the LSTM)                                → h_1 … h_T^dec (T, B, H)
    (A5)  x̂_t = h_t^dec W_oᵀ + b_o          output_fc at each step → x̂            (B, T, D)

Backward, the paths that the layers alone do not have::

    (A4') u feeds the decoder twice: as the input of all T steps — its gradient is the *sum* over
          steps, Σ_t dA_t W_ih — and as the initial state h_0, whose gradient the recurrence returns.
    (A1') the encoder's output sequence is unused, so its only upstream gradient is dh_T = dz W_e
          arriving at the last state (A2').

Read this file top to bottom: the data path first, composed from the layers' own forward and
backward (:func:`layers_encode`, :func:`layers_decode`, :func:`layers_backward`), then the model
classes.  With ``impl="vectorized"`` the layers run the plain vectorised functions of
``npae/rnn.py``, ``npae/lstm.py``, ``npae/gru.py``; with ``impl="loop"`` their per-step loops
(:class:`PerStepAutoencoder` copies a model onto those).  The default, ``impl="fast"``, is for
training and scoring: a one-layer model runs ``npae/fast/autoencoder.py`` (the cells' kernels,
the decoder's projection computed once, reused buffers, the batch split over threads — skip it
on a first reading); a stacked one runs the layers with their fast kernels.

Parameter names are the tutorial's (``encoder_lstm.weight_ih_l0``, ``encoder_fc.weight``, …), so a
state dict saved from the tutorial's torch model loads unchanged.

``num_layers > 1`` stacks the encoder's and the decoder's recurrent layers (torch's ``_l{k}``
names, inter-layer ``dropout`` in training mode): the encoder passes on its *last* layer's h_T,
and every decoder layer starts from h_0 = u (the reference twins' ``hidden.repeat(num_layers, 1, 1)``).
That path always composes the layers (each at the model's ``impl``) and runs on one thread.
"""

import numpy as np

from ._checks import as_array, check_last_dim, check_sizes
from .errors import DataError, ShapeError
from .fast import autoencoder as fast
from .gru import GRU
from .linear import Linear
from .lstm import LSTM
from .module import Module, as_float_dtype, as_generator
from .rnn import RNN
from . import trace as _trace

# ---------------------------------------------------------------------------- the data path
#
# (A1)–(A5) composed from the layers' own forward/backward: the encoder's final state is its
# *last* layer's, and the decoder starts every layer from h_0 = u (c_0 = 0), torch's
# ``hidden.repeat(num_layers, 1, 1)``.


def _final_h(model, state):
    return state[0] if model.cell == "lstm" else state


def layers_encode(model, x):
    """(A1)–(A2) through the layers: ``x (B, T, D)`` → ``z (B, L)``."""
    _, state = model.encoder(x)  # (A1) every layer, (S1)–(S2) inside
    return model.encoder_fc(_final_h(model, state)[-1])  # (A2) the last layer's h_T


def layers_decode(model, z, T):
    """(A3)–(A5) through the layers: ``z (B, L)`` → ``x̂ (B, T, D)``."""
    u = model.decoder_fc(z)  # (A3)
    N = model.decoder.num_layers
    h0 = np.broadcast_to(u, (N,) + u.shape)  # (A4) h_0 = u in every layer
    hx = (h0, np.zeros_like(h0)) if model.cell == "lstm" else h0
    out, _ = model.decoder(np.broadcast_to(u[:, None, :], (u.shape[0], T, u.shape[1])), hx)  # (A4)
    return model.output_fc(out)  # (A5)


def layers_forward(model, x):
    """(A1)–(A5) composed from the layers: ``x (B, T, D)`` → ``x̂ (B, T, D)``."""
    return layers_decode(model, layers_encode(model, x), x.shape[1])


def layers_backward(model, grad_output):
    """(A5')–(A1') through the layers of the last :func:`layers_forward`: ``dx̂`` → ``dx``."""
    d_out = model.output_fc.backward(grad_output)  # (A5')
    d_steps, d_state = model.decoder.backward(d_out)  # (A4')
    dh0 = _final_h(model, d_state)
    du = d_steps.sum(axis=1) + dh0.sum(axis=0)  # (A4') u fed every step and every layer's h_0
    dh_T = model.encoder_fc.backward(model.decoder_fc.backward(du))  # (A3'), (A2')
    g = np.zeros((model.encoder.num_layers,) + dh_T.shape, dtype=dh_T.dtype)
    g[-1] = dh_T  # (A1') only the last layer's last state has an upstream gradient
    dx, _ = model.encoder.backward(None, (g, None) if model.cell == "lstm" else g)
    return dx


class _Layers:
    """The cache marker of a forward through the layers (their own caches hold the arrays)."""

    through_layers = True

    def __repr__(self):
        return "<through the layers>"


_LAYERS = _Layers()


# ---------------------------------------------------------------------------- the models


class RecurrentAutoencoder(Module):
    """Shared body of the recurrent autoencoders; subclasses name the cell and its layer class.

    ``impl``: ``"fast"`` (default), ``"vectorized"`` or ``"loop"`` (see the module's docstring);
    every one gives the same numbers up to rounding.
    """

    cell = None  # "rnn" | "lstm" | "gru"
    Layer = None

    def __init__(self, input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
                 dtype=np.float32, seed=None, rng=None, impl="fast"):
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, latent_size=latent_size)
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.input_size, self.hidden_size, self.latent_size = int(input_size), int(hidden_size), int(latent_size)
        kw = dict(dtype=dtype, rng=rng)
        # the recurrent layers check num_layers, dropout and impl; dropout masks come from this rng
        lkw = dict(kw, num_layers=num_layers, dropout=dropout, batch_first=True, impl=impl)
        # registration order = the tutorial's attribute order = torch's state_dict order
        setattr(self, f"encoder_{self.cell}", self.Layer(input_size, hidden_size, **lkw))
        self.encoder_fc = Linear(hidden_size, latent_size, **kw)
        self.decoder_fc = Linear(latent_size, hidden_size, **kw)
        setattr(self, f"decoder_{self.cell}", self.Layer(hidden_size, hidden_size, **lkw))
        self.output_fc = Linear(hidden_size, input_size, **kw)
        self.num_layers, self.dropout = self.encoder.num_layers, self.encoder.dropout
        self.impl = impl
        self._workspace = {}  # the fast path's reused buffers, one dict per (pass, block, half)

    @property
    def encoder(self):
        """The encoder's recurrent layer, under the tutorial's name (``encoder_lstm``, …)."""
        return getattr(self, f"encoder_{self.cell}")

    @property
    def decoder(self):
        """The decoder's recurrent layer (``decoder_lstm``, …)."""
        return getattr(self, f"decoder_{self.cell}")

    @property
    def _kernel(self):
        """True when this model runs ``npae/fast/autoencoder.py`` (fast, one layer)."""
        return self.impl == "fast" and self.num_layers == 1

    # ------------------------------------------------------------------ input checks
    def _check_input(self, x):
        x = as_array(x, self.dtype)
        if x.ndim != 3:
            hint = " (for a univariate batch (B, T) use x[..., None])" if x.ndim == 2 else ""
            raise ShapeError(
                f"{type(self).__name__} expects windows of shape (B, T, D); got {x.shape}{hint}"
            )
        check_last_dim(x, self.input_size, "input", "feature size D")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ShapeError(f"input has an empty axis (shape {x.shape}); need B ≥ 1 and T ≥ 1")
        return x

    # ------------------------------------------------------------------ forward
    def forward(self, x):
        """Reconstruct windows: ``x (B, T, D)`` → ``x̂ (B, T, D)``; keeps the cache for ``backward``.

        Follows ``self.training`` (inter-layer dropout with ``num_layers > 1``)."""
        x = self._check_input(x)
        self._cache = None  # the fast path's buffers are about to be overwritten
        if self._kernel:  # a trace reads one plain cache: no split while one is active
            y, self._cache = fast.forward(self, x, split=not _trace.is_active())
        else:
            y, self._cache = layers_forward(self, x), _LAYERS
        _trace.notify(self, x, y)  # records the data path inside `with npae.trace.Trace()`; else a no-op
        return y

    def encode(self, x):
        """The latent code of each window: ``x (B, T, D)`` → ``z (B, latent_size)``."""
        x = self._check_input(x)
        if self._kernel:  # its own buffers: the training cache stays
            return fast.encode(self, x.transpose(1, 0, 2), keep=False)[0]
        self._cache = None  # the layers' caches are overwritten: no backward after this
        return layers_encode(self, x)

    def decode(self, z, seq_len):
        """Windows from latent codes: ``z (B, latent_size)`` → ``x̂ (B, seq_len, D)``."""
        z = as_array(z, self.dtype, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise ShapeError(f"z must have shape (B, {self.latent_size}); got {z.shape}")
        if self._kernel:
            y = fast.decode(self, z, int(seq_len), keep=False)[0]
            return np.ascontiguousarray(y.transpose(1, 0, 2))
        self._cache = None
        return layers_decode(self, z, int(seq_len))

    def reconstruct(self, x, batch_size=1024):
        """``forward`` in batches without keeping a cache (memory grows with the batch, not with
        the number of windows), in evaluation mode (no dropout; the mode is restored after).
        ``x (n, T, D)`` → ``x̂ (n, T, D)``."""
        x = self._check_input(x)
        if self._kernel:  # the inference buffers: the training cache stays
            return fast.reconstruct(self, x, batch_size)
        was = self.training
        self.eval()
        try:
            return np.concatenate([layers_forward(self, x[s:s + batch_size])
                                   for s in range(0, x.shape[0], batch_size)])
        finally:
            self.train(was)
            self._cache = None  # the layers' caches now hold the last batch: no backward

    # ------------------------------------------------------------------ backward
    def backward(self, grad_output):
        """``dL/dx̂ (B, T, D)`` → ``dL/dx (B, T, D)``; accumulates every parameter's ``.grad``."""
        cache = self._take_cache()
        if cache is _LAYERS:
            return layers_backward(self, grad_output)
        Tx = cache.caches[0].x_tm
        shape = (sum(c.x_tm.shape[1] for c in cache.caches), Tx.shape[0], Tx.shape[2])
        dy = as_array(grad_output, self.dtype, "grad_output")
        if dy.shape != shape:
            raise ShapeError(f"grad_output has shape {dy.shape}; the output had shape {shape}")
        return fast.backward(self, cache, dy)

    def extra_repr(self):
        s = (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
             f"latent_size={self.latent_size}")
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.impl != "fast":
            s += f", impl={self.impl!r}"
        return s + f", dtype={self.dtype}"


class RNNAutoencoder(RecurrentAutoencoder):
    """The tutorial's RNN autoencoder (tanh Elman RNNs), in NumPy.

    ``RNNAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
    dtype=float32, seed=None, impl="fast")``.  Parameters: ``encoder_rnn.*``, ``encoder_fc.*``,
    ``decoder_fc.*``, ``decoder_rnn.*``, ``output_fc.*``.  ``forward(x (B, T, D)) → x̂ (B, T, D)``;
    ``backward(dx̂) → dx``; ``encode(x) → z (B, latent_size)``.  The data path is (A1)–(A5) in
    this module's docstring.
    """

    cell = "rnn"
    Layer = RNN


class LSTMAutoencoder(RecurrentAutoencoder):
    """The tutorial's LSTM autoencoder, in NumPy.

    ``LSTMAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
    dtype=float32, seed=None, impl="fast")``.  Parameters: ``encoder_lstm.*``, ``encoder_fc.*``,
    ``decoder_fc.*``, ``decoder_lstm.*``, ``output_fc.*``.  The decoder starts from
    ``(h_0, c_0) = (u, 0)``.  Otherwise as :class:`RNNAutoencoder`.
    """

    cell = "lstm"
    Layer = LSTM


class GRUAutoencoder(RecurrentAutoencoder):
    """The tutorial's architecture with GRUs (torch's ``nn.GRU``), in NumPy.

    ``GRUAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
    dtype=float32, seed=None, impl="fast")``.  Parameters: ``encoder_gru.*``, ``encoder_fc.*``,
    ``decoder_fc.*``, ``decoder_gru.*``, ``output_fc.*``; the decoder starts from h_0 = u.
    Otherwise as :class:`RNNAutoencoder`.
    """

    cell = "gru"
    Layer = GRU


class PerStepAutoencoder(RecurrentAutoencoder):
    """A copy of ``model`` (an :class:`RNNAutoencoder`, :class:`LSTMAutoencoder` or
    :class:`GRUAutoencoder`, any ``num_layers``) on the per-step loops, ``impl="loop"``: (A1)–(A5)
    and their backward as a student would first write them, one cell call per time step.

    It exists to be read and to be compared against: the tests use it as the oracle of the fast
    autoencoders, and ``python -m benchmarks`` times it as "npae per-step".  Same parameter names,
    so ``state_dict`` moves between the two.
    """

    def __init__(self, model):
        if not isinstance(model, RecurrentAutoencoder):
            raise TypeError(f"PerStepAutoencoder copies an RNNAutoencoder, LSTMAutoencoder or "
                            f"GRUAutoencoder, got {type(model).__name__}")
        Module.__init__(self)
        self.cell, self.Layer = model.cell, model.Layer
        super().__init__(model.input_size, model.hidden_size, model.latent_size,
                         num_layers=model.num_layers, dropout=model.dropout, dtype=model.dtype,
                         rng=model.encoder._rng, impl="loop")
        self.load_state_dict(model.state_dict())


def build_autoencoder(cell, n_features, hidden_size, latent_size, *, num_layers=1, dropout=0.0,
                      window_size=None, dtype="float32", seed=None, **options):
    """One factory for every autoencoder: ``cell`` in ``("rnn", "lstm", "gru", "dense")``.

    The recurrent ones are :class:`RNNAutoencoder`, :class:`LSTMAutoencoder`,
    :class:`GRUAutoencoder` ``(n_features, hidden_size, latent_size, num_layers=…, dropout=…)``.
    ``"dense"`` is :class:`npae.dense.DenseAutoencoder` on windows flattened to
    ``window_size · n_features`` values (``window_size`` required), with the symmetric hidden sizes
    ``[hidden_size] * num_layers + [latent_size] + [hidden_size] * num_layers``, batch norm, relu
    and ``dropout`` after every hidden layer.  ``options`` go to the constructor (the dense
    model's ``activation``, ``batch_norm``, ``hidden_sizes``).  Its torch twin is
    ``reference.to_torch(model)``.
    """
    dtype = as_float_dtype(dtype)
    if cell == "dense":
        from .dense import DenseAutoencoder

        if window_size is None:
            raise DataError("build_autoencoder('dense', ...) needs window_size: the dense model "
                            "reads each window flattened to window_size · n_features values")
        n = int(num_layers)
        if n < 1:
            raise DataError(f"num_layers must be an integer ≥ 1, got {num_layers!r}")
        sizes = options.pop("hidden_sizes", [hidden_size] * n + [latent_size] + [hidden_size] * n)
        return DenseAutoencoder(n_features, window_size, sizes, dropout=dropout, dtype=dtype,
                                seed=seed, **options)
    classes = {"rnn": RNNAutoencoder, "lstm": LSTMAutoencoder, "gru": GRUAutoencoder}
    if cell not in classes:
        raise DataError(f"cell must be one of 'rnn', 'lstm', 'gru', 'dense'; got {cell!r}")
    if options:
        raise TypeError(f"unexpected options for a {cell} autoencoder: {sorted(options)}")
    return classes[cell](n_features, hidden_size, latent_size, num_layers=num_layers,
                         dropout=dropout, dtype=dtype, seed=seed)
