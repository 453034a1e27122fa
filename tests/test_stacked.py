"""GRU, stacked and bidirectional RNN/LSTM/GRU layers against torch autograd, finite differences,
each other and themselves; inter-layer dropout with the same masks as torch, its rate and the
train/eval switch; torch state dicts loading unchanged.

Every parameter (every layer, both directions, both biases), the initial states and the upstream
gradients are random; the upstream gradients weight every output (sequence, h_n, c_n).
"""

import numpy as np
import pytest
import torch
from helpers import TOL, assert_close, randomize, run_npae_layer, run_torch_layer, t, torch_twin_layer
from hypothesis import given
from hypothesis import strategies as st

import npae
from npae.errors import ShapeError

CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
SEED = st.integers(0, 2**32 - 1)


@st.composite
def layer_case(draw, cells=CELLS, dtype=np.float64, bidirectional=None):
    return dict(cell=draw(st.sampled_from(cells)), T=draw(st.integers(1, 12)), B=draw(st.integers(1, 5)),
                D=draw(st.integers(1, 4)), H=draw(st.integers(1, 8)), L=draw(st.integers(1, 3)),
                bi=draw(st.booleans()) if bidirectional is None else bidirectional,
                batch_first=draw(st.booleans()), bias=draw(st.integers(0, 4)) != 0,
                unbatched=draw(st.integers(0, 5)) == 0, impl=draw(st.sampled_from(["vectorized", "loop"])),
                dtype=dtype, seed=draw(SEED))


def build(c, **over):
    c = {**c, **over}
    kw = dict(num_layers=c["L"], bidirectional=c["bi"], bias=c["bias"], batch_first=c["batch_first"],
              dtype=c["dtype"], impl=c["impl"], dropout=c.get("dropout", 0.0), seed=c.get("layer_seed"))
    if c["cell"] == "lstm":
        return npae.LSTM(c["D"], c["H"], **kw)
    if c["cell"] == "gru":
        return npae.GRU(c["D"], c["H"], **kw)
    return npae.RNN(c["D"], c["H"], nonlinearity=c["cell"][4:], **kw)


def draw_arrays(c, rng):
    T, B, D, H, dt = c["T"], c["B"], c["D"], c["H"], c["dtype"]
    K = 2 if c["bi"] else 1
    NK = c["L"] * K
    if c["unbatched"]:
        xs, ys, ss = (T, D), (T, K * H), (NK, H)
    else:
        xs = (B, T, D) if c["batch_first"] else (T, B, D)
        ys = (B, T, K * H) if c["batch_first"] else (T, B, K * H)
        ss = (NK, B, H)
    n = lambda s: rng.standard_normal(s).astype(dt)  # noqa: E731
    k = 2 if c["cell"] == "lstm" else 1
    return n(xs), [n(ss) for _ in range(k)], n(ys), [n(ss) for _ in range(k)]


run_npae, run_torch = run_npae_layer, run_torch_layer


def kind_of(c):
    if c["dtype"] != np.float64:
        return None
    if c["cell"] == "gru" and c["L"] == 1 and not c["bi"]:
        return "gru"
    return ("bidirectional " if c["bi"] else "stacked ") + c["cell"]


def compare(outs, gin, grads, touts, tgin, tgrads, tol, kind, dtype):
    for name, a, b in zip(["output", "h_n", "c_n"], outs, touts):
        assert a.dtype == dtype, f"{name} dtype {a.dtype}"
        assert_close(a, b, tol, name, kind and kind + " outputs")
    for name, a, b in zip(["input", "h_0", "c_0"], gin, tgin):
        assert a.dtype == dtype
        assert_close(a, b, tol, "grad " + name, kind and kind + " gradients")
    assert list(grads) == list(tgrads)  # torch's names, in torch's order
    for name in tgrads:
        assert grads[name].dtype == dtype
        assert_close(grads[name], tgrads[name], tol, "grad " + name, kind and kind + " gradients")


def check_against_torch(c):
    rng = np.random.default_rng(c["seed"])
    layer = build(c)
    if c["dtype"] == np.float64:
        randomize(layer, rng)
    x, states, dy, dstates = draw_arrays(c, rng)
    res = run_npae(layer, x, states, dy, dstates)
    tres = run_torch(torch_twin_layer(layer), x, states, dy, dstates)
    compare(*res, *tres, TOL[np.dtype(c["dtype"])], kind_of(c), c["dtype"])


