"""Parameters and modules: the bookkeeping every layer shares.

A :class:`Parameter` is a pair of NumPy arrays, ``data`` and ``grad`` (same shape, same dtype).
A :class:`Module` registers the parameters and sub-modules assigned to it as attributes, in
assignment order, and names them the way PyTorch does (``encoder_lstm.weight_ih_l0``), so
``named_parameters()`` and ``state_dict()`` line up with a torch model's key for key.

Gradients are *accumulated*: a backward pass adds into ``Parameter.grad`` (``+=``), because a
weight shared across time steps or calls collects a contribution from each.  ``zero_grad()``
resets them, as in torch.

``train()`` / ``eval()`` set ``training`` on a module and all its sub-modules, as torch's: it
decides what dropout and batch norm do (``npae/dense.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ._checks import check_finite, is_int
from .backends import to_numpy
from .errors import DataError, InvalidTypeError, NotFittedError, StateDictError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy float32/float64 dtype, or raise :class:`InvalidTypeError`
    (a ``TypeError``)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise InvalidTypeError(f"dtype must be float32 or float64 (np.float32, 'float64', ...), "
                               f"got {dtype!r}")
    return dt


def as_generator(seed=None, rng=None) -> np.random.Generator:
    """One source of randomness: an explicit ``Generator``, else a new one from ``seed``
    (None, or an integer >= 0)."""
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise InvalidTypeError(f"rng must be a numpy.random.Generator, got "
                                   f"{type(rng).__name__}")
        return rng
    if seed is not None and not isinstance(seed, np.random.SeedSequence):
        if not is_int(seed):
            raise InvalidTypeError(f"seed must be None or an integer >= 0, got {seed!r}")
        if seed < 0:
            raise DataError(f"seed must be None or an integer >= 0, got {seed}")
    return np.random.default_rng(seed)


def check_state_values(state, dtypes) -> None:
    """Raise :class:`StateDictError` if an entry of ``state`` holds NaN or infinity, or would
    once cast to ``dtypes[name]`` (float64 1e39 becomes inf in float32)."""
    for name, value in state.items():
        arr = np.asarray(value)
        check_finite(arr, f"state dict entry '{name}'", "a model with such weights returns NaN: "
                     "load finite weights", where=None, error=StateDictError)
        dt = np.dtype(dtypes[name])
        if arr.dtype.kind in "fiu" and arr.size and dt.kind == "f" and dt.itemsize < 8:
            big = float(np.max(np.abs(arr)))
            if big > float(np.finfo(dt).max):
                raise StateDictError(f"state dict entry '{name}' holds {big:.3g}, beyond "
                                     f"{dt}'s range (max {float(np.finfo(dt).max):.3g}); it "
                                     f"would become infinity in this {dt} model")


class Parameter:
    """A trainable array ``data`` and its accumulated gradient ``grad`` (same shape and dtype)."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        """The array's shape, e.g. ``(G, D)`` for a recurrent layer's ``weight_ih_l0``."""
        return self.data.shape

    @property
    def dtype(self):
        """The array's dtype (float32 or float64); ``grad`` has the same."""
        return self.data.dtype

    def accumulate(self, g: np.ndarray) -> None:
        """Add a gradient contribution ``g`` into ``grad`` (the one place gradients land)."""
        self.grad += g

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: registers parameters and sub-modules, names them, saves and loads them."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_cache", None)
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise RuntimeError("call Module.__init__() before assigning attributes")
        if isinstance(value, Parameter):
            params[name] = value
            self._modules.pop(name, None)
        elif isinstance(value, Module):
            self._modules[name] = value
            params.pop(name, None)
        elif value is None and name in params:
            params[name] = None  # an absent bias, as torch's register_parameter(name, None)
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ traversal
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, Parameter)`` pairs, torch's names and order (own first, then children)."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for mname, m in self._modules.items():
            yield from m.named_parameters(prefix + mname + ".")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every :class:`Parameter` (the list an optimiser takes)."""
        for _, p in self.named_parameters():
            yield p

    def named_modules(self, prefix: str = ""):
        """Yield ``(name, Module)`` for this module (name ``""``) and every sub-module, torch's names."""
        yield prefix.rstrip("."), self
        for mname, m in self._modules.items():
            yield from m.named_modules(prefix + mname + ".")

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (float64 for a module without parameters)."""
        for p in self.parameters():
            return p.data.dtype
        return np.dtype(np.float64)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero (in place)."""
        for p in self.parameters():
            p.grad[...] = 0

    def num_parameters(self) -> int:
        """The number of trainable scalars, torch's ``sum(p.numel() for p in model.parameters())``."""
        return sum(p.data.size for p in self.parameters())

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True):
        """Training mode (torch's default): dropout draws masks, batch norm uses the batch's
        statistics and updates its running estimates.  Applies to every sub-module; returns self."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: no dropout, batch norm uses its running estimates (``train(False)``)."""
        return self.train(False)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array, keyed by name (torch's keys)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> None:
        """Copy arrays into the parameters, checking keys, shapes and dtypes first.

        Accepts NumPy arrays or anything ``numpy.asarray`` understands (torch CPU tensors
        included).  A float array of another precision is cast to the model's dtype, as torch's
        ``load_state_dict`` does; NaN or infinity, or a value the cast would make infinite, is
        refused (torch loads it, and the model silently returns NaN).  Nothing is modified unless
        every entry is valid.
        """
        if not isinstance(state_dict, Mapping):
            raise StateDictError(
                f"load_state_dict expects a mapping of name -> array, got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters())
        given = set(state_dict)
        if strict:
            missing = [k for k in own if k not in given]
            unexpected = sorted(str(k) for k in given if k not in own)
            if missing or unexpected:
                parts = []
                if missing:
                    parts.append("missing keys: " + ", ".join(missing))
                if unexpected:
                    parts.append("unexpected keys: " + ", ".join(unexpected))
                raise StateDictError(
                    f"state dict does not match {type(self).__name__}: " + "; ".join(parts)
                    + ". Keys must be exactly: " + ", ".join(own)
                )
        staged = {}
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = to_numpy(value)  # a torch tensor leaves autograd and goes to the CPU
            if arr.dtype.kind not in "fiu":
                raise StateDictError(
                    f"state dict entry '{name}' holds {arr.dtype} data; expected a numeric array"
                )
            if arr.shape != p.data.shape:
                raise StateDictError(
                    f"state dict entry '{name}' has shape {arr.shape}; "
                    f"this model needs {p.data.shape}"
                )
            staged[name] = arr
        check_state_values(staged, {name: own[name].data.dtype for name in staged})
        staged = {name: arr.astype(own[name].data.dtype, copy=False) for name, arr in staged.items()}
        for name, arr in staged.items():
            own[name].data[...] = arr

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        """Compute the output and keep what ``backward`` needs in ``self._cache``."""
        raise NotImplementedError

    def _take_cache(self):
        """The cache of the last forward pass, for ``backward``; raise if there is none."""
        cache = self._cache
        if cache is None:
            raise NotFittedError(
                f"{type(self).__name__}.backward() needs a forward() first: "
                "call forward(x) (or model(x)) and then backward(grad_output)"
            )
        return cache

    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr`` (sub-modules are listed below them)."""
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"
