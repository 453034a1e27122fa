"""Activations: exact against torch, no overflow warnings, derivatives from outputs."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npae
from npae import functional as F

finite = st.floats(-1e4, 1e4, allow_nan=False, width=64)


@given(arrays(np.float64, st.integers(1, 50), elements=finite))
def test_sigmoid_equals_torch_and_never_warns(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
        s = F.sigmoid(x)
        s32 = F.sigmoid(x.astype(np.float32))
    ref = torch.sigmoid(torch.tensor(x)).numpy()
    np.testing.assert_allclose(s, ref, rtol=1e-14, atol=0)
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32, torch.sigmoid(torch.tensor(x, dtype=torch.float32)).numpy(), rtol=1e-6, atol=1e-30)


def test_sigmoid_extremes():
    x = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = F.sigmoid(x)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert s[2] == pytest.approx(np.exp(-40.0), rel=1e-14)  # exact in the far tail, not rounded to 0
    out = np.empty_like(x)
    assert F.sigmoid(x, out=out) is out


@pytest.mark.parametrize("name,fn,grad,torch_fn", [
    ("sigmoid", F.sigmoid, F.sigmoid_grad_from_output, torch.sigmoid),
    ("tanh", F.tanh, F.tanh_grad_from_output, torch.tanh),
    ("relu", F.relu, F.relu_grad_from_output, torch.relu),
])
def test_derivatives_from_outputs_equal_autograd(name, fn, grad, torch_fn):
    x = np.random.default_rng(0).normal(0, 3, 200)
    xt = torch.tensor(x, requires_grad=True)
    y = torch_fn(xt)
    y.sum().backward()
    # the formula, fed torch's own outputs, is torch's derivative to the last bits
    np.testing.assert_allclose(grad(y.detach().numpy()), xt.grad.numpy(), rtol=1e-13, atol=1e-300)
    # fed ours: 1 - y² amplifies a one-ulp difference in y where y ≈ ±1, so compare norm-wise
    assert np.max(np.abs(grad(fn(x)) - xt.grad.numpy())) <= 1e-15 * np.max(np.abs(xt.grad.numpy()))


def test_gradcheck_catches_a_wrong_backward():
    """npae.gradcheck on a student's function: right backward passes, a transposed one fails."""
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    f = lambda x, W: np.tanh(x @ W)  # noqa: E731

    def good(w, x, W):
        da = w * (1 - np.tanh(x @ W) ** 2)
        return da @ W.T, x.T @ da

    def bad(w, x, W):
        da = w * (1 - np.tanh(x @ W) ** 2)
        return da @ W, x.T @ da  # dx uses W instead of Wᵀ

    ok = npae.gradcheck(f, [x, W], good, names=["x", "W"])
    assert ok.ok and ok.max_rel_error < 1e-7
    wrong = npae.gradcheck(f, [x, W], bad, names=["x", "W"])
    assert not wrong.ok and not wrong["x"].ok and wrong["W"].ok
    assert "FAIL" in str(wrong) and "pass" in str(wrong)


@pytest.mark.parametrize("impl,module", [("vectorized", "npae.lstm"), ("fast", "npae.fast.lstm")])
def test_gradcheck_module_catches_a_broken_layer(monkeypatch, impl, module):
    """A tanh' 1 % off in either tier's LSTM backward: gradcheck_module sees it."""
    import importlib

    layer = npae.LSTM(2, 3, dtype=np.float64, seed=0, impl=impl)
    x = np.random.default_rng(1).standard_normal((3, 2, 2))
    assert npae.gradcheck_module(layer, x).ok
    L = importlib.import_module(module)

    real = L.tanh_grad_from_output
    monkeypatch.setattr(L, "tanh_grad_from_output", lambda y: real(y) * 1.01)
    report = npae.gradcheck_module(layer, x)
    assert not report.ok and not report["weight_hh_l0"].ok
    with pytest.raises(TypeError, match="float64"):
        npae.gradcheck_module(npae.LSTM(2, 3), x)