@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("cell", CELLS)
@given(data=st.data())
def test_layers_equal_torch_float64(cell, bi, data):
    """Every cell in both layouts (hypothesis draws the rest: depth, shapes, options)."""
    check_against_torch(data.draw(layer_case(cells=[cell], bidirectional=bi)))


@given(layer_case(cells=["gru"]))
def test_gru_equals_torch_float64(case):
    check_against_torch(case)


@given(layer_case(dtype=np.float32))
def test_layers_equal_torch_float32(case):
    check_against_torch(case)


@given(layer_case(), st.data())
def test_loop_equals_vectorized(case, data):
    case = {**case, "unbatched": False}
    rng = np.random.default_rng(case["seed"])
    x, states, dy, dstates = draw_arrays(case, rng)
    results = []
    for impl in ("loop", "vectorized"):
        layer = build(case, impl=impl)
        randomize(layer, np.random.default_rng(case["seed"] + 1))
        results.append(run_npae(layer, x, states, dy, dstates))
    (o1, g1, p1), (o2, g2, p2) = results
    for a, b in zip(o1 + g1, o2 + g2):
        assert_close(a, b, 1e-12, "loop vs vectorized")
    for k in p1:
        assert_close(p1[k], p2[k], 1e-12, "loop vs vectorized " + k)


@given(layer_case(bidirectional=False), st.data())
def test_two_chunks_with_state_threaded_equal_one_call(case, data):
    """Unidirectional, any depth: [0, k) then [k, T) from the carried states, and back."""
    case = {**case, "T": max(case["T"], 2), "unbatched": False, "batch_first": True}
    k = data.draw(st.integers(1, case["T"] - 1))
    rng = np.random.default_rng(case["seed"])
    x, states, dy, dstates = draw_arrays(case, rng)
    whole = build(case)
    randomize(whole, rng)
    outs, gin, grads = run_npae(whole, x, states, dy, dstates)
    a, b = build(case), build(case)
    a.load_state_dict(whole.state_dict())
    b.load_state_dict(whole.state_dict())
    lstm = case["cell"] == "lstm"
    ya, sa = a(x[:, :k], tuple(states) if lstm else states[0])
    yb, sb = b(x[:, k:], sa)
    assert_close(np.concatenate([ya, yb], axis=1), outs[0], 1e-12, "chunked output")
    for s1, s2 in zip(sb if lstm else [sb], outs[1:]):
        assert_close(s1, s2, 1e-12, "chunked final state")
    dxb, dsb = b.backward(dy[:, k:], tuple(dstates) if lstm else dstates[0])
    dxa, dsa = a.backward(dy[:, :k], dsb)
    assert_close(np.concatenate([dxa, dxb], axis=1), gin[0], 1e-12, "chunked grad input")
    for s1, s2 in zip(dsa if lstm else [dsa], gin[1:]):
        assert_close(s1, s2, 1e-12, "chunked grad initial state")
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert_close(pa.grad + pb.grad, grads[n], 1e-12, "chunked " + n)


@pytest.mark.parametrize("cell,L,bi", [("gru", 1, False), ("gru", 2, True), ("lstm", 2, True),
                                       ("rnn_tanh", 3, False), ("rnn_relu", 2, True)])
def test_finite_differences_small(cell, L, bi):
    case = dict(cell=cell, T=3, B=2, D=2, H=2, L=L, bi=bi, bias=True, batch_first=True,
                dtype=np.float64, impl="vectorized")
    layer = build(case)
    randomize(layer, np.random.default_rng(5), 0.7)
    x = np.random.default_rng(6).standard_normal((2, 3, 2))
    report = npae.gradcheck_module(layer, x)
    assert report.ok, str(report)
    assert {c.name for c in report.checks} == {"input"} | set(layer.state_dict())


