"""A one-layer recurrent autoencoder's training step and inference on the fast kernels.

The data path is (A1)–(A5) of ``npae/autoencoder.py`` (docs/bptt.md §7), the same numbers as the
plain path through the layers (``tests/test_fast_paths.py``); what differs:

* the recurrences are the cells' fast kernels (``npae/fast/{rnn,lstm,gru}.py``), called directly
  rather than through the layers, and the decoder's input projection u W_ihᵀ + b — the same at
  every step — is computed once (B, G) and broadcast over T, its weight gradient one GEMM on
  Σ_t dA_t;
* a training step's caches live in buffers reused from one step to the next
  (``model._workspace``); ``reconstruct``, ``encode`` and ``decode`` keep no cache
  (``keep=False``: one step-sized buffer per array);
* with ``npae.set_num_threads(n)`` a large batch is split into blocks that run forward and backward
  in parallel threads (:class:`Pass` then holds one cache per block), and ``reconstruct`` splits
  its batches the same way.
"""

from dataclasses import dataclass

import numpy as np

from ..linear import linear_backward, linear_forward
from ..recurrent import input_projection, input_projection_backward
from .gru import gru_recurrence_backward_fast, gru_recurrence_fast
from .lstm import lstm_backward_fm, lstm_forward_fm, lstm_state
from .rnn import rnn_forward_fm, rnn_recurrence_backward_fast, rnn_recurrence_fast
from .threads import column_blocks, pass_blas_threads, run_blocks, scoring_threads

# ---------------------------------------------------------------------------- the cells' kernels
#
# recurrence(x, h0, params, work, keep) → a state dict holding at least h (T+1, B, H); x (T, B, D)
# is a broadcast view when the input is the same at every step.  recurrence_backward(dy, dh_n,
# state, params, need_dx, work) → dx ((T, B, D), or (B, D) summed over the steps for a broadcast
# input), dh0 (B, H) and the gradients {"weight_ih", "weight_hh", "bias"} (or "bias_ih"/"bias_hh").


def _rnn(x, h0, params, work=None, keep=True):
    if not keep:  # inference: (P) folded into the step's GEMM, feature-major
        return {"h": rnn_forward_fm(x, h0, params, work=work), "x": x}
    xw = input_projection(x, params["weight_ih"], params["bias_ih"], params["bias_hh"])  # (P)
    return {"h": rnn_recurrence_fast(xw, h0, params["weight_hh"], work=work), "x": x}  # (R1)–(R2)


def _rnn_backward(dy, dh_n, state, params, need_dx=True, work=None):
    dA, dh0, dW_hh = rnn_recurrence_backward_fast(dy, dh_n, state["h"], params["weight_hh"],
                                                  work=work)  # (R2'), (R1')
    dx, dW_ih, db = input_projection_backward(dA, state["x"], params["weight_ih"], need_dx)  # (P')
    return dx, dh0, {"weight_ih": dW_ih, "weight_hh": dW_hh, "bias": db}


def _lstm(x, h0, params, work=None, keep=True):
    fm = lstm_forward_fm(x, h0, np.zeros_like(h0), params, work, keep)  # (P), (1)–(7), feature-major
    return lstm_state(fm)  # h, c, tanh_c: views; gates: made when read (npae.trace)


def _lstm_backward(dy, dh_n, state, params, need_dx=True, work=None):
    dx, dh0, _dc0, grads = lstm_backward_fm(dy, dh_n, None, state["fm"], params, need_dx, work)
    return dx, dh0, grads


def _gru(x, h0, params, work=None, keep=True):
    xw = input_projection(x, params["weight_ih"], params["bias_ih"])  # (G1), once if broadcast
    h, gates, c_n = gru_recurrence_fast(xw, h0, params["weight_hh"], params["bias_hh"])  # (G2)–(G6)
    return {"h": h, "gates": gates, "c_n": c_n, "x": x}


