"""Shared test helpers: tolerances, torch twins of npae layers, random parameters."""

import numpy as np
import torch

# float64: every parameter drawn from N(0, 1), relative 1e-10.  float32 (smoke tests): weights at
# torch's initial scale, error measured on an O(1) scale (see assert_close), 1e-5.  With N(0, 1)
# weights float32 itself is off by ~1e-4 in both libraries (ill-conditioned nets), which says
# nothing about either implementation.
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}

# the largest float64 discrepancy seen against torch, per kind (printed by test_report_discrepancy)
WORST = {}


def rel_err(a, b, floor=1e-30) -> float:
    """Norm-wise relative error max|a-b| / max(max|b|, floor) (b the oracle)."""
    a = np.asarray(a, np.float64)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != oracle {b.shape}"
    scale = max(float(np.max(np.abs(b), initial=0.0)), floor)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def assert_close(a, b, rtol, what="", kind=None, floor=None):
    """``rel_err(a, b) <= rtol``.  At float32 tolerances the scale is floored at 1: float32 sums of
    O(1) terms that cancel to a small result carry an absolute, not a relative, rounding error.
    ``floor``: another lower bound of the scale (a gradient that is zero by an invariance)."""
    err = rel_err(a, b, floor=max(1.0 if rtol >= 1e-6 else 1e-30, floor or 0.0))
    if kind is not None:
        WORST[kind] = max(WORST.get(kind, 0.0), err)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.0e}"


def t(a, grad=False):
    """A float tensor sharing nothing with ``a``."""
    x = torch.tensor(np.array(a))
    return x.requires_grad_(grad)


def randomize(module, rng, scale=1.0):
    """Draw every parameter of an npae module (both biases included) at random: a weight matrix
    from N(0, scale²/fan_in), a bias from N(0, scale²/4) — halved in variance for a recurrent
    layer's two weights and two biases, whose contributions add up in the same pre-activation.

    This keeps every pre-activation about N(0, scale²) whatever the drawn sizes.  With N(0, 1)
    weights a wide layer saturates tanh/σ to within 1e-13 of ±1, where the derivative 1 - y² is
    decided by the last bit of y, i.e. by how each library rounds tanh: an ill-conditioned
    comparison that says nothing about either backward pass.  (Without the halving, H = D = 1
    drew pre-activations of ~N(0, 2.5); one such encoder, saturated for 4 steps, had bias
    gradients 1000× below its weight gradients that npae and torch agreed on to only 1.6e-10.)
    """
    for name, p in module.named_parameters():
        recurrent = "_ih_l" in name or "_hh_l" in name
        p.data[...] = rng.normal(0.0, param_std(p.data.shape, recurrent, scale), p.data.shape)


def param_std(shape, recurrent, scale=1.0):
    """The standard deviation :func:`randomize` draws a parameter of this shape with."""
    std = scale / np.sqrt(shape[1]) if len(shape) == 2 else scale / 2
    return std / np.sqrt(2) if recurrent else std


def random_recurrent_params(rng, G, D, H, bias=True, scale=1.0):
    """A recurrent layer's parameters as the functional API's dict (``weight_ih (G, D)``,
    ``weight_hh (G, H)``, ``bias_ih``, ``bias_hh (G,)`` or None), drawn as :func:`randomize`."""
    shapes = {"weight_ih": (G, D), "weight_hh": (G, H), "bias_ih": (G,), "bias_hh": (G,)}
    return {k: rng.normal(0.0, param_std(s, True, scale), s) if bias or len(s) == 2 else None
            for k, s in shapes.items()}


def torch_twin_layer(layer):
    """The torch.nn layer with the same class, options and weights as an npae RNN/LSTM/GRU/Linear."""
    import npae

    dtype = torch.float64 if layer.dtype == np.float64 else torch.float32
    if isinstance(layer, (npae.LSTM, npae.GRU, npae.RNN)):
        kw = dict(bias=layer.bias, batch_first=layer.batch_first, num_layers=layer.num_layers,
                  bidirectional=layer.bidirectional, dropout=layer.dropout)
        if isinstance(layer, npae.RNN):
            kw["nonlinearity"] = layer.nonlinearity
        cls = {npae.LSTM: torch.nn.LSTM, npae.GRU: torch.nn.GRU, npae.RNN: torch.nn.RNN}[type(layer)]
        tl = cls(layer.input_size, layer.hidden_size, **kw)
    else:
        tl = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    tl = tl.to(dtype)
    tl.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    return tl