def test_gru_cell_matches_torch_gru_cell():
    """The one-step function against torch.nn.GRUCell: b_hn inside the reset product."""
    from npae.gru import gru_cell_backward, gru_cell_forward

    rng = np.random.default_rng(3)
    B, D, H = 3, 2, 4
    cell = torch.nn.GRUCell(D, H).double()
    params = {k: rng.standard_normal(v.shape) for k, v in cell.state_dict().items()}
    cell.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    dh = rng.standard_normal((B, H))
    h1, step = gru_cell_forward(x, h, params)
    dx, dh_prev, grads = gru_cell_backward(dh, x, h, step, params)
    xt, ht = t(x, True), t(h, True)
    h1t = cell(xt, ht)
    (h1t * t(dh)).sum().backward()
    assert_close(h1, h1t.detach(), 1e-12, "GRUCell output", "gru outputs")
    assert_close(dx, xt.grad, 1e-12, "GRUCell dx", "gru gradients")
    assert_close(dh_prev, ht.grad, 1e-12, "GRUCell dh", "gru gradients")
    for k, p in cell.named_parameters():
        assert_close(grads[k], p.grad, 1e-12, "GRUCell " + k, "gru gradients")
    assert not np.allclose(grads["bias_ih"], grads["bias_hh"])  # the n rows differ


# ---------------------------------------------------------------------- dropout between layers


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn_tanh"])
@pytest.mark.parametrize("bi", [False, True])
def test_dropout_with_the_same_masks_equals_torch(cell, bi):
    c = dict(cell=cell, T=6, B=4, D=3, H=5, L=3, bi=bi, bias=True, batch_first=False, dtype=np.float64,
             impl="vectorized", dropout=0.4, layer_seed=11, unbatched=False)
    rng = np.random.default_rng(0)
    layer = build(c)
    randomize(layer, rng)
    x, states, dy, dstates = draw_arrays(c, rng)
    outs, gin, grads = run_npae(layer, x, states, dy, dstates)
    masks = layer.dropout_masks
    assert len(masks) == 2 and all(m.shape == (6, 4, 5 * (2 if bi else 1)) for m in masks)
    assert any((m == 0).any() for m in masks)
    xt, st_ = t(x, True), [t(s, True) for s in states]
    tparams = {n: t(v, True) for n, v in layer.state_dict().items()}
    ytot, finals = _torch_stack_with_masks(layer, xt, st_, tparams, masks)
    loss = (ytot * t(dy)).sum()
    for f, g in zip(finals, dstates):
        loss = loss + (f * t(g)).sum()
    loss.backward()
    assert_close(outs[0], ytot.detach(), 1e-10, "dropout output", "dropout outputs")
    for a, b in zip(outs[1:], finals):
        assert_close(a, b.detach(), 1e-10, "dropout state", "dropout outputs")
    assert_close(gin[0], xt.grad, 1e-10, "dropout grad input", "dropout gradients")
    for a, s in zip(gin[1:], st_):
        assert_close(a, s.grad, 1e-10, "dropout grad state", "dropout gradients")
    for n, p in tparams.items():
        assert_close(grads[n], p.grad, 1e-10, "dropout grad " + n, "dropout gradients")


def _torch_stack_with_masks(layer, xt, states, tparams, masks):
    """torch.nn's single-layer modules run with the npae layer's weights, via torch.func, and the
    given masks in between: x (T, B, D) → (output, final states (N·K, B, H) each)."""
    from torch.func import functional_call

    cls = {npae.LSTM: torch.nn.LSTM, npae.GRU: torch.nn.GRU, npae.RNN: torch.nn.RNN}[type(layer)]
    K, H = layer.num_directions, layer.hidden_size
    v = xt
    finals = [[] for _ in states]
    for k in range(layer.num_layers):
        kw = {"nonlinearity": layer.nonlinearity} if isinstance(layer, npae.RNN) else {}
        m = cls(v.shape[-1], H, bidirectional=layer.bidirectional, **kw).double()
        p = {n: tparams[n.replace("_l0", f"_l{k}")] for n, _ in m.named_parameters()}
        if k > 0:
            v = v * torch.tensor(masks[k - 1])  # torch's F.dropout is x * mask, mask ∈ {0, 1/(1-p)}
        s = tuple(a[k * K:(k + 1) * K] for a in states)
        v, fin = functional_call(m, p, (v, s if len(s) == 2 else s[0]))
        for acc, f in zip(finals, fin if isinstance(fin, tuple) else (fin,)):
            acc.append(f)
    return v, [torch.cat(acc, 0) for acc in finals]


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_mask_rate_and_scale(p):
    layer = npae.GRU(3, 50, num_layers=2, dropout=p, dtype=np.float64, seed=0)
    layer(np.zeros((40, 25, 3)))
    (m,) = layer.dropout_masks
    kept = m != 0
    n = m.size
    # the kept fraction is Binomial(n, 1-p)/n: within 5 standard deviations
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_array_equal(m[kept], 1 / (1 - p))