def _gru_backward(dy, dh_n, state, params, need_dx=True, work=None):
    dA, dh0, dW_hh, db_hh = gru_recurrence_backward_fast(dy, dh_n, state["h"], state["gates"],
                                                         state["c_n"], params["weight_hh"])  # (G6')–(G2')
    dx, dW_ih, db_ih = input_projection_backward(dA, state["x"], params["weight_ih"], need_dx)  # (G1')
    return dx, dh0, {"weight_ih": dW_ih, "weight_hh": dW_hh, "bias_ih": db_ih, "bias_hh": db_hh}


KERNELS = {"rnn": (_rnn, _rnn_backward), "lstm": (_lstm, _lstm_backward), "gru": (_gru, _gru_backward)}


# ---------------------------------------------------------------------------- one pass


@dataclass
class Block:
    """What one block of the batch keeps for the backward: the encoder's and the decoder's side."""

    x_tm: np.ndarray  # (T, b, D), the block's windows, time-major
    enc_state: dict  # the encoder's recurrence (A1)
    efc_cache: tuple  # encoder_fc's (A2)
    u: np.ndarray  # (b, H), decoder_fc's output (A3)
    dec_state: dict  # the decoder's recurrence (A4)
    dfc_cache: tuple  # decoder_fc's (A3)
    out_cache: tuple  # output_fc's (A5)


@dataclass
class Pass:
    """The cache of one fast forward: the batch's column blocks and a :class:`Block` for each."""

    blocks: list
    caches: list


def _work(model, *key):
    """The model's buffer dict for one (pass, block, half): created on first use, then reused."""
    return model._workspace.setdefault(key, {})


def encode(model, x_tm, work=None, keep=True):
    """(A1)–(A2): ``x (T, B, D)`` → ``z (B, L)``, the encoder's state and encoder_fc's cache
    (``work``: buffers to reuse; ``keep=False``: no backward will follow)."""
    run, _ = KERNELS[model.cell]
    h0 = np.zeros((x_tm.shape[1], model.hidden_size), dtype=model.dtype)
    enc_state = run(x_tm, h0, model.encoder.params(), work, keep)  # (A1), (P) inside
    z, fc_cache = linear_forward(enc_state["h"][-1], model.encoder_fc.weight.data,
                                 model.encoder_fc.bias.data)  # (A2)
    return z, enc_state, fc_cache


def decode(model, z, T, work=None, keep=True):
    """(A3)–(A5): ``z (B, L)`` → ``x̂ (T, B, D)`` and the caches (``work``, ``keep``: as :func:`encode`)."""
    run, _ = KERNELS[model.cell]
    u, dfc_cache = linear_forward(z, model.decoder_fc.weight.data, model.decoder_fc.bias.data)  # (A3)
    u_every_step = np.broadcast_to(u, (T,) + u.shape)  # the same input at every step: (P) once
    dec_state = run(u_every_step, u, model.decoder.params(), work, keep)  # (A4): h_0 = u
    y, out_cache = linear_forward(dec_state["h"][1:], model.output_fc.weight.data,
                                  model.output_fc.bias.data)  # (A5)
    return y, u, dec_state, dfc_cache, out_cache


def forward(model, x, split=True):
    """A training forward of a validated ``x (B, T, D)`` → ``(x̂ (B, T, D), Pass)``.  The caches of
    one step live in the model's reused buffers; ``split=False`` keeps the batch in one block."""
    x_tm = x.transpose(1, 0, 2)
    T, B = x_tm.shape[:2]
    blocks = column_blocks(B) if split else [slice(0, B)]

    def one_block(k, b):
        enc_work, dec_work = _work(model, "forward", k, "encoder"), _work(model, "forward", k, "decoder")
        z, enc_state, efc_cache = encode(model, x_tm[:, b], enc_work)
        y, u, dec_state, dfc_cache, out_cache = decode(model, z, T, dec_work)
        return y, Block(x_tm[:, b], enc_state, efc_cache, u, dec_state, dfc_cache, out_cache)

    with pass_blas_threads():  # set_num_threads(blas_threads=…): 1 unless told otherwise
        out = run_blocks(one_block, list(enumerate(blocks)))  # set_num_threads: blocks in parallel
    y = out[0][0] if len(out) == 1 else np.concatenate([y for y, _ in out], axis=1)
    return np.ascontiguousarray(y.transpose(1, 0, 2)), Pass(blocks, [c for _, c in out])


