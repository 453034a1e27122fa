"""The guide's dense autoencoder (its section 3.3, PyOD's ``AutoEncoder``): Linear stacks,
``Dropout`` and ``BatchNorm1d``, each with a hand-written backward, on flattened windows.

Glossary: B batch, F features of a layer (a window flattened: F = T·D at the input), p the
dropout probability, ε ``eps``, m ``momentum``.

Dropout (torch's inverted dropout; the same function sits between stacked recurrent layers,
``npae/stacked.py``)::

    (D1)  y = x ⊙ m,   m_i = 1/(1-p) with probability 1-p, else 0     (training mode only)
    (D1') dx = dy ⊙ m

Batch norm over the batch axis, training mode (x (B, F); every statistic is per feature)::

    (N1)  μ  = (1/B) Σ_b x_b
    (N2)  σ² = (1/B) Σ_b (x_b - μ)²                 (biased: what normalises the batch)
    (N3)  x̂  = (x - μ) / √(σ² + ε)
    (N4)  y  = γ ⊙ x̂ + β                           (γ = ``weight``, β = ``bias``)
    (N5)  running_mean ← (1-m) running_mean + m μ,  running_var ← (1-m) running_var + m σ²·B/(B-1)
          (m = None: the cumulative average, m = 1/num_batches_tracked; no gradient flows here)
    (N6)  eval mode: y = γ ⊙ (x - running_mean) / √(running_var + ε) + β

Backward, step by step through the graph (N1)–(N4) (cs231n's derivation; ``x_c = x - μ``,
``s = 1/√(σ² + ε)``)::

    (N4') dγ = Σ_b dy ⊙ x̂      dβ = Σ_b dy      dx̂ = dy ⊙ γ
    (N3') x̂ = x_c ⊙ s:  dx_c = dx̂ ⊙ s  (direct)   ds = Σ_b dx̂ ⊙ x_c   dσ² = ds ⊙ (-½) s³
    (N2') σ² = (1/B) Σ_b x_c²:  dx_c += (2/B) x_c ⊙ dσ²
    (N1') x_c = x - μ, μ = (1/B) Σ_b x:  dx = dx_c - (1/B) Σ_b dx_c
    (N6') eval mode, running statistics constant:  dx = dy ⊙ γ / √(running_var + ε),
          dγ = Σ_b dy ⊙ x̂,  dβ = Σ_b dy

The model: ``x (B, T, D)`` → flattened ``(B, T·D)`` → for every hidden size F_k:
``fc{k}`` (L1) → ``bn{k}`` (N1)–(N6) → activation → ``drop{k}`` (D1) → … → ``output_fc`` (L1)
→ reshaped ``(B, T, D)``.  The activations' derivatives come from their outputs
(``npae/functional.py``).
"""

import numpy as np

from ._checks import as_array, is_int
from .backends import to_numpy
from .errors import ShapeError, StateDictError
from .functional import relu, relu_grad_from_output, sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .linear import Linear
from .module import Module, Parameter, as_float_dtype, as_generator

ACTIVATIONS = {"relu": (relu, relu_grad_from_output), "tanh": (tanh, tanh_grad_from_output),
               "sigmoid": (sigmoid, sigmoid_grad_from_output)}


# ---------------------------------------------------------------------------- dropout


def dropout_mask(shape, p, rng, dtype):
    """(D1)'s mask: each entry ``1/(1-p)`` with probability ``1-p``, else 0 (torch's inverted
    dropout; ``p = 1`` gives all zeros).  Drawn from the explicit Generator ``rng``."""
    if p >= 1:
        return np.zeros(shape, dtype=dtype)
    keep = rng.random(shape) >= p
    return (keep * (1.0 / (1.0 - p))).astype(dtype)


def dropout_forward(x, mask):
    """(D1) ``y = x ⊙ m``."""
    return x * mask


def dropout_backward(dy, mask):
    """(D1') ``dx = dy ⊙ m``."""
    return dy * mask