def test_dropout_train_eval_switch_and_explicit_generator():
    x = np.random.default_rng(0).standard_normal((7, 3, 2))
    a = npae.LSTM(2, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=1)
    b = npae.LSTM(2, 4, num_layers=3, dropout=0.5, dtype=np.float64, seed=1)
    plain = npae.LSTM(2, 4, num_layers=3, dtype=np.float64, seed=1)
    ya, yb = a(x)[0], b(x)[0]
    np.testing.assert_array_equal(ya, yb)  # same seed, same masks: nothing global involved
    assert not np.allclose(a(x)[0], ya)  # the next call draws new masks
    assert not np.allclose(ya, plain(x)[0])
    assert a.training and a.eval() is a and not a.training
    np.testing.assert_array_equal(a(x)[0], plain(x)[0])  # eval: no dropout at all
    assert a.dropout_masks is None
    a.train()
    assert a.training and a(x)[0] is not None and a.dropout_masks is not None
    # a one-layer model has no inter-layer dropout, as torch
    one = npae.GRU(2, 4, dropout=0.5, dtype=np.float64, seed=1)
    one(x)
    assert one.dropout_masks is None


# ---------------------------------------------------------------------- names and state dicts


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_state_dict_loads_unchanged(cell):
    torch.manual_seed(0)
    cls = {"rnn": (npae.RNN, torch.nn.RNN), "lstm": (npae.LSTM, torch.nn.LSTM), "gru": (npae.GRU, torch.nn.GRU)}[cell]
    tl = cls[1](3, 5, num_layers=3, bidirectional=True, batch_first=True).double()
    layer = cls[0](3, 5, num_layers=3, bidirectional=True, batch_first=True, dtype=np.float64)
    assert list(layer.state_dict()) == list(tl.state_dict())
    for k, v in tl.state_dict().items():
        assert layer.state_dict()[k].shape == tuple(v.shape), k
    layer.load_state_dict(tl.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    y, s = layer(x)
    yt, st_ = tl(t(x))
    assert y.shape == (2, 4, 10)
    assert_close(y, yt.detach(), 1e-12, "output")
    assert_close(s[0] if cell == "lstm" else s, (st_[0] if cell == "lstm" else st_).detach(), 1e-12, "h_n")


def test_initialisation_bounds_and_shapes():
    layer = npae.GRU(3, 16, num_layers=2, bidirectional=True, seed=0)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes["weight_ih_l0"] == (48, 3) and shapes["weight_ih_l1"] == (48, 32)
    assert shapes["weight_hh_l1_reverse"] == (48, 16) and shapes["bias_hh_l1_reverse"] == (48,)
    for v in layer.state_dict().values():
        assert np.abs(v).max() <= 0.25 and np.abs(v).max() > 0.2  # U(-1/√H, 1/√H), H = 16


@pytest.mark.parametrize("cls", [npae.RNN, npae.LSTM, npae.GRU])
def test_bad_state_shape_says_num_layers(cls):
    layer = cls(3, 4, num_layers=2, bidirectional=True)
    h = np.zeros((2, 5, 4))  # needs 4 = 2 layers · 2 directions
    with pytest.raises(ShapeError, match=r"\(4, 5, 4\)"):
        layer(np.zeros((6, 5, 3)), (h, h) if cls is npae.LSTM else h)
    layer(np.zeros((6, 5, 3)))
    with pytest.raises(ShapeError, match="grad_output"):
        layer.backward(np.zeros((6, 5, 4)))  # the output has 2H = 8 features
