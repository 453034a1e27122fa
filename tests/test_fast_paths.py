"""The fast tier (npae/fast/) against the plain tier and against torch (float64).

What is tuned (docs/performance.md): the feature-major LSTM loops with the inputs folded into the
step's GEMM and the gates from one ``tanh``; the pre-computed gate derivatives; the weight
gradients as blocked GEMMs; the in-place RNN and GRU recurrences; the underflow stop; buffers
reused from one training step to the next; the one-step buffers of inference (``reconstruct``,
``encode``, ``decode``); the batch split over threads.  Each is compared with an independent
oracle: the plain vectorised functions and the per-step loops (``*_loop``, ``impl="loop"``
layers), torch autograd, or a naive NumPy expression.  Runtime: about 15 s on 2 cores.
"""

import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close, random_recurrent_params, randomize
from hypothesis import given
from hypothesis import strategies as st

import reference
from npae.autoencoder import GRUAutoencoder, LSTMAutoencoder, PerStepAutoencoder, RNNAutoencoder
from npae.fast import get_num_threads as npae_get_num_threads
from npae.fast import set_num_threads
from npae.fast.gru import gru_backward_fast, gru_forward_fast
from npae.fast.layout import feature_major, sum_over_steps
from npae.fast.lstm import (fm_from_cache, lstm_backward_fast, lstm_backward_fm, lstm_forward_fast,
                             lstm_forward_fm)
from npae.fast.rnn import rnn_backward_fast, rnn_forward_fast, rnn_forward_fm
from npae.gru import gru_backward, gru_forward
from npae.lstm import (lstm_backward, lstm_backward_loop, lstm_forward, lstm_forward_loop,
                       lstm_recurrence, lstm_recurrence_backward)
from npae.recurrent import input_projection, input_projection_backward
from npae.rnn import (rnn_backward, rnn_backward_loop, rnn_forward, rnn_forward_loop, rnn_recurrence,
                      rnn_recurrence_backward)

TOL = 1e-10  # float64, relative to the oracle's largest entry (helpers.assert_close)
TIER_TOL = 1e-12  # float64, fast tier against the plain vectorised tier
SEED = st.integers(0, 2**32 - 1)
LSTM_TIERS = {"fast": (lstm_forward_fast, lstm_backward_fast), "vectorized": (lstm_forward, lstm_backward)}


@pytest.fixture(autouse=True)
def _one_thread_after():
    yield
    set_num_threads(1)


def _torch_lstm(params, D, H):
    tl = torch.nn.LSTM(D, H, bias=params["bias_ih"] is not None).double()
    with torch.no_grad():
        for k, v in params.items():
            if v is not None:
                getattr(tl, k + "_l0").copy_(torch.tensor(v, dtype=torch.float64))
    return tl


# ---------------------------------------------------------------------------------------------
# LSTM: functional API, vectorised vs loop vs torch
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", ["fast", "vectorized"])
@given(T=st.integers(1, 12), B=st.integers(1, 5), D=st.integers(1, 4), H=st.integers(1, 7),
       bias=st.booleans(), with_dy=st.booleans(), with_dh=st.booleans(), with_dc=st.booleans(),
       seed=SEED)
