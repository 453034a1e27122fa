"""RNN, LSTM and Linear against torch autograd, finite differences, each other and themselves.

Every parameter, both biases, the initial states and the upstream gradients are random; the
upstream gradients weight *every* output (sequence, h_n and c_n), never an all-ones sum.
"""

import numpy as np
import pytest
import torch
from helpers import TOL, assert_close, randomize, run_npae_layer, run_torch_layer, t, torch_twin_layer
from hypothesis import given
from hypothesis import strategies as st

import npae
from npae.errors import NonFiniteError, ShapeError

T_ = st.integers(1, 20)
B_ = st.integers(1, 6)
D_ = st.integers(1, 5)
H_ = st.integers(1, 12)
SEED = st.integers(0, 2**32 - 1)


@st.composite
def recurrent_case(draw, cell=None, dtype=np.float64):
    cell = cell or draw(st.sampled_from(["rnn_tanh", "rnn_relu", "lstm"]))
    return dict(cell=cell, T=draw(T_), B=draw(B_), D=draw(D_), H=draw(H_), dtype=dtype,
                batch_first=draw(st.booleans()), bias=draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else True,
                unbatched=draw(st.integers(0, 5)) == 0, impl=draw(st.sampled_from(["vectorized", "loop"])),
                seed=draw(SEED))


def build(case, **over):
    c = {**case, **over}
    if c["cell"] == "lstm":
        layer = npae.LSTM(c["D"], c["H"], bias=c["bias"], batch_first=c["batch_first"], dtype=c["dtype"], impl=c["impl"])
    else:
        layer = npae.RNN(c["D"], c["H"], nonlinearity=c["cell"][4:], bias=c["bias"], batch_first=c["batch_first"],
                         dtype=c["dtype"], impl=c["impl"])
    return layer


def draw_arrays(case, rng):
    T, B, D, H, dt = case["T"], case["B"], case["D"], case["H"], case["dtype"]
    if case["unbatched"]:
        xs, ys, ss = (T, D), (T, H), (1, H)
    else:
        xs = (B, T, D) if case["batch_first"] else (T, B, D)
        ys = (B, T, H) if case["batch_first"] else (T, B, H)
        ss = (1, B, H)
    n = lambda s: rng.standard_normal(s).astype(dt)  # noqa: E731
    states = [n(ss), n(ss)] if case["cell"] == "lstm" else [n(ss)]
    dstates = [n(ss), n(ss)] if case["cell"] == "lstm" else [n(ss)]
    return n(xs), states, n(ys), dstates


def run_npae(layer, x, states, dy, dstates):
    return run_npae_layer(layer, x, states, dy, dstates)


def run_torch(layer, x, states, dy, dstates):
    return run_torch_layer(torch_twin_layer(layer), x, states, dy, dstates)


def check_against_torch(case):
    rng = np.random.default_rng(case["seed"])
    layer = build(case)
    if case["dtype"] == np.float64:
        randomize(layer, rng)  # float32 smoke tests keep torch's initial scale (see helpers.TOL)
    x, states, dy, dstates = draw_arrays(case, rng)
    outs, gin, grads = run_npae(layer, x, states, dy, dstates)
    touts, tgin, tgrads = run_torch(layer, x, states, dy, dstates)
    tol = TOL[np.dtype(case["dtype"])]
    kind = case["cell"] if case["dtype"] == np.float64 else None
    for name, a, b in zip(["output", "h_n", "c_n"], outs, touts):
        assert a.dtype == case["dtype"], f"{name} dtype {a.dtype}"
        assert_close(a, b, tol, name, kind and kind + " outputs")
    for name, a, b in zip(["input", "h_0", "c_0"], gin, tgin):
        assert a.dtype == case["dtype"]
        assert_close(a, b, tol, "grad " + name, kind and kind + " gradients")
    assert set(grads) == set(tgrads)
    for name in tgrads:
        assert grads[name].dtype == case["dtype"]
        assert_close(grads[name], tgrads[name], tol, "grad " + name, kind and kind + " gradients")


@given(recurrent_case())
def test_recurrent_layers_equal_torch_float64(case):
    check_against_torch(case)


@given(recurrent_case(dtype=np.float32))
def test_recurrent_layers_equal_torch_float32(case):
    check_against_torch(case)


@given(cell=st.sampled_from(["rnn_tanh", "rnn_relu", "lstm"]), T=T_, B=B_, D=D_, H=H_, bias=st.booleans(),
       batch_first=st.booleans(), seed=SEED)
def test_loop_equals_vectorized(cell, T, B, D, H, bias, batch_first, seed):
    case = dict(cell=cell, T=T, B=B, D=D, H=H, bias=bias, batch_first=batch_first, dtype=np.float64,
                unbatched=False, seed=seed)
    rng = np.random.default_rng(seed)
    x, states, dy, dstates = draw_arrays(case, rng)
    results = []
    for impl in ("loop", "vectorized"):
        layer = build(case, impl=impl)
        randomize(layer, np.random.default_rng(seed + 1))
        results.append(run_npae(layer, x, states, dy, dstates))
    (o1, g1, p1), (o2, g2, p2) = results
    for a, b in zip(o1 + g1, o2 + g2):
        assert_close(a, b, 1e-12, "loop vs vectorized")
    for k in p1:
        assert_close(p1[k], p2[k], 1e-12, "loop vs vectorized " + k)


