"""The new autoencoders against their torch twins: GRUAutoencoder, stacked RNN/LSTM/GRU
autoencoders, the dense autoencoder with Dropout and BatchNorm1d; every output and gradient by
name, finite differences, plain == fast, 20 Adam steps in lockstep, state dicts both ways,
batch norm's running statistics, dropout with the same masks, train/eval, build_autoencoder."""

import io

import numpy as np
import pytest
import torch
from helpers import adam_lockstep, assert_close, compare_autoencoder_with_twin, randomize, t
from hypothesis import given
from hypothesis import strategies as st

import npae
import reference
from npae.autoencoder import PerStepAutoencoder
from npae.errors import DataError, ShapeError, StateDictError

SEED = st.integers(0, 2**32 - 1)


@st.composite
def ae_case(draw, dtype=np.float64, cells=("rnn", "lstm", "gru")):
    return dict(cell=draw(st.sampled_from(cells)), L=draw(st.integers(1, 3)), B=draw(st.integers(1, 5)),
                T=draw(st.integers(1, 12)), D=draw(st.integers(1, 4)), H=draw(st.integers(1, 8)),
                Z=draw(st.integers(1, 6)), dtype=dtype, seed=draw(SEED))


def _kind(case):
    if case["dtype"] != np.float64:
        return None
    return "gru autoencoder" if case["cell"] == "gru" and case["L"] == 1 else "stacked autoencoder"


def check_recurrent_ae(case):
    rng = np.random.default_rng(case["seed"])
    model = npae.build_autoencoder(case["cell"], case["D"], case["H"], case["Z"], num_layers=case["L"],
                                   dtype=case["dtype"], seed=int(rng.integers(1 << 30)))
    if case["dtype"] == np.float64:
        randomize(model, rng)
    x = rng.standard_normal((case["B"], case["T"], case["D"])).astype(case["dtype"])
    w = rng.standard_normal(x.shape).astype(case["dtype"])
    compare_autoencoder_with_twin(model, x, w, case["T"], _kind(case))


@given(ae_case())
def test_recurrent_autoencoders_equal_torch_float64(case):
    check_recurrent_ae(case)


@given(ae_case(cells=("gru",)))
def test_gru_autoencoder_equals_torch_float64(case):
    check_recurrent_ae(case)


@given(ae_case(dtype=np.float32))
def test_recurrent_autoencoders_equal_torch_float32(case):
    check_recurrent_ae(case)


@given(ae_case())
def test_per_step_equals_fast(case):
    """The plain composition of impl="loop" layers == the autoencoder's own path."""
    rng = np.random.default_rng(case["seed"])
    model = npae.build_autoencoder(case["cell"], case["D"], case["H"], case["Z"], num_layers=case["L"],
                                   dtype=np.float64, seed=0)
    randomize(model, rng)
    plain = PerStepAutoencoder(model)
    x = rng.standard_normal((case["B"], case["T"], case["D"]))
    w = rng.standard_normal(x.shape)
    results = []
    for m in (model, plain):
        m.zero_grad()
        y = m(x)
        results.append((y, m.backward(w), {n: p.grad.copy() for n, p in m.named_parameters()}))
    (y1, d1, g1), (y2, d2, g2) = results
    assert_close(y1, y2, 1e-12, "per-step output")
    assert_close(d1, d2, 1e-12, "per-step grad input")
    for k in g1:
        assert_close(g1[k], g2[k], 1e-12, "per-step " + k)


@pytest.mark.parametrize("cell,L", [("gru", 1), ("gru", 2), ("lstm", 2), ("rnn", 3)])
def test_recurrent_autoencoder_finite_differences(cell, L):
    model = npae.build_autoencoder(cell, 2, 3, 2, num_layers=L, dtype=np.float64, seed=3)
    x = np.random.default_rng(4).standard_normal((2, 4, 2))
    report = npae.gradcheck_module(model, x, eps=1e-5)
    assert report.ok, str(report)
    assert len(report.checks) == 1 + len(model.state_dict())