def run_npae_layer(layer, x, states, dy, dstates):
    """Forward and backward of an npae RNN/GRU (one state) or LSTM (``states = [h0, c0]``) →
    outputs, input/state gradients and parameter gradients by name."""
    import npae

    layer.zero_grad()
    if isinstance(layer, npae.LSTM):
        y, (h, c) = layer(x, tuple(states))
        dx, (dh0, dc0) = layer.backward(dy, tuple(dstates))
        outs, gin = [y, h, c], [dx, dh0, dc0]
    else:
        y, h = layer(x, states[0])
        dx, dh0 = layer.backward(dy, dstates[0])
        outs, gin = [y, h], [dx, dh0]
    return outs, gin, {n: p.grad.copy() for n, p in layer.named_parameters()}


def run_torch_layer(tl, x, states, dy, dstates):
    """The same on a torch layer, through autograd on Σ dy ⊙ output + Σ dstate ⊙ state."""
    xt = t(x, True)
    st_ = [t(s, True) for s in states]
    y, hs = tl(xt, tuple(st_) if len(st_) == 2 else st_[0])
    outs = [y] + (list(hs) if isinstance(hs, tuple) else [hs])
    loss = sum((o * t(g)).sum() for o, g in zip(outs, [dy] + list(dstates)))
    loss.backward()
    grads = {n: p.grad for n, p in tl.named_parameters()}
    return [o.detach() for o in outs], [xt.grad] + [s.grad for s in st_], grads


def compare_autoencoder_with_twin(model, x, w, T, kind=None):
    """Forward, backward (upstream ``w``), encode and decode of an npae recurrent autoencoder
    against its ``reference`` twin: every output and every gradient by name, in the model's
    tolerance (``TOL``); ``kind`` names the row of the WORST table (float64 only)."""
    import reference

    dtype = model.dtype
    twin = reference.to_torch(model)
    model.zero_grad()
    y = model(x)
    dx = model.backward(w)
    xt = t(x, True)
    yt = twin(xt)
    (yt * t(w)).sum().backward()
    tol = TOL[np.dtype(dtype)]
    kind = kind if dtype == np.float64 else None
    assert y.dtype == dx.dtype == dtype
    assert_close(y, yt.detach(), tol, "reconstruction", kind and kind + " outputs")
    assert_close(dx, xt.grad, tol, "grad input", kind and kind + " gradients")
    tgrads = dict(twin.named_parameters())
    assert [n for n, _ in model.named_parameters()] == list(tgrads)
    for name, p in model.named_parameters():
        assert p.grad.dtype == dtype
        assert_close(p.grad, tgrads[name].grad, tol, "grad " + name, kind and kind + " gradients")
    z = model.encode(x)
    assert_close(z, twin.encode(t(x)).detach(), tol, "latent")
    assert_close(model.decode(z, T), twin.decode(t(z), T).detach(), tol, "decode")


def adam_lockstep(model, twin, batches, lr=1e-2, rel=1e-9):
    """Train ``model`` (npae) and its torch ``twin`` with Adam on the same ``batches``, one MSE
    step each, asserting after every step that the two losses agree to ``rel``."""
    import npae
    from npae.optim import Adam

    opt = Adam(model.parameters(), lr=lr)
    topt = torch.optim.Adam(twin.parameters(), lr=lr, foreach=False)
    loss_fn, tloss_fn = npae.MSELoss(), torch.nn.MSELoss()
    for xb in batches:
        model.zero_grad()
        loss = loss_fn(model(xb), xb)
        model.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        tl = tloss_fn(twin(t(xb)), t(xb))
        tl.backward()
        topt.step()
        assert abs(float(loss) - tl.item()) <= rel * abs(tl.item())