# two chunks with the state threaded == one call: tests/test_stacked.py (every cell, 1–3 layers)


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "lstm"])
def test_finite_differences_small(cell):
    case = dict(cell=cell, T=3, B=2, D=2, H=3, bias=True, batch_first=True, dtype=np.float64,
                unbatched=False, impl="vectorized", seed=0)
    layer = build(case)
    randomize(layer, np.random.default_rng(5), 0.7)
    x = np.random.default_rng(6).standard_normal((2, 3, 2))
    report = npae.gradcheck_module(layer, x)
    assert report.ok, str(report)
    assert {c.name for c in report.checks} == {"input"} | set(layer.state_dict())


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), fin=D_, fout=H_, bias=st.booleans(), seed=SEED)
def test_linear_equals_torch(shape, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    lin = npae.Linear(fin, fout, bias=bias, dtype=np.float64)
    randomize(lin, rng)
    x = rng.standard_normal(tuple(shape) + (fin,))
    dy = rng.standard_normal(tuple(shape) + (fout,))
    y = lin(x)
    dx = lin.backward(dy)
    tl = torch_twin_layer(lin)
    xt = t(x, True)
    yt = tl(xt)
    (yt * t(dy)).sum().backward()
    assert_close(y, yt.detach(), 1e-10, "linear output", "linear outputs")
    assert_close(dx, xt.grad, 1e-10, "linear dx", "linear gradients")
    for n, p in lin.named_parameters():
        assert_close(p.grad, dict(tl.named_parameters())[n].grad, 1e-10, n, "linear gradients")


def test_gradients_accumulate_across_calls():
    rng = np.random.default_rng(0)
    layer = npae.LSTM(2, 3, dtype=np.float64, seed=0)
    x = rng.standard_normal((4, 2, 2))
    dy = rng.standard_normal((4, 2, 3))
    layer(x)
    layer.backward(dy)
    once = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-14)
    layer.zero_grad()
    assert all(not p.grad.any() for p in layer.parameters())


def test_backward_does_not_mutate_upstream_gradients():
    rng = np.random.default_rng(1)
    layer = npae.LSTM(2, 3, dtype=np.float64, seed=0)
    x = rng.standard_normal((4, 2, 2))
    dy, dh, dc = rng.standard_normal((4, 2, 3)), rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 3))
    copies = [a.copy() for a in (dy, dh, dc)]
    layer(x)
    layer.backward(dy, (dh, dc))
    for a, b in zip((dy, dh, dc), copies):
        np.testing.assert_array_equal(a, b)


def test_outputs_do_not_alias_the_cache():
    """Writing into a returned array must not change what backward uses."""
    rng = np.random.default_rng(2)
    layer = npae.RNN(2, 3, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 2, 2))
    dy = rng.standard_normal((5, 2, 3))
    y, h = layer(x)
    dx1 = layer.backward(dy)[0]
    layer.zero_grad()
    y, h = layer(x)
    y[...] = 0
    h[...] = 0
    dx2 = layer.backward(dy)[0]
    np.testing.assert_array_equal(dx1, dx2)


def test_float32_stays_float32_no_upcasting():
    layer = npae.LSTM(3, 4, seed=0)  # float32 by default
    x = np.random.default_rng(0).standard_normal((5, 2, 3))  # float64 input is cast down
    y, (h, c) = layer(x)
    dx, (dh, dc) = layer.backward(np.ones_like(y, dtype=np.float64))
    assert {a.dtype for a in (y, h, c, dx, dh, dc)} == {np.dtype(np.float32)}
    assert {p.grad.dtype for p in layer.parameters()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_layers=0), "num_layers"),
    (dict(num_layers=1.5), "num_layers"),
    (dict(dropout=1.5), "dropout"),
    (dict(dropout=-0.1), "dropout"),
])
@pytest.mark.parametrize("cls", [npae.RNN, npae.LSTM, npae.GRU])
def test_bad_stacking_options_raise(cls, kwargs, match):
    with pytest.raises(npae.errors.DataError, match=match):
        cls(2, 3, **kwargs)


def test_lstm_proj_size_not_implemented():
    with pytest.raises(NotImplementedError, match="proj_size"):
        npae.LSTM(2, 3, proj_size=2)


def test_bad_constructor_values():
    with pytest.raises(ValueError, match="nonlinearity"):
        npae.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="positive"):
        npae.LSTM(0, 3)
    with pytest.raises(TypeError, match="float32 or float64"):
        npae.LSTM(2, 3, dtype=np.int32)


@pytest.mark.parametrize("cls", [npae.RNN, npae.LSTM])
def test_bad_inputs(cls):
    layer = cls(3, 4, batch_first=True)
    with pytest.raises(ShapeError, match="3-D input"):
        layer(np.zeros((2, 5, 3, 1)))
    with pytest.raises(ShapeError, match="feature size 2"):
        layer(np.zeros((2, 5, 2)))
    x = np.zeros((2, 5, 3))
    x[1, 3, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"index \(1, 3, 0\)"):
        layer(x)
    with pytest.raises(NonFiniteError):
        layer(np.full((2, 5, 3), np.inf))
    with pytest.raises(TypeError, match="numeric"):
        layer(np.array([["a", "b", "c"]]))
    with pytest.raises(ShapeError, match="never batch-first"):
        layer(np.zeros((2, 5, 3)), np.zeros((2, 1, 4)) if cls is npae.RNN else (np.zeros((2, 1, 4)), np.zeros((1, 2, 4))))
    fresh = cls(3, 4)
    with pytest.raises(npae.errors.NotFittedError, match="forward"):
        fresh.backward(np.zeros((5, 2, 4)))
    layer(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match="grad_output"):
        layer.backward(np.zeros((5, 2, 4)))


def test_torch_tensor_inputs_are_accepted():
    layer = npae.RNN(2, 3, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 1, 2))
    np.testing.assert_array_equal(layer(torch.tensor(x))[0], layer(x)[0])