class Dropout(Module):
    """``torch.nn.Dropout(p)`` in NumPy: (D1) in training mode, the identity in eval mode.

    ``Dropout(p=0.5, *, seed=None, rng=None)``; the mask of the last training forward is
    ``mask`` (``None`` after an eval-mode forward).  Any input shape."""

    def __init__(self, p=0.5, *, seed=None, rng=None):
        super().__init__()
        if isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
            from .errors import DataError
            raise DataError(f"dropout probability must be in [0, 1], got {p!r}")
        self.p = float(p)
        self._rng = as_generator(seed, rng)
        self.mask = None

    def forward(self, x):
        """(D1): ``x`` → ``x ⊙ m`` (training, p > 0) or ``x``."""
        x = np.asarray(x)
        self.mask = (dropout_mask(x.shape, self.p, self._rng, x.dtype)
                     if self.training and self.p > 0 else None)
        self._cache = ("mask", self.mask)
        return x.copy() if self.mask is None else dropout_forward(x, self.mask)

    def backward(self, grad_output):
        """(D1'): ``dy`` → ``dy ⊙ m`` (or ``dy``)."""
        _, mask = self._take_cache()
        dy = np.asarray(grad_output)
        return dy.copy() if mask is None else dropout_backward(dy, mask)

    def extra_repr(self):
        return f"p={self.p}"


# ---------------------------------------------------------------------------- batch norm


def batchnorm_forward(x, weight, bias, eps):
    """(N1)–(N4), training mode: ``x (B, F)`` → ``y (B, F)``, the batch's ``μ`` and biased
    ``σ²`` (for (N5)) and the cache of :func:`batchnorm_backward`."""
    mu = x.mean(axis=0)  # (N1)
    xc = x - mu
    var = (xc * xc).mean(axis=0)  # (N2)
    s = 1.0 / np.sqrt(var + eps)  # (N3)
    xhat = xc * s  # (N3)
    y = xhat * weight + bias  # (N4)
    return y, mu, var, (xc, s, xhat, weight)


def batchnorm_backward(dy, cache):
    """(N4')–(N1'): ``dy (B, F)`` → ``dx (B, F)``, ``{"weight": dγ, "bias": dβ}``."""
    xc, s, xhat, weight = cache
    B = dy.shape[0]
    grads = {"weight": (dy * xhat).sum(axis=0), "bias": dy.sum(axis=0)}  # (N4')
    dxhat = dy * weight  # (N4')
    dxc = dxhat * s  # (N3') the direct path of x̂ = x_c ⊙ s
    ds = (dxhat * xc).sum(axis=0)  # (N3')
    dvar = ds * (-0.5) * s ** 3  # (N3') s = (σ² + ε)^(-1/2)
    dxc += (2.0 / B) * xc * dvar  # (N2') σ² = (1/B) Σ_b x_c²
    dx = dxc - dxc.mean(axis=0)  # (N1') x_c = x - μ with μ = (1/B) Σ_b x
    return dx, grads


def batchnorm_update_running(running_mean, running_var, mu, var, B, momentum, num_batches):
    """(N5) in place: torch's running estimates (the *unbiased* variance, σ²·B/(B-1))."""
    m = 1.0 / num_batches if momentum is None else momentum  # (N5)
    running_mean *= 1 - m  # (N5)
    running_mean += m * mu  # (N5)
    running_var *= 1 - m  # (N5)
    running_var += m * var * (B / (B - 1))  # (N5)


def batchnorm_eval_forward(x, weight, bias, running_mean, running_var, eps):
    """(N6): the running statistics in place of the batch's → ``y`` and the cache."""
    s = 1.0 / np.sqrt(running_var + eps)  # (N6)
    xhat = (x - running_mean) * s  # (N6)
    return xhat * weight + bias, (s, xhat, weight)  # (N6)


def batchnorm_eval_backward(dy, cache):
    """(N6'): ``dy`` → ``dx = dy ⊙ γ ⊙ s``, ``{"weight", "bias"}``."""
    s, xhat, weight = cache
    grads = {"weight": (dy * xhat).sum(axis=0), "bias": dy.sum(axis=0)}  # (N6')
    return dy * (weight * s), grads  # (N6')