def test_lstm_tiers_equal_loop_and_torch(tier, T, B, D, H, bias, with_dy, with_dh, with_dc, seed):
    lstm_forward, lstm_backward = LSTM_TIERS[tier]
    rng = np.random.default_rng(seed)
    p = random_recurrent_params(rng, 4 * H, D, H, bias)
    x, h0, c0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dy = rng.standard_normal((T, B, H)) if with_dy else None
    dh_n = rng.standard_normal((B, H)) if with_dh else None
    dc_n = rng.standard_normal((B, H)) if with_dc else None
    dy_copy = None if dy is None else dy.copy()

    y, (h_n, c_n), cache = lstm_forward(x, h0, c0, p)
    y_l, (h_l, c_l), cache_l = lstm_forward_loop(x, h0, c0, p)
    dx, (dh0, dc0), g = lstm_backward(dy, dh_n, dc_n, cache)
    dx_l, (dh0_l, dc0_l), g_l = lstm_backward_loop(dy, dh_n, dc_n, cache_l)
    # the same cache contents (views of feature-major storage vs plain arrays)
    for k in ("h", "c", "gates", "tanh_c"):
        assert_close(cache[k], cache_l[k], TOL, "cache " + k)
    for a, b, what in ((y, y_l, "y"), (h_n, h_l, "h_n"), (c_n, c_l, "c_n"), (dx, dx_l, "dx"),
                       (dh0, dh0_l, "dh0"), (dc0, dc0_l, "dc0")):
        assert a.shape == b.shape
        assert_close(a, b, TOL, what)
    for k in g_l:
        assert (g[k] is None) == (g_l[k] is None)
        if g_l[k] is not None:
            assert_close(g[k], g_l[k], TOL, "grad " + k)
    if dy is not None:
        np.testing.assert_array_equal(dy, dy_copy)  # never mutate an upstream gradient

    # torch autograd, every output weighted by its random upstream gradient
    tl = _torch_lstm(p, D, H)
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0[None], c0[None]))
    yt, (hnt, cnt) = tl(xt, (h0t, c0t))
    loss = sum((o * torch.tensor(gr)).sum() for o, gr in ((yt, dy), (hnt, dh_n), (cnt, dc_n))
               if gr is not None)
    assert_close(y, yt.detach(), TOL, "y vs torch")
    if torch.is_tensor(loss):
        loss.backward()
        assert_close(dx, xt.grad, TOL, "dx vs torch")
        assert_close(dh0, h0t.grad[0], TOL, "dh0 vs torch")
        assert_close(dc0, c0t.grad[0], TOL, "dc0 vs torch")
        assert_close(g["weight_hh"], tl.weight_hh_l0.grad, TOL, "dW_hh vs torch")
        assert_close(g["weight_ih"], tl.weight_ih_l0.grad, TOL, "dW_ih vs torch")
        if bias:
            assert_close(g["bias_ih"], tl.bias_ih_l0.grad, TOL, "db_ih vs torch")
            assert_close(g["bias_hh"], tl.bias_hh_l0.grad, TOL, "db_hh vs torch")


def _assert_projection_backward_equals_loop(dA, x, p, dx_l, g_l):
    """(P') from the recurrence's dA equals the plain loop's dx, dW_ih and both bias gradients; a
    broadcast x (the same input at every step) gets the loop's dx summed over the steps."""
    dx, dW_ih, db = input_projection_backward(dA, x, p["weight_ih"])
    assert_close(dW_ih, g_l["weight_ih"], TOL, "dW_ih")
    assert_close(db, g_l["bias_ih"], TOL, "db_ih")
    assert_close(db, g_l["bias_hh"], TOL, "db_hh")
    T = x.shape[0]
    assert_close(dx, dx_l.sum(axis=0) if x.strides[0] == 0 and T > 1 else dx_l, TOL, "dx")


@given(T=st.integers(1, 10), B=st.integers(1, 5), H=st.integers(1, 6), broadcast=st.booleans(),
       seed=SEED)