def backward(model, cache, dy):
    """(A5')–(A1') for the :class:`Pass` of the last forward: ``dy (B, T, D)`` (validated) → ``dx``;
    accumulates every parameter's ``.grad`` (one block after the other)."""
    _, run_backward = KERNELS[model.cell]
    dec, enc = model.decoder, model.encoder

    def one_block(k, dy_tm, c):
        """One block of the batch → its dx and its (parameter, gradient) pairs."""
        w_dec, w_enc = _work(model, "backward", k, "decoder"), _work(model, "backward", k, "encoder")
        dh_dec, g_out = linear_backward(dy_tm, c.out_cache)  # (A5') output_fc at every step
        # (A4') decoder: through time, then its input u (summed over steps) and its h_0 = u
        du_in, dh0, g_dec = run_backward(dh_dec, None, c.dec_state, dec.params(), work=w_dec)
        if du_in.ndim == 3:  # T = 1: the one step's input was not broadcast
            du_in = du_in[0]
        du = du_in + dh0  # du_in = Σ_t dA_t W_ih: u is the input of every step
        dz, g_dfc = linear_backward(du, c.dfc_cache)  # (A3')
        dh_T, g_efc = linear_backward(dz, c.efc_cache)  # (A2')
        # (A1') encoder: only its last state received a gradient
        dx, _, g_enc = run_backward(None, dh_T, c.enc_state, enc.params(), work=w_enc)
        grads = _layer_grads(dec, g_dec) + _layer_grads(enc, g_enc)
        for layer, g in ((model.output_fc, g_out), (model.decoder_fc, g_dfc), (model.encoder_fc, g_efc)):
            grads += [(layer.weight, g["weight"]), (layer.bias, g["bias"])]
        return dx, grads

    dy_tm = dy.transpose(1, 0, 2)
    with pass_blas_threads():
        out = run_blocks(one_block, [(k, dy_tm[:, b], c)
                                     for k, (b, c) in enumerate(zip(cache.blocks, cache.caches))])
    for _, grads in out:  # one block after the other: no two threads add into one .grad
        for param, g in grads:
            param.accumulate(g)
    dx = out[0][0] if len(out) == 1 else np.concatenate([dx for dx, _ in out], axis=1)
    return np.ascontiguousarray(dx.transpose(1, 0, 2))


def _layer_grads(layer, grads):
    """A recurrent layer's (parameter, gradient) pairs; (P'): both biases get the same one
    (``grads["bias"]``), unless the cell gives each its own (the GRU's (G1'), (G2'))."""
    b_ih, b_hh = (grads["bias_ih"], grads["bias_hh"]) if "bias_ih" in grads else (grads["bias"],) * 2
    return [(layer.weight_ih_l0, grads["weight_ih"]), (layer.weight_hh_l0, grads["weight_hh"]),
            (layer.bias_ih_l0, b_ih), (layer.bias_hh_l0, b_hh)]


def reconstruct(model, x, batch_size):
    """Inference on a validated ``x (n, T, D)`` in batches, no cache kept: → ``x̂ (n, T, D)``.
    With ``set_num_threads(n)`` the batches go to n threads, each with its own buffers."""
    out = np.empty_like(x)
    n = len(column_blocks(min(x.shape[0], batch_size), scoring_threads()))  # n threads ...
    batch_size = -(-min(x.shape[0], batch_size) // n)  # ... on batches n times smaller
    starts = range(0, x.shape[0], batch_size)

    def worker(k, n):  # a thread's buffers, reused batch after batch and call after call
        enc_work, dec_work = _work(model, "infer", k, "encoder"), _work(model, "infer", k, "decoder")
        for s in starts[k::n]:
            x_tm = x[s:s + batch_size].transpose(1, 0, 2)
            z, _, _ = encode(model, x_tm, enc_work, keep=False)
            y = decode(model, z, x_tm.shape[0], dec_work, keep=False)[0]
            out[s:s + batch_size] = y.transpose(1, 0, 2)

    n = min(n, len(starts))
    with pass_blas_threads():
        run_blocks(worker, [(k, n) for k in range(n)])
    return out
