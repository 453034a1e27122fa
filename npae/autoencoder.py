"""The seed tutorial's recurrent autoencoders: ``RNNAutoencoder`` and ``LSTMAutoencoder``.

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

Speed: the decoder's input projection u W_ihᵀ + b is the same at every step, so it is computed
once (B, G) and broadcast over T, and its weight gradient is one GEMM on Σ_t dA_t.

Parameter names are the tutorial's (``encoder_lstm.weight_ih_l0``, ``encoder_fc.weight``, …), so a
state dict saved from the tutorial's torch model loads unchanged.
"""

import numpy as np

from ._checks import as_array, check_last_dim
from .errors import ShapeError
from .linear import Linear, linear_backward, linear_forward
from .lstm import LSTM, lstm_recurrence, lstm_recurrence_backward
from .module import Module, as_float_dtype, as_generator
from .recurrent import input_projection, input_projection_backward
from .rnn import RNN, rnn_recurrence, rnn_recurrence_backward
from . import trace as _trace


class RecurrentAutoencoder(Module):
    """Shared body of the two autoencoders; subclasses name the cell and run its recurrence."""

    cell = None  # "rnn" | "lstm"

    def __init__(self, input_size=1, hidden_size=32, latent_size=16, *, dtype=np.float32,
                 seed=None, rng=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("latent_size", latent_size)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.input_size, self.hidden_size, self.latent_size = int(input_size), int(hidden_size), int(latent_size)
        kw = dict(dtype=dtype, rng=rng)
        # registration order = the tutorial's attribute order = torch's state_dict order
        setattr(self, f"encoder_{self.cell}", self._make_layer(input_size, hidden_size, **kw))
        self.encoder_fc = Linear(hidden_size, latent_size, **kw)
        self.decoder_fc = Linear(latent_size, hidden_size, **kw)
        setattr(self, f"decoder_{self.cell}", self._make_layer(hidden_size, hidden_size, **kw))
        self.output_fc = Linear(hidden_size, input_size, **kw)

    @property
    def encoder(self):
        return getattr(self, f"encoder_{self.cell}")

    @property
    def decoder(self):
        return getattr(self, f"decoder_{self.cell}")

    # ------------------------------------------------------------------ cell-specific hooks
    def _make_layer(self, input_size, hidden_size, **kw):  # pragma: no cover - abstract
        raise NotImplementedError

    def _recurrence(self, xw, h0, weight_hh):  # pragma: no cover - abstract
        """Run the recurrence; return a state dict holding at least ``h (T+1, B, H)``."""
        raise NotImplementedError

    def _recurrence_backward(self, dy, dh_n, state, weight_hh):  # pragma: no cover - abstract
        """Return ``dA (T, B, G)``, ``dh0 (B, H)``, ``dW_hh``."""
        raise NotImplementedError

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
    def _encode(self, x_tm):
        """(A1)–(A2): ``x (T, B, D)`` → ``z (B, L)`` and the caches."""
        enc = self.encoder.params()
        B = x_tm.shape[1]
        xw = input_projection(x_tm, enc["weight_ih"], enc["bias_ih"], enc["bias_hh"])  # (P)
        h0 = np.zeros((B, self.hidden_size), dtype=self.dtype)
        enc_state = self._recurrence(xw, h0, enc["weight_hh"])  # (A1)
        z, fc_cache = linear_forward(enc_state["h"][-1], self.encoder_fc.weight.data,
                                     self.encoder_fc.bias.data)  # (A2)
        return z, (x_tm, enc_state, fc_cache)

    def _decode(self, z, T):
        """(A3)–(A5): ``z (B, L)`` → ``x̂ (T, B, D)`` and the caches."""
        dec = self.decoder.params()
        u, dfc_cache = linear_forward(z, self.decoder_fc.weight.data, self.decoder_fc.bias.data)  # (A3)
        uw = input_projection(u, dec["weight_ih"], dec["bias_ih"], dec["bias_hh"])  # (P), once
        xw = np.broadcast_to(uw, (T,) + uw.shape)  # the same input at every step
        dec_state = self._recurrence(xw, u, dec["weight_hh"])  # (A4): h_0 = u
        y, out_cache = linear_forward(dec_state["h"][1:], self.output_fc.weight.data,
                                      self.output_fc.bias.data)  # (A5)
        return y, (u, dec_state, dfc_cache, out_cache)

    def forward(self, x):
        """Reconstruct windows: ``x (B, T, D)`` → ``x̂ (B, T, D)``; keeps the cache for ``backward``."""
        x = self._check_input(x)
        x_tm = x.transpose(1, 0, 2)
        z, enc_cache = self._encode(x_tm)
        y, dec_cache = self._decode(z, x_tm.shape[0])
        self._cache = (enc_cache, dec_cache)
        y = np.ascontiguousarray(y.transpose(1, 0, 2))
        _trace.notify(self, x, y)  # records the data path inside `with npae.trace.Trace()`; else a no-op
        return y

    def encode(self, x):
        """The latent code of each window: ``x (B, T, D)`` → ``z (B, latent_size)``."""
        z, _ = self._encode(self._check_input(x).transpose(1, 0, 2))
        return z

    def decode(self, z, seq_len):
        """Windows from latent codes: ``z (B, latent_size)`` → ``x̂ (B, seq_len, D)``."""
        z = as_array(z, self.dtype, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise ShapeError(f"z must have shape (B, {self.latent_size}); got {z.shape}")
        y, _ = self._decode(z, int(seq_len))
        return np.ascontiguousarray(y.transpose(1, 0, 2))

    def reconstruct(self, x, batch_size=1024):
        """``forward`` in batches without keeping a cache (memory grows with the batch, not with
        the number of windows).  ``x (n, T, D)`` → ``x̂ (n, T, D)``."""
        x = self._check_input(x)
        out = np.empty_like(x)
        for s in range(0, x.shape[0], batch_size):
            x_tm = x[s:s + batch_size].transpose(1, 0, 2)
            z, _ = self._encode(x_tm)
            y, _ = self._decode(z, x_tm.shape[0])
            out[s:s + batch_size] = y.transpose(1, 0, 2)
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, grad_output):
        """``dL/dx̂ (B, T, D)`` → ``dL/dx (B, T, D)``; accumulates every parameter's ``.grad``."""
        (x_tm, enc_state, efc_cache), (u, dec_state, dfc_cache, out_cache) = self._take_cache()
        T, B, D = x_tm.shape
        dy = as_array(grad_output, self.dtype, "grad_output")
        if dy.shape != (B, T, D):
            raise ShapeError(f"grad_output has shape {dy.shape}; the output had shape {(B, T, D)}")
        dec, enc = self.decoder, self.encoder
        # (A5') output_fc at every step
        dh_dec, g_out = linear_backward(dy.transpose(1, 0, 2), out_cache)
        # (A4') decoder: through time, then its input u (summed over steps) and its h_0 = u
        dA, dh0, dW_hh = self._recurrence_backward(dh_dec, None, dec_state, dec.weight_hh_l0.data)
        du_in, dW_ih, db = input_projection_backward(dA.sum(axis=0), u, dec.weight_ih_l0.data)
        self._accumulate_layer(dec, dW_ih, dW_hh, db)
        du = du_in + dh0
        # (A3'), (A2') the two bottleneck Linears
        dz, g_dfc = linear_backward(du, dfc_cache)
        dh_T, g_efc = linear_backward(dz, efc_cache)
        # (A1') encoder: only its last state received a gradient
        dA, _, dW_hh = self._recurrence_backward(None, dh_T, enc_state, enc.weight_hh_l0.data)
        dx, dW_ih, db = input_projection_backward(dA, x_tm, enc.weight_ih_l0.data)
        self._accumulate_layer(enc, dW_ih, dW_hh, db)
        for layer, g in ((self.output_fc, g_out), (self.decoder_fc, g_dfc), (self.encoder_fc, g_efc)):
            layer.weight.accumulate(g["weight"])
            layer.bias.accumulate(g["bias"])
        return np.ascontiguousarray(dx.transpose(1, 0, 2))

    @staticmethod
    def _accumulate_layer(layer, dW_ih, dW_hh, db):
        layer.weight_ih_l0.accumulate(dW_ih)
        layer.weight_hh_l0.accumulate(dW_hh)
        layer.bias_ih_l0.accumulate(db)  # (P'): both biases get the same gradient
        layer.bias_hh_l0.accumulate(db)

    def extra_repr(self):
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"latent_size={self.latent_size}, dtype={self.dtype}")