def test_lstm_recurrence_public_functions_equal_the_loop(T, B, H, broadcast, seed):
    """lstm_recurrence(_backward) with a projected input — also the decoder's broadcast one."""
    rng = np.random.default_rng(seed)
    D = H
    p = random_recurrent_params(rng, 4 * H, D, H)
    if broadcast:  # the same input at every step, as the autoencoder's decoder
        x = np.broadcast_to(rng.standard_normal((B, D)), (T, B, D))
    else:
        x = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dy, dh_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    xw = input_projection(x, p["weight_ih"], p["bias_ih"], p["bias_hh"])
    assert (xw.strides[0] == 0) == (broadcast and T > 1)  # projected once, not T times
    h, c, gates, tanh_c = lstm_recurrence(xw, h0, c0, p["weight_hh"])
    _, _, cache_l = lstm_forward_loop(np.ascontiguousarray(x), h0, c0, p)
    for a, k in ((h, "h"), (c, "c"), (gates, "gates"), (tanh_c, "tanh_c")):
        assert a.shape == cache_l[k].shape
        assert_close(a, cache_l[k], TOL, k)
    dA, dh0, dc0, dW_hh = lstm_recurrence_backward(dy, dh_n, None, h, c, gates, tanh_c, p["weight_hh"])
    dx_l, (dh0_l, dc0_l), g_l = lstm_backward_loop(dy, dh_n, None, cache_l)
    assert_close(dh0, dh0_l, TOL, "dh0")
    assert_close(dc0, dc0_l, TOL, "dc0")
    assert_close(dW_hh, g_l["weight_hh"], TOL, "dW_hh")
    _assert_projection_backward_equals_loop(dA, x, p, dx_l, g_l)
    # the same recurrence from plain (non-view) arrays, as a caller may hand them
    again = lstm_recurrence_backward(dy, dh_n, None, *(np.array(a) for a in (h, c, gates, tanh_c)),
                                     p["weight_hh"])
    for a, b in zip(again, (dA, dh0, dc0, dW_hh)):
        assert_close(a, b, 1e-14, "plain arrays")


