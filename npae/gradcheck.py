"""Central finite differences, for checking a hand-written backward pass.

The check contracts the output with a *random* weight array ``w`` (never all ones: an all-ones
upstream gradient hides transposed or summed-over-the-wrong-axis bugs) and compares, for every
input ``x``, the analytic gradient of ``L = Σ w ⊙ f(x, …)`` with the central difference

    ∂L/∂x_j ≈ (L(x + ε e_j) - L(x - ε e_j)) / (2ε)          (error O(ε²))

in float64.  The error reported per tensor is *norm-wise relative*:
``max|analytic - numeric| / max(max|analytic|, max|numeric|, tiny)``, which stays meaningful
when some entries are zero.  Around 1e-8 or below means the backward is right; 1e-2 means a bug.

Two entry points:

* :func:`gradcheck` for your own functions: ``f(*inputs) -> array`` and
  ``backward(w, *inputs) -> gradients``, one per input (``None`` to skip one);
* :func:`gradcheck_module` for an npae layer or model (its input and every named parameter).

``npae gradcheck`` (``npae/commands/gradcheck.py``) runs both on every layer and autoencoder and
adds a comparison with PyTorch autograd; ``docs/bptt.md`` (section 11) explains the method.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TensorCheck:
    """The comparison for one tensor."""

    name: str
    shape: tuple
    max_abs_error: float
    rel_error: float
    ok: bool


@dataclass
class GradcheckReport:
    """Per-tensor results; ``ok`` is true when every tensor passed.  ``str(report)`` is a table."""

    checks: list = field(default_factory=list)
    rtol: float = 1e-6

    @property
    def ok(self) -> bool:
        """True when every tensor passed."""
        return all(c.ok for c in self.checks)

    @property
    def max_rel_error(self) -> float:
        """The largest relative error over all tensors (0 for an empty report)."""
        return max((c.rel_error for c in self.checks), default=0.0)

    def __getitem__(self, name):
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self):
        w = max([len(c.name) for c in self.checks] + [6])
        lines = [f"{'tensor':<{w}}  {'shape':<14} {'max |a-n|':>10} {'rel error':>10}  result"]
        for c in self.checks:
            lines.append(f"{c.name:<{w}}  {str(c.shape):<14} {c.max_abs_error:>10.2e} "
                         f"{c.rel_error:>10.2e}  {'pass' if c.ok else 'FAIL'}")
        return "\n".join(lines)


def relative_error(a, n) -> float:
    """Norm-wise relative error between an analytic ``a`` and a numeric ``n`` gradient (same shape):
    ``max|a - n| / max(max|a|, max|n|)`` (0 when both are all zero)."""
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(n), initial=0.0), 1e-300)
    return float(np.max(np.abs(a - n), initial=0.0) / scale)


def numerical_gradient(loss, x, eps=1e-6):
    """Central differences of the scalar ``loss()`` w.r.t. the array ``x``, perturbed *in place*
    (and restored).  Returns an array shaped like ``x``."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = float(loss())
        flat[j] = old - eps
        down = float(loss())
        flat[j] = old
        gflat[j] = (up - down) / (2 * eps)
    return grad


def _compare(name, analytic, numeric, rtol, atol):
    err = relative_error(analytic, numeric)
    abs_err = float(np.max(np.abs(np.asarray(analytic, np.float64) - numeric), initial=0.0))
    return TensorCheck(name, tuple(np.shape(numeric)), abs_err, err, bool(err <= rtol or abs_err <= atol))


def gradcheck(f, inputs, backward, *, names=None, eps=1e-6, rtol=1e-6, atol=1e-10, seed=0):
    """Check ``backward`` against finite differences of ``f``.

    ``f(*inputs) -> y`` (any shape); ``backward(w, *inputs)`` must return the gradients of
    ``Σ w ⊙ f(*inputs)`` w.r.t. each input (``None`` for an input not to check), where ``w`` has
    ``y``'s shape.  Inputs are copied to float64.  Returns a :class:`GradcheckReport`.

    Example (a student's own ``y = tanh(x W)``)::

        f = lambda x, W: np.tanh(x @ W)
        def back(w, x, W):
            da = w * (1 - np.tanh(x @ W) ** 2)
            return da @ W.T, x.T @ da
        print(npae.gradcheck(f, [x, W], back, names=["x", "W"]))
    """
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    names = list(names) if names is not None else [f"input{i}" for i in range(len(xs))]
    if len(names) != len(xs):
        raise ValueError(f"got {len(names)} names for {len(xs)} inputs")
    w = np.random.default_rng(seed).standard_normal(np.shape(f(*xs)))
    analytic = backward(w, *xs)
    if len(analytic) != len(xs):
        raise ValueError(f"backward returned {len(analytic)} gradients for {len(xs)} inputs")
    report = GradcheckReport(rtol=rtol)
    for name, x, a in zip(names, xs, analytic):
        if a is None:
            continue
        if np.shape(a) != x.shape:
            raise ValueError(f"gradient for {name} has shape {np.shape(a)}, the input has {x.shape}")
        numeric = numerical_gradient(lambda: np.sum(w * f(*xs)), x, eps)
        report.checks.append(_compare(name, a, numeric, rtol, atol))
    return report


def gradcheck_module(module, x, *, eps=1e-6, rtol=1e-6, atol=1e-10, seed=0, params=True):
    """Check an npae layer or model: the gradient of its input and of every named parameter.

    ``x`` is an input the module accepts — ``(B, T, D)`` for an autoencoder, ``(T, B, D)`` for a
    recurrent layer (``(B, T, D)`` with ``batch_first``), ``(..., F_in)`` for a Linear.  The
    module must be float64 (``dtype=numpy.float64``); every named parameter is checked (pass
    ``params=False`` for the input only).  For RNN/LSTM layers the checked output is ``output``
    with zero initial states; to include ``h_n``/``c_n`` and the initial states, use
    :func:`gradcheck` with a function returning them (as ``npae gradcheck`` does).  Returns a
    :class:`GradcheckReport`; ``eps`` is the finite-difference step: the default suits a single
    layer; for an autoencoder's long chain ``eps=1e-5`` keeps the rounding error of the
    differences (~1e-16/ε relative to the loss) well below ``rtol``.
    """
    if module.dtype != np.float64:
        raise TypeError("gradcheck_module needs a float64 module: build it with dtype=numpy.float64")
    x = np.array(x, dtype=np.float64)

    def out(inp):
        y = module.forward(inp)
        return y[0] if isinstance(y, tuple) else y

    w = np.random.default_rng(seed).standard_normal(out(x).shape)
    module.zero_grad()
    out(x)
    g = module.backward(w)
    dx = g[0] if isinstance(g, tuple) else g
    analytic = {"input": dx}
    analytic.update({n: p.grad.copy() for n, p in module.named_parameters()} if params else {})
    module.zero_grad()
    loss = lambda: np.sum(w * out(x))  # noqa: E731
    report = GradcheckReport(rtol=rtol)
    report.checks.append(_compare("input", analytic["input"], numerical_gradient(loss, x, eps), rtol, atol))
    if params:
        for name, p in module.named_parameters():
            report.checks.append(_compare(name, analytic[name], numerical_gradient(loss, p.data, eps), rtol, atol))
    module._cache = None
    return report
