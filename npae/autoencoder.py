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

Speed (docs/performance.md): the decoder's input projection u W_ihᵀ + b is the same at every
step, so it is computed once (B, G) and broadcast over T, and its weight gradient is one GEMM on
Σ_t dA_t.  A training step's caches live in buffers reused from one step to the next (``forward``
drops the previous cache first); ``reconstruct``, ``encode`` and ``decode`` keep no cache at all.
With ``npae.recurrent.set_num_threads(2)`` a large batch is split into blocks that run forward and
backward in parallel threads (the cache is then one per block), and ``reconstruct`` splits its
batches the same way.

Parameter names are the tutorial's (``encoder_lstm.weight_ih_l0``, ``encoder_fc.weight``, …), so a
state dict saved from the tutorial's torch model loads unchanged.

``num_layers > 1`` stacks the encoder's and the decoder's recurrent layers (torch's ``_l{k}``
names, inter-layer ``dropout`` in training mode): the encoder passes on its *last* layer's h_T,
and every decoder layer starts from h_0 = u (the reference twins' ``hidden.repeat(num_layers, 1, 1)``).
That path composes the layers' own forward and backward (:func:`layers_forward`,
:func:`layers_backward`) and runs on one thread.
"""

import numpy as np

from ._checks import as_array, check_last_dim, check_sizes
from .errors import DataError, ShapeError
from .gru import GRU, gru_recurrence, gru_recurrence_backward
from .linear import Linear, linear_backward, linear_forward
from .lstm import LSTM, lstm_state_views, lstm_backward_fm, lstm_forward_fm
from .module import Module, as_float_dtype, as_generator
from .recurrent import column_blocks, input_projection, input_projection_backward, run_blocks
from .rnn import RNN, rnn_recurrence, rnn_recurrence_backward
from . import trace as _trace


class _Halves:
    """``encoder`` / ``decoder``: the recurrent layers under the tutorial's names."""

    @property
    def encoder(self):
        return getattr(self, f"encoder_{self.cell}")

    @property
    def decoder(self):
        return getattr(self, f"decoder_{self.cell}")