def test_gru_autoencoder_names_are_the_tutorials_pattern():
    model = npae.GRUAutoencoder(1, 32, 16)
    keys = list(model.state_dict())
    assert keys[:4] == [f"encoder_gru.{w}_l0" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert keys[4:8] == ["encoder_fc.weight", "encoder_fc.bias", "decoder_fc.weight", "decoder_fc.bias"]
    assert keys[8:12] == [f"decoder_gru.{w}_l0" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert keys == list(reference.GRUAutoencoder(1, 32, 16).state_dict())
    assert model.state_dict()["encoder_gru.weight_ih_l0"].shape == (96, 1)
    stacked = npae.LSTMAutoencoder(1, 8, 4, num_layers=2)
    assert list(stacked.state_dict()) == list(reference.LSTMAutoencoder(1, 8, 4, num_layers=2).state_dict())
    assert "decoder_lstm.weight_hh_l1" in stacked.state_dict()


@pytest.mark.parametrize("cell,L", [("gru", 1), ("gru", 3), ("lstm", 2), ("rnn", 2)])
def test_a_saved_torch_state_dict_loads_unchanged(cell, L):
    cls = {"rnn": reference.RNNAutoencoder, "lstm": reference.LSTMAutoencoder, "gru": reference.GRUAutoencoder}[cell]
    twin = cls(2, 6, 3, num_layers=L, seed=0)
    buf = io.BytesIO()
    torch.save(twin.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)
    model = npae.build_autoencoder(cell, 2, 6, 3, num_layers=L)
    model.load_state_dict(state)
    again = reference.to_npae(twin)
    assert type(again) is type(model) and again.num_layers == L
    x = np.random.default_rng(0).standard_normal((3, 7, 2)).astype(np.float32)
    with torch.no_grad():
        assert_close(model(x), twin(torch.tensor(x)), 1e-5, "loaded model")
        assert_close(again(x), twin(torch.tensor(x)), 1e-5, "converted model")


def _lockstep(model, twin, steps=20, B=6, lr=1e-2, seed=7):
    rng = np.random.default_rng(seed)
    shape = (B,) + ((model.window_size, model.input_size) if model.cell == "dense" else (10, model.input_size))
    adam_lockstep(model, twin, (rng.standard_normal(shape) for _ in range(steps)), lr=lr)
    _same_state(model, twin)
    return rng


def _same_state(model, twin):
    """Every entry of the state dicts within 1e-9 — except a Linear bias right before a batch norm:
    its gradient is exactly zero (rounding noise in both libraries), and Adam turns noise into
    steps of up to lr, so those two walk apart; they cannot change any output (the batch norm
    subtracts them), which the losses compared at every step confirm.  They, and the running mean
    that averages them in, stay within 1e-6."""
    tstate = twin.state_dict()
    assert list(model.state_dict()) == list(tstate)
    for k, v in model.state_dict().items():
        err = np.max(np.abs(np.asarray(v, np.float64) - tstate[k].double().numpy()))
        noise_driven = getattr(model, "batch_norm", False) and (
            (k.startswith("fc") and k.endswith(".bias")) or k.endswith(".running_mean"))
        assert err <= (1e-6 if noise_driven else 1e-9), k


@pytest.mark.parametrize("cell,L", [("gru", 1), ("gru", 2), ("lstm", 2), ("rnn", 2)])
def test_recurrent_training_in_lockstep_with_torch(cell, L):
    """20 Adam steps on the same batches from the same weights end within 1e-9 (float64)."""
    model = npae.build_autoencoder(cell, 2, 6, 3, num_layers=L, dtype="float64", seed=11)
    _lockstep(model, reference.to_torch(model))


def test_dense_training_in_lockstep_with_torch():
    """Batch norm's batch statistics and running estimates, 20 Adam steps, then eval mode."""
    model = npae.build_autoencoder("dense", 2, 8, 3, window_size=5, num_layers=1, dtype="float64", seed=2)
    assert model.hidden_sizes == [8, 3, 8] and model.batch_norm and model.dropout == 0.0
    twin = reference.to_torch(model)
    rng = _lockstep(model, twin)
    x = rng.standard_normal((9, 5, 2))
    model.eval()
    twin.eval()
    with torch.no_grad():
        assert_close(model(x), twin(t(x)), 1e-9, "eval after training")
    assert_close(model.reconstruct(x, batch_size=4), twin(t(x)).detach(), 1e-9, "reconstruct")


def test_dense_training_with_dropout_in_lockstep_with_torch():
    """The guide's configuration (batch norm, relu, dropout 0.2): 20 Adam steps, npae's masks of
    each step given to the twin's nn.Dropout layers (forward hooks), end within 1e-9."""
    model = npae.DenseAutoencoder(2, 5, [8, 3, 3, 8], dropout=0.2, dtype=np.float64, seed=4)
    twin = reference.to_torch(model)
    for k in range(4):
        drop = getattr(model, f"drop{k}")
        getattr(twin, f"drop{k}").register_forward_hook(
            lambda m, i, o, drop=drop: i[0] * torch.tensor(drop.mask))  # the mask npae just drew
    from npae.optim import Adam

    rng = np.random.default_rng(9)
    opt, topt = Adam(model.parameters(), lr=1e-2), torch.optim.Adam(twin.parameters(), lr=1e-2, foreach=False)
    loss_fn = npae.MSELoss()
    for _ in range(20):
        xb = rng.standard_normal((6, 5, 2))
        model.zero_grad()
        loss = loss_fn(model(xb), xb)  # draws this step's masks
        model.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        tl = torch.nn.functional.mse_loss(twin(t(xb)), t(xb))
        tl.backward()
        topt.step()
        assert abs(float(loss) - tl.item()) <= 1e-9 * abs(tl.item())
    _same_state(model, twin)


# ---------------------------------------------------------------------- dense autoencoder


@st.composite
def dense_case(draw):
    return dict(B=draw(st.integers(3, 8)), T=draw(st.integers(1, 6)), D=draw(st.integers(1, 3)),
                sizes=draw(st.lists(st.integers(1, 7), min_size=1, max_size=4)),
                act=draw(st.sampled_from(["relu", "tanh", "sigmoid"])), bn=draw(st.booleans()),
                training=draw(st.booleans()), seed=draw(SEED))


def _cancelled_by_batchnorm(model, name):
    """A Linear bias that feeds a training-mode batch norm: (N1) subtracts it again, so its true
    gradient is 0 and both libraries return rounding noise (~1e-16), which a relative comparison
    cannot judge.  Checked on its own: both are zero to rounding."""
    k = name[2:-5] if name.startswith("fc") and name.endswith(".bias") else None
    if k is None or not model.batch_norm or not model.training:
        return False
    g = dict(model.named_parameters())[name].grad
    scale = max(np.abs(p.grad).max() for p in model.parameters())
    assert np.abs(g).max() <= 1e-12 * max(scale, 1.0), name
    return True


@given(dense_case())
def test_dense_autoencoder_equals_torch_float64(case):
    rng = np.random.default_rng(case["seed"])
    model = npae.DenseAutoencoder(case["D"], case["T"], case["sizes"], activation=case["act"],
                                  batch_norm=case["bn"], dropout=0.0, dtype=np.float64, seed=1)
    randomize(model, rng)
    for name, m in model.named_modules():  # random running statistics too
        if isinstance(m, npae.BatchNorm1d):
            m.running_mean[...] = rng.standard_normal(m.num_features)
            m.running_var[...] = rng.uniform(0.5, 2.0, m.num_features)
    model.train(case["training"])
    twin = reference.to_torch(model)
    x = rng.standard_normal((case["B"], case["T"], case["D"]))
    w = rng.standard_normal(x.shape)
    y = model(x)
    dx = model.backward(w)
    xt = t(x, True)
    yt = twin(xt)
    (yt * t(w)).sum().backward()
    assert_close(y, yt.detach(), 1e-10, "dense output", "dense autoencoder outputs")
    assert_close(dx, xt.grad, 1e-10, "dense grad input", "dense autoencoder gradients")
    tg = dict(twin.named_parameters())
    # batch norm in training mode makes some gradients exactly zero (a bias before it; anything
    # that only shifts or scales a column the next batch norm normalises away): both libraries
    # return rounding noise there (seen: 4e-15 of the largest gradient), so each gradient's scale is
    # floored at 1e-3 of the largest one: an error still has to stay below 1e-13 of that
    floor = 1e-3 * max(float(p.grad.abs().max()) for p in twin.parameters())
    for n, p in model.named_parameters():
        if _cancelled_by_batchnorm(model, n):
            continue
        assert_close(p.grad, tg[n].grad, 1e-10, "dense grad " + n, "dense autoencoder gradients", floor=floor)
    ts = twin.state_dict()
    for k, v in model.state_dict().items():  # running statistics updated the same way (or not)
        assert_close(np.asarray(v, np.float64), ts[k].double(), 1e-12, k)


def test_dense_finite_differences_train_and_eval():
    model = npae.DenseAutoencoder(2, 3, [4, 2, 4], activation="tanh", dropout=0.0, dtype=np.float64, seed=0)
    x = np.random.default_rng(1).standard_normal((5, 3, 2))
    for mode in (True, False):
        model.train(mode)
        # atol 1e-8: in training mode the fc biases before batch norm have a zero gradient, which
        # the differences see as ~1e-10 of noise; every other entry is judged relatively
        report = npae.gradcheck_module(model, x, eps=1e-6, atol=1e-8)
        assert report.ok, str(report)


def test_dense_dropout_with_the_same_masks_equals_torch():
    """The torch twin's nn.Dropout layers replaced (by forward hooks) with npae's masks."""
    rng = np.random.default_rng(3)
    model = npae.DenseAutoencoder(2, 4, [6, 3, 6], dropout=0.3, dtype=np.float64, seed=5)
    randomize(model, rng)
    twin = reference.to_torch(model)
    x, w = rng.standard_normal((7, 4, 2)), rng.standard_normal((7, 4, 2))
    y = model(x)
    dx = model.backward(w)
    masks = {f"drop{k}": getattr(model, f"drop{k}").mask for k in range(3)}
    assert all(m is not None and (m == 0).any() for m in masks.values())
    for name, m in masks.items():
        getattr(twin, name).register_forward_hook(lambda mod, inp, out, m=m: inp[0] * torch.tensor(m))
    xt = t(x, True)
    yt = twin(xt)
    (yt * t(w)).sum().backward()
    assert_close(y, yt.detach(), 1e-10, "dropout output", "dropout outputs")
    assert_close(dx, xt.grad, 1e-10, "dropout grad input", "dropout gradients")
    for n, p in model.named_parameters():
        if not _cancelled_by_batchnorm(model, n):
            assert_close(p.grad, dict(twin.named_parameters())[n].grad, 1e-10, n, "dropout gradients")


def test_dropout_layer_rate_train_and_eval():
    d = npae.Dropout(0.3, seed=0)
    x = np.ones((200, 300))
    y = d(x)
    kept = d.mask != 0
    assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.21 / x.size)
    np.testing.assert_array_equal(y[kept], 1 / 0.7)
    np.testing.assert_array_equal(d.backward(x), d.mask)
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    assert d.mask is None
    np.testing.assert_array_equal(d.backward(2 * x), 2 * x)
    assert not npae.Dropout(1.0, seed=0)(x).any()
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        npae.Dropout(1.5)


def test_dense_reconstruct_scores_in_eval_mode_and_restores_the_mode():
    model = npae.DenseAutoencoder(1, 6, [5, 2, 5], dropout=0.5, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((10, 6, 1))
    model(x)  # one training step's statistics
    stats = model.bn0.running_mean.copy()
    r1 = model.reconstruct(x, batch_size=3)
    assert model.training
    np.testing.assert_array_equal(model.bn0.running_mean, stats)  # eval: running stats untouched
    model.eval()
    np.testing.assert_allclose(model(x), r1, rtol=1e-13, atol=1e-15)
    model.train()
    assert not np.allclose(model(x), r1)  # training mode: dropout and batch statistics


# ---------------------------------------------------------------------- BatchNorm1d


@given(B=st.integers(3, 9), F=st.integers(1, 6), momentum=st.sampled_from([0.1, 0.5, None]),
       eps=st.sampled_from([1e-5, 1e-3]), steps=st.integers(1, 5), seed=SEED)
def test_batchnorm_equals_torch_over_steps_then_eval(B, F, momentum, eps, steps, seed):
    rng = np.random.default_rng(seed)
    bn = npae.BatchNorm1d(F, eps=eps, momentum=momentum, dtype=np.float64)
    bn.weight.data[...] = rng.standard_normal(F)
    bn.bias.data[...] = rng.standard_normal(F)
    tb = torch.nn.BatchNorm1d(F, eps=eps, momentum=momentum).double()
    tb.load_state_dict({k: torch.tensor(v) for k, v in bn.state_dict().items()})
    for mode in [True] * steps + [False, False]:
        bn.train(mode)
        tb.train(mode)
        bn.zero_grad()
        tb.zero_grad()
        x = rng.standard_normal((B, F)) * rng.uniform(0.1, 3) + rng.standard_normal(F)
        dy = rng.standard_normal((B, F))
        y, dx = bn(x), None
        dx = bn.backward(dy)
        xt = t(x, True)
        yt = tb(xt)
        (yt * t(dy)).sum().backward()
        assert_close(y, yt.detach(), 1e-10, "batchnorm output", "batchnorm outputs")
        assert_close(dx, xt.grad, 1e-10, "batchnorm grad input", "batchnorm gradients")
        assert_close(bn.weight.grad, tb.weight.grad, 1e-10, "grad weight", "batchnorm gradients")
        assert_close(bn.bias.grad, tb.bias.grad, 1e-10, "grad bias", "batchnorm gradients")
        ts = tb.state_dict()
        assert list(bn.state_dict()) == list(ts)
        for k, v in bn.state_dict().items():
            assert_close(np.asarray(v, np.float64), ts[k].double(), 1e-12, k, "batchnorm running stats")


def test_batchnorm_two_rows():
    """B = 2: x̂ = ±√(σ²/(σ²+ε)) and dx is the small ε-sized remainder of a cancellation, so its
    error is judged against the size of the terms that cancel, dy ⊙ γ / √(σ² + ε)."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        bn = npae.BatchNorm1d(4, dtype=np.float64)
        bn.weight.data[...] = rng.standard_normal(4)
        tb = torch.nn.BatchNorm1d(4).double()
        tb.load_state_dict({k: torch.tensor(v) for k, v in bn.state_dict().items()})
        x, dy = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
        y, dx = bn(x), bn.backward(dy)
        xt = t(x, True)
        yt = tb(xt)
        (yt * t(dy)).sum().backward()
        assert_close(y, yt.detach(), 1e-10, "output")
        terms = np.abs(dy * bn.weight.data / np.sqrt(x.var(axis=0) + bn.eps)).max()
        assert np.abs(dx - xt.grad.numpy()).max() <= 1e-12 * terms
        assert_close(bn.running_var, tb.running_var, 1e-12, "running_var")


def test_batchnorm_needs_two_rows_in_training():
    bn = npae.BatchNorm1d(3)
    with pytest.raises(ShapeError, match="at least 2"):
        bn(np.zeros((1, 3)))
    bn.eval()
    assert bn(np.zeros((1, 3))).shape == (1, 3)
    with pytest.raises(ShapeError, match=r"\(B, 3\)"):
        bn(np.zeros((4, 2)))


def test_dense_state_dict_from_torch_loads_unchanged():
    twin = reference.DenseAutoencoder(2, 5, [7, 3, 7], seed=0)
    with torch.no_grad():  # a few training-mode batches: non-trivial running statistics
        for _ in range(3):
            twin(torch.randn(8, 5, 2))
    buf = io.BytesIO()
    torch.save(twin.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)
    model = npae.DenseAutoencoder(2, 5, [7, 3, 7])
    model.load_state_dict(state)
    assert int(model.bn0.num_batches_tracked) == 3
    for k, v in state.items():
        np.testing.assert_array_equal(model.state_dict()[k], v.numpy())
    twin.eval()
    x = np.random.default_rng(0).standard_normal((4, 5, 2)).astype(np.float32)
    with torch.no_grad():
        assert_close(model.reconstruct(x), twin(torch.tensor(x)), 1e-5, "loaded dense model")
    again = reference.to_npae(twin)
    assert isinstance(again, npae.DenseAutoencoder) and not again.training
    bad = dict(state)
    del bad["bn1.running_var"]
    with pytest.raises(StateDictError, match="bn1.running_var"):
        model.load_state_dict(bad)
    with pytest.raises(StateDictError, match="bn0.running_mean"):
        model.load_state_dict({**state, "bn0.running_mean": torch.zeros(3)})


def test_dense_bad_input():
    model = npae.DenseAutoencoder(2, 5, [4])
    with pytest.raises(ShapeError, match=r"\(B, 5, 2\)"):
        model(np.zeros((3, 4, 2)))
    with pytest.raises(DataError, match="activation"):
        npae.DenseAutoencoder(2, 5, [4], activation="gelu")
    with pytest.raises(DataError, match="hidden_sizes"):
        npae.DenseAutoencoder(2, 5, [])


# ---------------------------------------------------------------------- stacked dropout, factory


def test_recurrent_autoencoder_dropout_train_eval_and_reconstruct():
    x = np.random.default_rng(0).standard_normal((4, 8, 1))
    model = npae.LSTMAutoencoder(1, 6, 3, num_layers=2, dropout=0.5, dtype=np.float64, seed=0)
    plain = npae.LSTMAutoencoder(1, 6, 3, num_layers=2, dtype=np.float64, seed=0)
    assert model.training and model.encoder.training
    y = model(x)
    assert not np.allclose(y, plain(x))  # training mode: dropout between the layers
    assert model.encoder.dropout_masks is not None and model.decoder.dropout_masks is not None
    np.testing.assert_array_equal(model.reconstruct(x, batch_size=3), plain.reconstruct(x, batch_size=3))
    assert model.training  # restored
    with pytest.raises(npae.errors.NotFittedError):
        model.backward(np.zeros_like(x))  # reconstruct keeps no cache
    model.eval()
    np.testing.assert_array_equal(model(x), plain(x))
    twin = reference.to_torch(model)
    assert not twin.training and twin.encoder_lstm.dropout == 0.5


@pytest.mark.parametrize("cell,cls", [("rnn", npae.RNNAutoencoder), ("lstm", npae.LSTMAutoencoder),
                                      ("gru", npae.GRUAutoencoder), ("dense", npae.DenseAutoencoder)])
def test_build_autoencoder(cell, cls):
    m = npae.build_autoencoder(cell, 2, 8, 4, num_layers=2, dropout=0.1, window_size=6, seed=0)
    assert type(m) is cls and m.dtype == np.float32 and m.training
    twin = reference.to_torch(m)
    assert list(twin.state_dict()) == list(m.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 6, 2)).astype(np.float32)
    twin.eval()
    with torch.no_grad():
        assert_close(m.reconstruct(x), twin(torch.tensor(x)), 1e-5, "eval twin")
    a = npae.build_autoencoder(cell, 2, 8, 4, window_size=6, seed=3).state_dict()
    b = npae.build_autoencoder(cell, 2, 8, 4, window_size=6, seed=3).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_build_autoencoder_errors():
    with pytest.raises(DataError, match="window_size"):
        npae.build_autoencoder("dense", 1, 8, 4)
    with pytest.raises(DataError, match="'gru'"):
        npae.build_autoencoder("transformer", 1, 8, 4)
    with pytest.raises(DataError, match="num_layers"):
        npae.build_autoencoder("gru", 1, 8, 4, num_layers=0)