class RNNAutoencoder(RecurrentAutoencoder):
    """The tutorial's RNN autoencoder (tanh Elman RNNs), in NumPy.

    ``RNNAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, dtype=float32, seed=None)``.
    Parameters: ``encoder_rnn.*``, ``encoder_fc.*``, ``decoder_fc.*``, ``decoder_rnn.*``,
    ``output_fc.*``.  ``forward(x (B, T, D)) → x̂ (B, T, D)``; ``backward(dx̂) → dx``;
    ``encode(x) → z (B, latent_size)``.  The data path is (A1)–(A5) in this module's docstring.
    """

    cell = "rnn"

    def _make_layer(self, input_size, hidden_size, **kw):
        return RNN(input_size, hidden_size, batch_first=True, **kw)

    def _recurrence(self, xw, h0, weight_hh):
        return {"h": rnn_recurrence(xw, h0, weight_hh)}

    def _recurrence_backward(self, dy, dh_n, state, weight_hh):
        return rnn_recurrence_backward(dy, dh_n, state["h"], weight_hh)


class LSTMAutoencoder(RecurrentAutoencoder):
    """The tutorial's LSTM autoencoder, in NumPy.

    ``LSTMAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, dtype=float32, seed=None)``.
    Parameters: ``encoder_lstm.*``, ``encoder_fc.*``, ``decoder_fc.*``, ``decoder_lstm.*``,
    ``output_fc.*``.  The decoder starts from ``(h_0, c_0) = (u, 0)``.  Otherwise as
    :class:`RNNAutoencoder`.
    """

    cell = "lstm"

    def _make_layer(self, input_size, hidden_size, **kw):
        return LSTM(input_size, hidden_size, batch_first=True, **kw)

    def _recurrence(self, xw, h0, weight_hh):
        h, c, gates, tanh_c = lstm_recurrence(xw, h0, np.zeros_like(h0), weight_hh)
        return {"h": h, "c": c, "gates": gates, "tanh_c": tanh_c}

    def _recurrence_backward(self, dy, dh_n, state, weight_hh):
        dA, dh0, _dc0, dW_hh = lstm_recurrence_backward(
            dy, dh_n, None, state["h"], state["c"], state["gates"], state["tanh_c"], weight_hh)
        return dA, dh0, dW_hh