class RecurrentAutoencoder(_Halves, Module):
    """Shared body of the recurrent autoencoders; subclasses name the cell and run its recurrence."""

    cell = None  # "rnn" | "lstm" | "gru"

    def __init__(self, input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
                 dtype=np.float32, seed=None, rng=None):
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, latent_size=latent_size)
        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        self.input_size, self.hidden_size, self.latent_size = int(input_size), int(hidden_size), int(latent_size)
        kw = dict(dtype=dtype, rng=rng)
        # the recurrent layers check num_layers and dropout; dropout masks come from this rng
        lkw = dict(kw, num_layers=num_layers, dropout=dropout)
        # registration order = the tutorial's attribute order = torch's state_dict order
        setattr(self, f"encoder_{self.cell}", self._make_layer(input_size, hidden_size, **lkw))
        self.encoder_fc = Linear(hidden_size, latent_size, **kw)
        self.decoder_fc = Linear(latent_size, hidden_size, **kw)
        setattr(self, f"decoder_{self.cell}", self._make_layer(hidden_size, hidden_size, **lkw))
        self.output_fc = Linear(hidden_size, input_size, **kw)
        self.num_layers, self.dropout = self.encoder.num_layers, self.encoder.dropout

    # ------------------------------------------------------------------ cell-specific hooks
    def _make_layer(self, input_size, hidden_size, **kw):  # pragma: no cover - abstract
        raise NotImplementedError

    def _recurrence(self, x, h0, params, work=None, keep=True):  # pragma: no cover - abstract
        """(P) and the recurrence over ``x (T, B, D)`` (a broadcast view when the input is the same
        at every step) from ``h0``; return a state dict holding at least ``h (T+1, B, H)``.
        ``work``: a dict of arrays to reuse as the state's storage (see recurrent.buffer);
        ``keep=False``: inference, the state need not serve a backward pass."""
        raise NotImplementedError

    def _recurrence_backward(self, dy, dh_n, state, params, need_dx=True, work=None):  # pragma: no cover
        """Return ``dx`` (``(T, B, D)``, or ``(B, D)`` summed over steps for a broadcast input),
        ``dh0 (B, H)`` and ``{"weight_ih", "weight_hh", "bias"}``."""
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
    def _encode(self, x_tm, work=None, keep=True):
        """(A1)–(A2): ``x (T, B, D)`` → ``z (B, L)`` and the caches (``work``: buffers to reuse;
        ``keep=False``: no backward will follow, keep only what the forward needs)."""
        B = x_tm.shape[1]
        h0 = np.zeros((B, self.hidden_size), dtype=self.dtype)
        enc_state = self._recurrence(x_tm, h0, self.encoder.params(), work, keep)  # (A1), (P) inside
        z, fc_cache = linear_forward(enc_state["h"][-1], self.encoder_fc.weight.data,
                                     self.encoder_fc.bias.data)  # (A2)
        return z, (x_tm, enc_state, fc_cache)

    def _decode(self, z, T, work=None, keep=True):
        """(A3)–(A5): ``z (B, L)`` → ``x̂ (T, B, D)`` and the caches (``work``, ``keep``: as
        :meth:`_encode`)."""
        u, dfc_cache = linear_forward(z, self.decoder_fc.weight.data, self.decoder_fc.bias.data)  # (A3)
        u_every_step = np.broadcast_to(u, (T,) + u.shape)  # the same input at every step: (P) once
        dec_state = self._recurrence(u_every_step, u, self.decoder.params(), work, keep)  # (A4): h_0 = u
        y, out_cache = linear_forward(dec_state["h"][1:], self.output_fc.weight.data,
                                      self.output_fc.bias.data)  # (A5)
        return y, (u, dec_state, dfc_cache, out_cache)

    def forward(self, x):
        """Reconstruct windows: ``x (B, T, D)`` → ``x̂ (B, T, D)``; keeps the cache for ``backward``.

        Follows ``self.training`` (inter-layer dropout with ``num_layers > 1``)."""
        x = self._check_input(x)
        if self.num_layers > 1:  # stacked: the layers composed, (S1)–(S2) inside each
            self._cache = "layers"
            y = layers_forward(self, x)
            _trace.notify(self, x, y)
            return y
        x_tm = x.transpose(1, 0, 2)
        T, B = x_tm.shape[:2]
        # the caches of one training step live in buffers reused from step to step (no page faults
        # of fresh memory); the previous cache is dropped first, as its arrays are overwritten
        self._cache = None
        work = self.__dict__.setdefault("_work", {})
        blocks = column_blocks(B)
        if len(blocks) > 1 and _trace._ACTIVE.get():  # a trace reads one plain cache
            blocks = [slice(0, B)]

        def one_block(k, b):
            w = work.setdefault(f"forward{k}", {"encoder": {}, "decoder": {}})
            z, enc_cache = self._encode(x_tm[:, b], w["encoder"])
            y, dec_cache = self._decode(z, T, w["decoder"])
            return y, (enc_cache, dec_cache)

        if len(blocks) == 1:
            y, self._cache = one_block(0, blocks[0])
        else:  # set_num_threads: the blocks of the batch in parallel threads
            out = run_blocks(one_block, list(enumerate(blocks)))
            y = np.concatenate([y for y, _ in out], axis=1)
            self._cache = ("blocks", blocks, [cache for _, cache in out])
        y = np.ascontiguousarray(y.transpose(1, 0, 2))
        _trace.notify(self, x, y)  # records the data path inside `with npae.trace.Trace()`; else a no-op
        return y

    def encode(self, x):
        """The latent code of each window: ``x (B, T, D)`` → ``z (B, latent_size)``."""
        if self.num_layers > 1:
            self._cache = None  # the layers' caches are overwritten: no backward after this
            return layers_encode(self, self._check_input(x))
        z, _ = self._encode(self._check_input(x).transpose(1, 0, 2), keep=False)
        return z

    def decode(self, z, seq_len):
        """Windows from latent codes: ``z (B, latent_size)`` → ``x̂ (B, seq_len, D)``."""
        z = as_array(z, self.dtype, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise ShapeError(f"z must have shape (B, {self.latent_size}); got {z.shape}")
        if self.num_layers > 1:
            self._cache = None
            return layers_decode(self, z, int(seq_len))
        y, _ = self._decode(z, int(seq_len), keep=False)
        return np.ascontiguousarray(y.transpose(1, 0, 2))

    def reconstruct(self, x, batch_size=1024):
        """``forward`` in batches without keeping a cache (memory grows with the batch, not with
        the number of windows), in evaluation mode (no dropout; the mode is restored after).
        ``x (n, T, D)`` → ``x̂ (n, T, D)``."""
        x = self._check_input(x)
        if self.num_layers > 1:
            was = self.training
            self.eval()
            try:
                out = np.concatenate([layers_forward(self, x[s:s + batch_size])
                                      for s in range(0, x.shape[0], batch_size)])
            finally:
                self.train(was)
                self._cache = None  # the layers' caches now hold the last batch: no backward
            return out
        out = np.empty_like(x)
        n = len(column_blocks(min(x.shape[0], batch_size)))  # set_num_threads: n threads ...
        batch_size = -(-min(x.shape[0], batch_size) // n)  # ... on batches n times smaller
        starts = range(0, x.shape[0], batch_size)

        def worker(k, n):  # a thread's buffers, reused batch after batch and call after call
            work = self.__dict__.setdefault("_work", {}).setdefault(f"infer{k}", {"encoder": {}, "decoder": {}})
            for s in starts[k::n]:
                x_tm = x[s:s + batch_size].transpose(1, 0, 2)
                z, _ = self._encode(x_tm, work["encoder"], keep=False)
                y, _ = self._decode(z, x_tm.shape[0], work["decoder"], keep=False)
                out[s:s + batch_size] = y.transpose(1, 0, 2)

        n = min(n, len(starts))
        run_blocks(worker, [(k, n) for k in range(n)])
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, grad_output):
        """``dL/dx̂ (B, T, D)`` → ``dL/dx (B, T, D)``; accumulates every parameter's ``.grad``."""
        cache = self._take_cache()
        if isinstance(cache, str) and cache == "layers":
            return layers_backward(self, grad_output)
        blocks, caches = (cache[1], cache[2]) if isinstance(cache[0], str) else ([slice(None)], [cache])
        T, _, D = caches[0][0][0].shape
        B = sum(c[0][0].shape[1] for c in caches)
        dy = as_array(grad_output, self.dtype, "grad_output")
        if dy.shape != (B, T, D):
            raise ShapeError(f"grad_output has shape {dy.shape}; the output had shape {(B, T, D)}")
        dec, enc = self.decoder, self.encoder
        work = self.__dict__.setdefault("_work", {})

        def one_block(k, dy_tm, cache):
            """One block of the batch → its dx and its (parameter, gradient) pairs."""
            (x_tm, enc_state, efc_cache), (u, dec_state, dfc_cache, out_cache) = cache
            w = work.setdefault(f"backward{k}", {})
            # (A5') output_fc at every step
            dh_dec, g_out = linear_backward(dy_tm, out_cache)
            # (A4') decoder: through time, then its input u (summed over steps) and its h_0 = u
            du_in, dh0, g_dec = self._recurrence_backward(dh_dec, None, dec_state, dec.params(), work=w)
            if du_in.ndim == 3:  # T = 1: the one step's input was not broadcast
                du_in = du_in[0]
            du = du_in + dh0  # du_in = Σ_t dA_t W_ih: u is the input of every step
            # (A3'), (A2') the two bottleneck Linears
            dz, g_dfc = linear_backward(du, dfc_cache)
            dh_T, g_efc = linear_backward(dz, efc_cache)
            # (A1') encoder: only its last state received a gradient
            dx, _, g_enc = self._recurrence_backward(None, dh_T, enc_state, enc.params(), work=w)
            grads = self._layer_grads(dec, g_dec) + self._layer_grads(enc, g_enc)
            for layer, g in ((self.output_fc, g_out), (self.decoder_fc, g_dfc), (self.encoder_fc, g_efc)):
                grads += [(layer.weight, g["weight"]), (layer.bias, g["bias"])]
            return dx, grads

        dy_tm = dy.transpose(1, 0, 2)
        out = run_blocks(one_block, [(k, dy_tm[:, b], c) for k, (b, c) in enumerate(zip(blocks, caches))])
        for _, grads in out:  # one block after the other: no two threads add into one .grad
            for param, g in grads:
                param.accumulate(g)
        dx = out[0][0] if len(out) == 1 else np.concatenate([dx for dx, _ in out], axis=1)
        return np.ascontiguousarray(dx.transpose(1, 0, 2))

    @staticmethod
    def _layer_grads(layer, grads):
        """A recurrent layer's (parameter, gradient) pairs; (P'): both biases get the same one
        (``grads["bias"]``), unless the cell gives each its own (the GRU's (G1'), (G2'))."""
        b_ih, b_hh = (grads["bias_ih"], grads["bias_hh"]) if "bias_ih" in grads else (grads["bias"],) * 2
        return [(layer.weight_ih_l0, grads["weight_ih"]), (layer.weight_hh_l0, grads["weight_hh"]),
                (layer.bias_ih_l0, b_ih), (layer.bias_hh_l0, b_hh)]

    def extra_repr(self):
        s = (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
             f"latent_size={self.latent_size}")
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + f", dtype={self.dtype}"


# ---------------------------------------------------------------------------- stacked layers
#
# With num_layers > 1 (and in PerStepAutoencoder) the data path (A1)–(A5) is composed from the
# layers' own forward/backward: the encoder's final state is its *last* layer's, and the decoder
# starts every layer from h_0 = u (c_0 = 0), torch's ``hidden.repeat(num_layers, 1, 1)``.


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

    def _recurrence(self, x, h0, params, work=None, keep=True):
        xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
        return {"h": rnn_recurrence(xw, h0, params["weight_hh"], work=work), "x": x}  # (R1)–(R2)

    def _recurrence_backward(self, dy, dh_n, state, params, need_dx=True, work=None):
        dA, dh0, dW_hh = rnn_recurrence_backward(dy, dh_n, state["h"], params["weight_hh"],
                                                 work=work)  # (R2'), (R1')
        dx, dW_ih, db = input_projection_backward(dA, state["x"], params["weight_ih"], need_dx)  # (P')
        return dx, dh0, {"weight_ih": dW_ih, "weight_hh": dW_hh, "bias": db}


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

    def _recurrence(self, x, h0, params, work=None, keep=True):
        fm = lstm_forward_fm(x, h0, np.zeros_like(h0), params, work, keep)  # (P), (1)–(7), feature-major
        h, c, gates, tanh_c = lstm_state_views(fm)
        return {"h": h, "c": c, "gates": gates, "tanh_c": tanh_c, "fm": fm}

    def _recurrence_backward(self, dy, dh_n, state, params, need_dx=True, work=None):
        dx, dh0, _dc0, grads = lstm_backward_fm(dy, dh_n, None, state["fm"], params, need_dx, work)
        return dx, dh0, grads


class GRUAutoencoder(RecurrentAutoencoder):
    """The tutorial's architecture with GRUs (torch's ``nn.GRU``), in NumPy.

    ``GRUAutoencoder(input_size=1, hidden_size=32, latent_size=16, *, num_layers=1, dropout=0.0,
    dtype=float32, seed=None)``.  Parameters: ``encoder_gru.*``, ``encoder_fc.*``,
    ``decoder_fc.*``, ``decoder_gru.*``, ``output_fc.*``; the decoder starts from h_0 = u.
    Otherwise as :class:`RNNAutoencoder`.  One layer runs the plain vectorised GRU functions
    (``npae/gru.py``) with the decoder's (G1) computed once.
    """

    cell = "gru"

    def _make_layer(self, input_size, hidden_size, **kw):
        return GRU(input_size, hidden_size, batch_first=True, **kw)

    def _recurrence(self, x, h0, params, work=None, keep=True):
        xw = input_projection(x, params["weight_ih"], params["bias_ih"])  # (G1), once if broadcast
        h, gates, c_n = gru_recurrence(xw, h0, params["weight_hh"], params["bias_hh"])  # (G2)–(G6)
        return {"h": h, "gates": gates, "c_n": c_n, "x": x}

    def _recurrence_backward(self, dy, dh_n, state, params, need_dx=True, work=None):
        dA, dh0, dW_hh, db_hh = gru_recurrence_backward(dy, dh_n, state["h"], state["gates"],
                                                        state["c_n"], params["weight_hh"])  # (G6')–(G2')
        dx, dW_ih, db_ih = input_projection_backward(dA, state["x"], params["weight_ih"], need_dx)  # (G1')
        return dx, dh0, {"weight_ih": dW_ih, "weight_hh": dW_hh, "bias_ih": db_ih, "bias_hh": db_hh}


class PerStepAutoencoder(_Halves, Module):
    """The same autoencoder composed from plain layers, ``impl="loop"`` (one cell call per time
    step): (A1)–(A5) and their backward written as a student would first write them, with the
    weights of ``model`` (an :class:`RNNAutoencoder`, :class:`LSTMAutoencoder` or
    :class:`GRUAutoencoder`, any ``num_layers``).

    It is slower (no fused decoder projection, no reused buffers) and exists to be read and to be
    compared against: the tests use it as the oracle of the tuned autoencoders, and
    ``python -m benchmarks`` times it as "npae per-step".  Same parameter names, so
    ``state_dict`` moves between the two.
    """

    def __init__(self, model):
        super().__init__()
        if not isinstance(model, RecurrentAutoencoder):
            raise TypeError(f"PerStepAutoencoder copies an RNNAutoencoder, LSTMAutoencoder or "
                            f"GRUAutoencoder, got {type(model).__name__}")
        self.cell = model.cell
        Layer = {"lstm": LSTM, "rnn": RNN, "gru": GRU}[self.cell]
        D, H, L, dt = model.input_size, model.hidden_size, model.latent_size, model.dtype
        kw = dict(batch_first=True, dtype=dt, impl="loop", num_layers=model.num_layers,
                  dropout=model.dropout, rng=model.encoder._rng)
        # registration order = the tutorial's, as in RecurrentAutoencoder
        setattr(self, f"encoder_{self.cell}", Layer(D, H, **kw))
        self.encoder_fc = Linear(H, L, dtype=dt)
        self.decoder_fc = Linear(L, H, dtype=dt)
        setattr(self, f"decoder_{self.cell}", Layer(H, H, **kw))
        self.output_fc = Linear(H, D, dtype=dt)
        self.load_state_dict(model.state_dict())

    def forward(self, x):
        """``x (B, T, D)`` → the reconstruction ``(B, T, D)``: (A1)–(A5), :func:`layers_forward`."""
        return layers_forward(self, x)

    def backward(self, grad_output):
        """``grad_output (B, T, D)`` → the gradient of ``x``; accumulates every ``.grad``
        ((A5')–(A1'), :func:`layers_backward`)."""
        return layers_backward(self, grad_output)


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