def test_fast_lstm_backward_takes_a_loop_cache():
    rng = np.random.default_rng(3)
    p = random_recurrent_params(rng, 20, 3, 5)
    x, h0, c0 = rng.standard_normal((7, 4, 3)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    dy = rng.standard_normal((7, 4, 5))
    _, _, cache_l = lstm_forward_loop(x, h0, c0, p)
    a = lstm_backward_fast(dy, None, None, cache_l)
    b = lstm_backward_loop(dy, None, None, cache_l)
    assert_close(a[0], b[0], TOL, "dx")
    for k in b[2]:
        assert_close(a[2][k], b[2][k], TOL, k)


@pytest.mark.parametrize("kind", ["folded", "broadcast", "loop cache"])
@given(T=st.integers(1, 9), B=st.integers(1, 4), H=st.integers(1, 5), seed=SEED)
def test_backward_in_blocks_of_steps_equals_one_block(kind, T, B, H, seed):
    """lstm_backward_fm runs back through time in blocks of steps: 1, 2 or 3 steps per block
    against all steps in one, for the encoder (inputs folded into the GEMM), the decoder (one
    broadcast input) and a plain cache made by the loop."""
    rng = np.random.default_rng(seed)
    D = 2
    p = random_recurrent_params(rng, 4 * H, D, H)
    x = (np.broadcast_to(rng.standard_normal((B, D)), (T, B, D)) if kind == "broadcast"
         else rng.standard_normal((T, B, D)))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dy, dh_n = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    if kind == "loop cache":
        _, _, cache = lstm_forward_loop(x, h0, c0, p)
        fm = fm_from_cache(cache)
    else:
        fm = lstm_forward_fm(x, h0, c0, p)
    one = lstm_backward_fm(dy, dh_n, None, fm, p, chunk=1 << 30)
    for steps in (1, 2, 3):
        blocks = lstm_backward_fm(dy, dh_n, None, fm, p, chunk=steps * 4 * H * B)
        for a, b, what in zip(blocks[:3], one[:3], ("dx", "dh0", "dc0")):
            assert_close(a, b, 1e-13, f"{what}, {steps} step(s) per block")
        for k in one[3]:
            assert_close(blocks[3][k], one[3][k], 1e-13, f"{k}, {steps} step(s) per block")
    _, _, cache_l = lstm_forward_loop(np.ascontiguousarray(x), h0, c0, p)
    dx_l, _, g_l = lstm_backward_loop(dy, dh_n, None, cache_l)
    assert_close(one[3]["weight_hh"], g_l["weight_hh"], TOL, "dW_hh vs loop")
    assert_close(one[3]["bias"], g_l["bias_ih"], TOL, "db vs loop")
    assert_close(one[0], dx_l.sum(axis=0) if kind == "broadcast" and T > 1 else dx_l, TOL, "dx vs loop")


@pytest.mark.parametrize("tier", ["fast", "vectorized"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_gates_no_warning_and_equal_torch(tier, dtype):
    """Pre-activations up to |a| ~ 1e4: the fast tier's one-tanh gate block (and the plain tier's
    e^{-a}, which overflows to inf) must give σ = 0 / tanh = -1 exactly as torch, with no
    RuntimeWarning."""
    lstm_forward, lstm_backward = LSTM_TIERS[tier]
    rng = np.random.default_rng(0)
    D, H, T, B = 2, 4, 6, 3
    p = {k: v.astype(dtype) for k, v in random_recurrent_params(rng, 4 * H, D, H).items()}
    p["weight_ih"] *= 3e3
    x = (rng.standard_normal((T, B, D)) * 2).astype(dtype)
    h0 = np.zeros((B, H), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, (h_n, c_n), cache = lstm_forward(x, h0, h0, p)
        dx, _, g = lstm_backward(np.ones_like(y), None, None, cache)
    pre = np.abs(x.reshape(-1, D) @ p["weight_ih"].T)
    assert pre.max() > 1e3  # the test does reach the overflow region
    assert y.dtype == dtype and np.isfinite(y).all() and np.isfinite(dx).all()
    gates = cache["gates"]
    assert gates.min() >= -1 and gates.max() <= 1 and (gates == 0).any()  # σ rounded to 0 exactly
    tl = _torch_lstm(p, D, H).to(torch.float64 if dtype == np.float64 else torch.float32)
    yt, _ = tl(torch.tensor(x))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("cell,num_layers", [("rnn", 1), ("lstm", 1), ("gru", 1), ("lstm", 2), ("rnn", 2),
                                             ("gru", 2)])
def test_vanishing_carry_stops_instead_of_going_subnormal(cell, num_layers):
    """float32, a gradient entering only at the last step (the encoder's case), shrinking through
    T steps: the fast backward stops once it is below tiny/eps (npae/fast/underflow.py) instead of
    computing subnormals (slow on x86) — and still equals the plain float64 loop, which never
    stops, to float32 precision in every gradient.  With two layers, the gradient enters the top
    layer's last state only; the lower layer's dy is what the top layer sends down, zero on the
    steps it no longer reached (npae/fast/underflow.py::quiet_steps)."""
    from npae import GRU, LSTM, RNN

    Layer = {"lstm": LSTM, "rnn": RNN, "gru": GRU}[cell]
    T, B, D, H = 120, 4, 3, 8
    rng = np.random.default_rng(0)
    oracle = Layer(D, H, num_layers=num_layers, dtype=np.float64, seed=0, impl="loop")
    for p in oracle.parameters():
        p.data *= 0.5  # the carried gradient shrinks by ~10× per step
    tuned = Layer(D, H, num_layers=num_layers, dtype=np.float32)
    tuned.load_state_dict(oracle.state_dict())
    x = rng.standard_normal((T, B, D))
    dh_n = np.zeros((num_layers, B, H))
    dh_n[-1] = rng.standard_normal((B, H)) * 1e-20
    grads = []
    for layer, dtype in ((oracle, np.float64), (tuned, np.float32)):
        layer.zero_grad()
        layer(x.astype(dtype))
        state = (dh_n.astype(dtype), None) if cell == "lstm" else dh_n.astype(dtype)
        dx, d0 = layer.backward(None, state)
        d0 = d0[0] if cell == "lstm" else d0
        grads.append({"dx": dx, "dh0": d0, **{n: p.grad for n, p in layer.named_parameters()}})
    g64, g32 = grads
    tiny = np.finfo(np.float32).tiny
    assert np.abs(g64["dx"][0]).max() < tiny  # the float64 loop went through the subnormal range
    assert not (g32["dx"][:T // 2] != 0).any()  # the tuned float32 backward stopped before it
    for name, a in g32.items():
        assert a.dtype == np.float32
        assert not ((a != 0) & (np.abs(a) < tiny)).any(), f"{name} holds subnormal values"
        if np.abs(g64[name]).max() >= 1e-30:
            assert_close(a, g64[name], 1e-5, name)
        else:  # all of it below the threshold: exactly zero
            assert not a.any(), name


# ---------------------------------------------------------------------------------------------
# RNN
# ---------------------------------------------------------------------------------------------

@given(T=st.integers(1, 12), B=st.integers(1, 5), H=st.integers(1, 7), nl=st.sampled_from(["tanh", "relu"]),
       broadcast=st.booleans(), seed=SEED)
def test_rnn_recurrence_equals_the_loop(T, B, H, nl, broadcast, seed):
    rng = np.random.default_rng(seed)
    D = 3
    p = random_recurrent_params(rng, H, D, H)
    x = np.broadcast_to(rng.standard_normal((B, D)), (T, B, D)) if broadcast else rng.standard_normal((T, B, D))
    h0, dy, dh_n = rng.standard_normal((B, H)), rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    xw = input_projection(x, p["weight_ih"], p["bias_ih"], p["bias_hh"])
    h = rnn_recurrence(xw, h0, p["weight_hh"], nl)

    _, _, cache_l = rnn_forward_loop(np.ascontiguousarray(x), h0, p, nl)
    assert_close(h, cache_l["h"], TOL, "h")
    dA, dh0, dW_hh = rnn_recurrence_backward(dy, dh_n, h, p["weight_hh"], nl)
    dx_l, dh0_l, g_l = rnn_backward_loop(dy, dh_n, cache_l)
    assert_close(dh0, dh0_l, TOL, "dh0")
    assert_close(dW_hh, g_l["weight_hh"], TOL, "dW_hh")
    _assert_projection_backward_equals_loop(dA, x, p, dx_l, g_l)


@given(T=st.integers(1, 12), B=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 8),
       nl=st.sampled_from(["tanh", "relu"]), broadcast=st.booleans(), bias=st.booleans(),
       float32=st.booleans(), seed=SEED)
def test_rnn_inference_kernel_equals_plain_forward(T, B, D, H, nl, broadcast, bias, float32, seed):
    """rnn_forward_fm (inference: inputs folded into the step's GEMM, feature-major; a broadcast
    input projected once) against the plain vectorised rnn_forward, buffers reused."""
    dtype, tol = (np.float32, 1e-5) if float32 else (np.float64, TIER_TOL)
    rng = np.random.default_rng(seed)
    p = {k: None if v is None else v.astype(dtype)
         for k, v in random_recurrent_params(rng, H, D, H, bias).items()}
    x = (np.broadcast_to(rng.standard_normal((B, D)), (T, B, D)) if broadcast
         else rng.standard_normal((T, B, D))).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    y, h_n, _ = rnn_forward(x, h0, p, nl)
    work = {}
    for _ in range(2):  # the second call reuses the first one's storage
        h = rnn_forward_fm(x, h0, p, nl, work)
        assert h.shape == (T + 1, B, H) and h.dtype == dtype
        assert_close(h[1:], y, tol, "h")
        assert_close(h[-1], h_n, tol, "h_n")
        np.testing.assert_array_equal(h[0], h0)


@given(T=st.integers(1, 10), B=st.integers(1, 5), D=st.integers(1, 3), H=st.integers(1, 6),
       broadcast=st.booleans(), seed=SEED)
def test_lstm_inference_one_step_buffers_equal_plain_forward(T, B, D, H, broadcast, seed):
    """lstm_forward_fm with keep=False (one step-sized buffer for the gates and c, reused every
    step and call) gives the plain forward's h; the cache's gates (torch's order, made when read)
    equal the plain ones."""
    rng = np.random.default_rng(seed)
    p = random_recurrent_params(rng, 4 * H, D, H)
    x = (np.broadcast_to(rng.standard_normal((B, D)), (T, B, D)) if broadcast
         else rng.standard_normal((T, B, D)))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    y, (h_n, c_n), cache = lstm_forward(x, h0, c0, p)
    work = {}
    for _ in range(2):
        fm = lstm_forward_fm(x, h0, c0, p, work, keep=False)
        assert_close(np.swapaxes(fm["zT"][1:, :H], 1, 2), y, TIER_TOL, "h")
        assert_close(fm["S"][-1, 4 * H:].T, c_n, TIER_TOL, "c_n")
    _, _, fast_cache = lstm_forward_fast(x, h0, c0, p)
    assert "gates" not in dict.keys(fast_cache)  # made on first read only
    assert_close(fast_cache["gates"], cache["gates"], TIER_TOL, "gates")


def test_blas_threads_context_restores_the_setting():
    from npae.fast.threads import BlasThreads, _blas_libraries

    libs = _blas_libraries()
    before = [lib.get_num_threads() for lib in libs]
    with BlasThreads(1):
        assert all(lib.get_num_threads() == 1 for lib in libs)
    assert [lib.get_num_threads() for lib in libs] == before
    with BlasThreads(None):
        assert [lib.get_num_threads() for lib in libs] == before


def test_scoring_threads_default_and_explicit():
    from npae.fast.threads import scoring_threads

    set_num_threads(None)
    assert scoring_threads() == npae_get_num_threads() == 1
    set_num_threads(3)
    assert scoring_threads() == 3 and npae_get_num_threads() == 3
    with pytest.raises(ValueError):
        set_num_threads(1, blas_threads=0)


# ---------------------------------------------------------------------------------------------
# every cell: the fast tier equals the plain vectorised tier (float64 1e-12, float32 rounding)
# ---------------------------------------------------------------------------------------------

TIERS = {
    "rnn": ((rnn_forward_fast, rnn_backward_fast), (rnn_forward, rnn_backward), 1),
    "lstm": ((lstm_forward_fast, lstm_backward_fast), (lstm_forward, lstm_backward), 4),
    "gru": ((gru_forward_fast, gru_backward_fast), (gru_forward, gru_backward), 3),
}


def _tier_pass(fns, cell, x, states, p, dy, dstates):
    """One forward and backward of a tier's pair; returns every array it produced."""
    fwd, bwd = fns
    if cell == "lstm":
        y, (h_n, c_n), cache = fwd(x, states[0], states[1], p)
        dx, (dh0, dc0), g = bwd(dy, dstates[0], dstates[1], cache)
        out = {"y": y, "h_n": h_n, "c_n": c_n, "dx": dx, "dh0": dh0, "dc0": dc0}
    else:
        y, h_n, cache = fwd(x, states[0], p)
        dx, dh0, g = bwd(dy, dstates[0], cache)
        out = {"y": y, "h_n": h_n, "dx": dx, "dh0": dh0}
    return {**out, **{"grad " + k: v for k, v in g.items() if v is not None}}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@given(T=st.integers(1, 12), B=st.integers(1, 6), D=st.integers(1, 4), H=st.integers(1, 8),
       broadcast=st.booleans(), with_dy=st.booleans(), float32=st.booleans(), seed=SEED)
def test_fast_tier_equals_plain_tier(cell, T, B, D, H, broadcast, with_dy, float32, seed):
    """Hypothesis-drawn shapes, inputs that differ per step or one input broadcast over the steps
    (the decoder's), with and without an upstream gradient at every step: every output and every
    gradient of the fast kernel equals the plain vectorised function's, to 1e-12 relative in
    float64 and to float32 rounding in float32."""
    fast_fns, plain_fns, k = TIERS[cell]
    dtype, tol = (np.float32, 1e-5) if float32 else (np.float64, TIER_TOL)
    rng = np.random.default_rng(seed)
    p = {n: None if v is None else v.astype(dtype)
         for n, v in random_recurrent_params(rng, k * H, D, H).items()}
    x = (np.broadcast_to(rng.standard_normal((B, D)), (T, B, D)) if broadcast
         else rng.standard_normal((T, B, D))).astype(dtype)
    states = [rng.standard_normal((B, H)).astype(dtype) for _ in range(2)]
    dy = rng.standard_normal((T, B, H)).astype(dtype) if with_dy else None
    dstates = [rng.standard_normal((B, H)).astype(dtype) for _ in range(2)]
    fast = _tier_pass(fast_fns, cell, x, states, p, dy, dstates)
    plain = _tier_pass(plain_fns, cell, x, states, p, dy, dstates)
    assert set(fast) == set(plain)
    for name in plain:
        assert fast[name].dtype == plain[name].dtype == dtype, name
        assert fast[name].shape == plain[name].shape, name
        assert_close(fast[name], plain[name], tol, f"{cell} {name}")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@given(B=st.integers(1, 6), T=st.integers(1, 8), H=st.integers(1, 6), L=st.integers(1, 4),
       seed=SEED)
def test_fast_autoencoder_equals_plain_autoencoder(cell, B, T, H, L, seed):
    """``impl="fast"`` (npae/fast/autoencoder.py) against ``impl="vectorized"`` (the layers'
    plain functions composed by npae/autoencoder.py), same weights: output, dx, every gradient."""
    Model = {"rnn": RNNAutoencoder, "lstm": LSTMAutoencoder, "gru": GRUAutoencoder}[cell]
    rng = np.random.default_rng(seed)
    fast = Model(2, H, L, dtype=np.float64, seed=0)
    randomize(fast, rng)
    plain = Model(2, H, L, dtype=np.float64, impl="vectorized")
    plain.load_state_dict(fast.state_dict())
    x, dy = rng.standard_normal((B, T, 2)), rng.standard_normal((B, T, 2))
    _compare(_run(fast, x, dy), _run(plain, x, dy), "fast vs plain", tol=TIER_TOL)


# ---------------------------------------------------------------------------------------------
# helpers of the tuned code
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("G,B", [(3, 1), (8, 5), (128, 32), (160, 120)])  # G·B ≥ 16384: batched GEMMs
@given(T=st.integers(1, 9), F=st.integers(1, 6), seed=SEED)
def test_sum_over_steps_equals_einsum(G, B, T, F, seed):
    """Both code paths (copy to one GEMM; batched GEMMs), and blocks of steps (small chunk)."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((T, G, B)), rng.standard_normal((T, F, B))
    want = np.einsum("tgb,tfb->gf", a, b)
    for chunk in (1, 1 << 20):
        assert_close(sum_over_steps(a, b, chunk), want, 1e-12, f"chunk {chunk}")


def test_feature_major_is_free_for_our_views_and_keeps_broadcasts():
    a = np.arange(24.0).reshape(2, 3, 4)
    view = np.swapaxes(a, 1, 2)  # what the vectorised functions return
    assert np.shares_memory(feature_major(view), a)
    plain = np.ascontiguousarray(view)
    fm = feature_major(plain)
    assert not np.shares_memory(fm, plain) and np.array_equal(fm, a)
    b = np.broadcast_to(np.arange(6.0).reshape(2, 3), (5, 2, 3))
    fb = feature_major(b)
    assert fb.shape == (5, 3, 2) and fb.strides[0] == 0 and np.array_equal(fb[4], b[0].T)


# ---------------------------------------------------------------------------------------------
# the autoencoders: tuned vs per-step layers vs torch; threads; inference; reused buffers
# ---------------------------------------------------------------------------------------------

def _run(model, x, dy):
    model.zero_grad()
    y = model(x)
    dx = model.backward(dy)
    return y, dx, {n: p.grad.copy() for n, p in model.named_parameters()}


def _compare(a, b, what, tol=TOL):
    (y1, dx1, g1), (y2, dx2, g2) = a, b
    assert_close(y1, y2, tol, what + " output")
    assert_close(dx1, dx2, tol, what + " dx")
    assert set(g1) == set(g2)
    for k in g1:
        assert_close(g1[k], g2[k], tol, f"{what} grad {k}")


@given(cell=st.sampled_from(["rnn", "lstm"]), B=st.integers(1, 9), T=st.integers(1, 9),
       D=st.integers(1, 3), H=st.integers(1, 6), L=st.integers(1, 4), split=st.booleans(), seed=SEED)
def test_autoencoder_equals_per_step_layers_and_torch(cell, B, T, D, H, L, split, seed):
    rng = np.random.default_rng(seed)
    Model = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    model = Model(D, H, L, dtype=np.float64, seed=0)
    randomize(model, rng)
    x, dy = rng.standard_normal((B, T, D)), rng.standard_normal((B, T, D))
    set_num_threads(2 if split else 1, min_batch=2)  # the batch split into two threads
    tuned = _run(model, x, dy)
    set_num_threads(1)
    _compare(tuned, _run(PerStepAutoencoder(model), x, dy), "per-step")
    twin = reference.to_torch(model)
    xt = torch.tensor(x, requires_grad=True)
    (twin(xt) * torch.tensor(dy)).sum().backward()
    _compare(tuned, (twin(torch.tensor(x)).detach(), xt.grad,
                     {n: p.grad for n, p in twin.named_parameters()}), "torch")


@given(cell=st.sampled_from(["rnn", "lstm"]), n=st.integers(1, 40), batch=st.integers(1, 16),
       threads=st.sampled_from([1, 2]), seed=SEED)
def test_reconstruct_encode_decode_equal_forward(cell, n, batch, threads, seed):
    """Inference keeps one step's gates in a reused buffer, batch after batch, maybe in threads."""
    rng = np.random.default_rng(seed)
    Model = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    model = Model(2, 5, 3, dtype=np.float64, seed=1)
    randomize(model, rng)
    x = rng.standard_normal((n, 7, 2))
    y = model(x)
    set_num_threads(threads, min_batch=1)
    r = model.reconstruct(x, batch)
    z = model.encode(x)
    d = model.decode(z, 7)
    set_num_threads(1)
    assert_close(r, y, 1e-13, "reconstruct")
    assert_close(d, y, 1e-13, "decode(encode)")
    assert_close(z, reference.to_torch(model).encode(torch.tensor(x)).detach(), TOL, "encode vs torch")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_reused_buffers_hold_no_stale_values(cell):
    """Training steps reuse the previous step's buffers; a fresh model must give the same numbers,
    also after the batch size changed and with a reconstruct() in between."""
    rng = np.random.default_rng(5)
    Model = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    model = Model(1, 6, 3, dtype=np.float64, seed=2)
    for B in (4, 4, 7, 4):
        x, dy = rng.standard_normal((B, 9, 1)), rng.standard_normal((B, 9, 1))
        got = _run(model, x, dy)
        model.reconstruct(rng.standard_normal((3, 9, 1)))
        fresh = Model(1, 6, 3, dtype=np.float64, seed=2)
        fresh.load_state_dict(model.state_dict())
        _compare(got, _run(fresh, x, dy), f"B={B}", tol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_float32_stays_float32_on_every_path(cell):
    Model = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    model = Model(1, 8, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 10, 1)).astype(np.float32)
    set_num_threads(2, min_batch=2)
    y = model(x)
    dx = model.backward(np.ones_like(y))
    r = model.reconstruct(x, 4)
    set_num_threads(1)
    state = model._cache.caches[0].enc_state
    assert y.dtype == dx.dtype == r.dtype == np.float32
    assert all(a.dtype == np.float32 for k, a in state.items() if isinstance(a, np.ndarray))
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    assert_close(r, y, 1e-6, "float32 reconstruct")