class _Buffers:
    """state_dict / load_state_dict with torch's buffers (batch norm's running statistics) beside
    the parameters, in torch's order: each module's parameters, then its buffers."""

    def state_dict(self):
        out = {}
        for prefix, m in self.named_modules():
            pre = prefix + "." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p.data.copy()
            for name in getattr(m, "buffer_names", ()):
                out[pre + name] = np.array(getattr(m, name), copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        buffers = {}
        for prefix, m in self.named_modules():
            pre = prefix + "." if prefix else ""
            for name in getattr(m, "buffer_names", ()):
                buffers[pre + name] = (m, name)
        try:
            items = dict(state_dict.items())
        except AttributeError:
            raise StateDictError(f"load_state_dict expects a mapping of name -> array, "
                                 f"got {type(state_dict).__name__}") from None
        missing = [k for k in buffers if k not in items]
        if strict and missing:
            raise StateDictError(f"state dict does not match {type(self).__name__}: missing keys: "
                                 + ", ".join(missing) + " (batch norm's running statistics)")
        staged = []
        for key, (m, name) in buffers.items():
            if key not in items:
                continue
            v = items.pop(key)
            v = to_numpy(v)
            own = getattr(m, name)
            if np.shape(v) != np.shape(own):
                raise StateDictError(f"state dict entry '{key}' has shape {np.shape(v)}; "
                                     f"this model needs {np.shape(own)}")
            staged.append((m, name, v))
        Module.load_state_dict(self, items, strict)  # the parameters: checked there, all or nothing
        for m, name, v in staged:
            own = getattr(m, name)
            if isinstance(own, np.ndarray) and own.ndim:
                own[...] = v
            else:
                object.__setattr__(m, name, np.asarray(v, dtype=np.int64).reshape(()))


class BatchNorm1d(_Buffers, Module):
    """``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)`` in NumPy, for ``x (B, F)``.

    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros); buffers ``running_mean`` (zeros),
    ``running_var`` (ones) and ``num_batches_tracked``, all in ``state_dict`` under torch's names.
    Training mode: (N1)–(N5), the batch's statistics, running estimates updated; eval mode: (N6).
    """

    buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, *, dtype=np.float32):
        super().__init__()
        dtype = as_float_dtype(dtype)
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.weight = Parameter(np.ones(self.num_features, dtype))
        self.bias = Parameter(np.zeros(self.num_features, dtype))
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_var = np.ones(self.num_features, dtype)
        self.num_batches_tracked = np.zeros((), np.int64)

    def forward(self, x):
        """``x (B, F)`` → ``y (B, F)``: (N1)–(N5) in training mode, (N6) in eval mode."""
        x = as_array(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm1d({self.num_features}) expects (B, {self.num_features}); got {x.shape}")
        if not self.training:
            y, cache = batchnorm_eval_forward(x, self.weight.data, self.bias.data, self.running_mean,
                                              self.running_var, self.eps)
            self._cache = ("eval", cache)
            return y
        B = x.shape[0]
        if B < 2:
            raise ShapeError("BatchNorm1d in training mode needs a batch of at least 2 rows (a "
                             f"variance over the batch); got {B}. Use a larger batch or eval()")
        y, mu, var, cache = batchnorm_forward(x, self.weight.data, self.bias.data, self.eps)
        self.num_batches_tracked += 1
        batchnorm_update_running(self.running_mean, self.running_var, mu, var, B, self.momentum,
                                 int(self.num_batches_tracked))
        self._cache = ("train", cache)
        return y

    def backward(self, grad_output):
        """(N4')–(N1') (training) or (N6') (eval): ``dy (B, F)`` → ``dx``; accumulates
        ``weight.grad`` and ``bias.grad``."""
        mode, cache = self._take_cache()
        dy = as_array(grad_output, self.dtype, "grad_output")
        dx, grads = (batchnorm_backward if mode == "train" else batchnorm_eval_backward)(dy, cache)
        self.weight.accumulate(grads["weight"])
        self.bias.accumulate(grads["bias"])
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


# ---------------------------------------------------------------------------- the autoencoder


class Activation(Module):
    """relu, tanh or sigmoid as a layer; the backward uses the output (``npae/functional.py``)."""

    def __init__(self, name):
        super().__init__()
        if name not in ACTIVATIONS:
            from .errors import DataError
            raise DataError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
        self.name = name

    def forward(self, x):
        y = ACTIVATIONS[self.name][0](x)
        self._cache = y
        return y

    def backward(self, grad_output):
        return grad_output * ACTIVATIONS[self.name][1](self._take_cache())

    def extra_repr(self):
        return self.name


class DenseAutoencoder(_Buffers, Module):
    """The guide's dense autoencoder (PyOD's ``AutoEncoder``) on flattened windows, in NumPy.

    ``DenseAutoencoder(input_size, window_size, hidden_sizes=(144, 4, 4, 144), *,
    activation="relu", batch_norm=True, dropout=0.2, dtype=float32, seed=None, rng=None)``:
    each window ``(T, D)`` = ``(window_size, input_size)`` is flattened to F = T·D values; every
    hidden size F_k adds ``fc{k}`` (Linear) → ``bn{k}`` (BatchNorm1d, if ``batch_norm``) → the
    activation → ``drop{k}`` (Dropout); ``output_fc`` maps back to F, and the result is reshaped to
    ``(T, D)``.  Defaults are the guide's (hidden_neurons [144, 4, 4, 144], relu, batch norm,
    dropout 0.2).  ``forward``/``backward`` follow ``self.training`` (dropout masks from the
    model's Generator, batch statistics); ``reconstruct`` scores in eval mode (no dropout, the
    running statistics).  ``state_dict`` holds torch's keys, batch-norm buffers included, so
    ``reference.DenseAutoencoder``'s state dict loads unchanged.
    """

    cell = "dense"

    def __init__(self, input_size, window_size, hidden_sizes=(144, 4, 4, 144), *, activation="relu",
                 batch_norm=True, dropout=0.2, dtype=np.float32, seed=None, rng=None):
        super().__init__()
        from .errors import DataError

        dtype = as_float_dtype(dtype)
        rng = as_generator(seed, rng)
        sizes = [int(h) for h in hidden_sizes]
        for name, v in (("input_size", input_size), ("window_size", window_size)):
            if not is_int(v, 1):
                raise DataError(f"{name} must be a positive integer, got {v!r}")
        if not sizes or min(sizes) < 1:
            raise DataError(f"hidden_sizes must be a non-empty list of positive integers, got {hidden_sizes!r}")
        if activation not in ACTIVATIONS:
            raise DataError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.input_size, self.window_size = int(input_size), int(window_size)
        self.hidden_sizes, self.activation, self.batch_norm = sizes, activation, bool(batch_norm)
        self.dropout = float(dropout)
        F = self.window_size * self.input_size
        self.n_inputs = F
        self._blocks = []
        fan_in = F
        for k, h in enumerate(sizes):
            block = [f"fc{k}"]
            setattr(self, f"fc{k}", Linear(fan_in, h, dtype=dtype, rng=rng))
            if self.batch_norm:
                setattr(self, f"bn{k}", BatchNorm1d(h, dtype=dtype))
                block.append(f"bn{k}")
            setattr(self, f"act{k}", Activation(activation))
            setattr(self, f"drop{k}", Dropout(self.dropout, rng=rng))
            self._blocks += block + [f"act{k}", f"drop{k}"]
            fan_in = h
        self.output_fc = Linear(fan_in, F, dtype=dtype, rng=rng)
        self._blocks.append("output_fc")

    def _check_input(self, x):
        x = as_array(x, self.dtype)
        want = (self.window_size, self.input_size)
        if x.ndim != 3 or x.shape[1:] != want:
            raise ShapeError(f"DenseAutoencoder expects windows (B, {want[0]}, {want[1]}) (window_size, "
                             f"input_size as built); got {x.shape}")
        return x

    def forward(self, x):
        """``x (B, T, D)`` → ``x̂ (B, T, D)``, through every layer in order; follows ``training``."""
        from . import trace as _trace  # here: npae.trace imports the recurrent layers, which import this module

        x = self._check_input(x)
        v = x.reshape(x.shape[0], -1)
        tracing = _trace.is_active()
        outs = []
        for name in self._blocks:
            v = getattr(self, name)(v)
            if tracing:
                outs.append((name, v))
        self._cache = x.shape
        y = v.reshape(x.shape)
        if tracing:  # records the data path inside `with npae.Trace()`
            object.__setattr__(self, "_trace_outputs", outs)
            _trace.notify(self, x, y)
        return y

    def backward(self, grad_output):
        """``dx̂ (B, T, D)`` → ``dx (B, T, D)``: every layer's backward in reverse order."""
        shape = self._take_cache()
        dy = as_array(grad_output, self.dtype, "grad_output")
        if dy.shape != shape:
            raise ShapeError(f"grad_output has shape {dy.shape}; the output had shape {shape}")
        d = dy.reshape(shape[0], -1)
        for name in reversed(self._blocks):
            d = getattr(self, name).backward(d)
        return d.reshape(shape)

    def reconstruct(self, x, batch_size=1024):
        """Eval-mode reconstruction in batches (no dropout; batch norm's running statistics); the
        mode is restored after and no cache is kept.  ``x (n, T, D)`` → ``x̂ (n, T, D)``."""
        x = self._check_input(x)
        was = self.training
        self.eval()
        try:
            out = np.concatenate([self.forward(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
        finally:
            self.train(was)
            self._cache = None
        return out

    def extra_repr(self):
        return (f"input_size={self.input_size}, window_size={self.window_size}, "
                f"hidden_sizes={self.hidden_sizes}, activation={self.activation!r}, "
                f"batch_norm={self.batch_norm}, dropout={self.dropout}, dtype={self.dtype}")
