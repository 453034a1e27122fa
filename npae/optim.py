"""Optimisers: :class:`Adam`, :class:`SGD` and :func:`clip_grad_norm_`, step for step as torch.

An optimiser holds a list of :class:`~npae.module.Parameter` objects.  ``step()`` reads each
``p.grad`` (never writes it) and updates ``p.data`` *in place*, so every layer that holds a
reference to the array sees the new values.  The arithmetic follows torch's single-tensor code
path (``foreach=False``) operation by operation, in the same order and in the parameter's own
dtype, so a float64 trajectory agrees with torch's to ~1e-12 (relative) even after 100 steps;
``tests/test_optim.py`` checks this with torch as the oracle.

Adam's bias correction
----------------------
Adam keeps exponential moving averages of the gradient, ``m`` (first moment), and of its square,
``v`` (second moment), both starting at zero.  Unrolled, ``m_t = (1-β1) Σ_k β1^(t-k) g_k``: the
weights sum to ``1 - β1^t``, not 1, so early on ``m_t`` is pulled towards the zero it started
from.  Dividing by ``1 - β1^t`` (and ``v_t`` by ``1 - β2^t``) removes that pull.  At ``t = 1`` it
gives ``m̂ = g`` and ``v̂ = g²``, so the very first step is ``lr · g / (|g| + ε) ≈ lr · sign(g)``,
whatever the scale of the gradient.  Without the correction the steps would be
``(1-β1^t)/√(1-β2^t)`` times too large: with the default betas ≈ 3 at t = 1, ≈ 6.5 at t = 10 and
still ≈ 1.3 at t = 1000.

Where ε goes
------------
torch (like Algorithm 1 of Kingma & Ba) adds ε to the *bias-corrected* root,
``denom = √v_t / √(1-β2^t) + ε``.  The paper's "more efficient" variant, and TensorFlow/Keras,
add it to the raw root ``√v_t`` instead, which amounts to an ε larger by ``1/√(1-β2^t)``
(≈ 32 × at t = 1 with β2 = 0.999).  The two agree once the gradients are much larger than ε, but
not for tiny gradients or a large ε, and not in the first steps; npae puts ε where torch does so
that the trajectories match.  (A large ε, 1e-3 or more, makes Adam behave more like SGD with
momentum, since ``denom`` then no longer tracks the gradient's scale.)

The torch code folds ``lr / (1-β1^t)`` into one ``step_size`` and writes ``m ← β1·m + (1-β1)·g``
as ``m.lerp_(g, 1-β1)``; npae does the same (see :func:`_lerp_`), because floating-point
arithmetic is not associative and a different order would drift from torch's last digits.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .backends import to_numpy
from .errors import NonFiniteError, StateDictError
from .module import FLOAT_DTYPES, Module, Parameter

__all__ = ["Optimizer", "Adam", "SGD", "clip_grad_norm_", "ReduceLROnPlateau"]


# ---------------------------------------------------------------------- argument checks
def _as_parameter_list(params, who: str) -> list[Parameter]:
    """``params`` (any iterable of Parameters, e.g. ``model.parameters()``) as a checked list."""
    if isinstance(params, Module):
        raise TypeError(f"{who} expects the parameters, not the module: pass model.parameters()")
    if isinstance(params, Parameter):
        raise TypeError(f"{who} expects an iterable of Parameters: pass [param], not param")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{who} expects an iterable of Parameters (e.g. model.parameters()), "
            f"got {type(params).__name__}"
        ) from None
    if not params:
        raise ValueError(
            f"{who} got an empty parameter list: build the model first and pass model.parameters()"
        )
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(
                f"{who} can only optimise npae Parameters, but item {i} is a {type(p).__name__}"
            )
        if p.data.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"{who}: parameter {i} has dtype {p.data.dtype}; it must be float32 or float64"
            )
        if id(p) in seen:
            raise ValueError(
                f"{who}: parameter {i} appears more than once in the list; it would be updated "
                "twice per step. Pass each parameter once"
            )
        seen.add(id(p))
    return params


def _real(name: str, value) -> float:
    """``value`` as a Python float (NumPy scalars would upcast float32 arrays), or TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_lr(lr) -> float:
    lr = _real("lr", lr)
    if not lr >= 0.0:  # also rejects NaN
        raise ValueError(f"Invalid learning rate: {lr}. lr must be >= 0 (Adam's usual is 1e-3)")
    return lr


def _check_weight_decay(weight_decay) -> float:
    weight_decay = _real("weight_decay", weight_decay)
    if not weight_decay >= 0.0:
        raise ValueError(
            f"Invalid weight_decay value: {weight_decay}. weight_decay must be >= 0 "
            "(0 switches it off; 1e-5 to 1e-2 are typical)"
        )
    return weight_decay


# ---------------------------------------------------------------------- shared arithmetic
def _effective_grad(p: Parameter, weight_decay: float, maximize: bool, out, tmp) -> np.ndarray:
    """Equations (Adam 1)–(Adam 2), the same as (SGD 1)–(SGD 2): the gradient the update uses.

    ``p.grad`` itself is never written: when the gradient has to change, the result goes to
    ``out`` (``tmp`` is scratch); otherwise ``p.grad`` is returned as is, read-only by contract.
    """
    g = p.grad
    if maximize:
        g = np.negative(g, out=out)  # (Adam 1), (SGD 1) ascend instead of descend
    if weight_decay != 0:
        np.multiply(p.data, weight_decay, out=tmp)  # (Adam 2), (SGD 2) L2 penalty: g + λ·θ, torch's order
        g = np.add(g, tmp, out=out)
    return g


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """``start ← start + weight·(end - start)`` in place, computed as torch's ``lerp_`` does.

    For ``|weight| < 0.5`` torch uses ``start + w·(end - start)``; otherwise the mirror image
    ``end - (1-w)·(end - start)``, which is more accurate when ``w`` is close to 1.
    """
    np.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(end, tmp, out=start)


def _to_numpy(value):
    """A torch tensor (e.g. from a torch optimiser's state_dict) as NumPy; anything else as it is."""
    return to_numpy(value) if hasattr(value, "detach") else value


# ---------------------------------------------------------------------- the base class
class Optimizer:
    """Base class: the parameter list, ``zero_grad``, ``step`` and the state dict.

    Subclasses define ``_check_hyperparams(**kwargs) -> dict`` (validated hyper-parameters, which
    become attributes such as ``opt.lr``), ``_fresh_state(p, hyper)`` (one parameter's initial
    state under those hyper-parameters: a dict of arrays and counters) and ``_update(p, state)``
    (one parameter's step).
    """

    def __init__(self, params, **hyperparams):
        who = type(self).__name__
        self.params: list[Parameter] = _as_parameter_list(params, who)
        self._hyperparam_names = tuple(hyperparams)
        hyper = self._check_hyperparams(**hyperparams)
        for name, value in hyper.items():
            setattr(self, name, value)
        self.state: list[dict] = [self._fresh_state(p, hyper) for p in self.params]

    # subclasses fill these in
    def _check_hyperparams(self, **hyperparams) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fresh_state(self, p: Parameter, hyper: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, p: Parameter, state: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    @property
    def hyperparams(self) -> dict:
        """The current hyper-parameters by name (``lr``, ``betas``, ...)."""
        return {name: getattr(self, name) for name in self._hyperparam_names}

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero, in place (the arrays keep their identity)."""
        for p in self.params:
            p.grad[...] = 0

    def step(self) -> None:
        """Update every parameter once from its current ``grad``."""
        for p, state in zip(self.params, self.state):
            self._update(p, state)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """A copy of the optimiser's state, laid out as torch's ``Optimizer.state_dict()``.

        ``{"state": {i: {...}}, "param_groups": [{<hyper-parameters>, "params": [0, 1, ...]}]}``,
        with ``i`` the parameter's position in ``params``; arrays are copies, step counts ints.
        Together with the model's ``state_dict`` it is what training needs to resume.
        """
        state = {
            i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for i, s in enumerate(self.state)
            if s  # torch leaves out parameters without state (plain SGD keeps none)
        }
        group = dict(self.hyperparams, params=list(range(len(self.params))))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore the hyper-parameters and state saved by :meth:`state_dict`, after checking them.

        Arrays are copied and cast to each parameter's dtype (torch tensors are accepted too, so a
        ``torch.optim`` state dict of the same layout loads).  A parameter with no entry in
        ``"state"`` starts afresh, as in torch.  Extra keys in the group (torch's ``foreach``,
        ``fused`` ...) are ignored.  Nothing changes unless the whole dict is valid.
        """
        who = type(self).__name__
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            raise StateDictError(
                f"{who}.load_state_dict expects the dict made by state_dict(), with exactly the "
                "keys 'state' and 'param_groups'"
            )
        groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or len(groups) != 1:
            raise StateDictError(
                f"{who} has one parameter group; 'param_groups' must be a list holding one dict"
            )
        if not isinstance(saved_state, Mapping):
            raise StateDictError("'state' must map parameter indices to dicts")
        group = groups[0]
        if not isinstance(group, Mapping):
            raise StateDictError(f"the param group must be a dict, got {type(group).__name__}")
        n = len(self.params)
        if len(group.get("params", ())) != n:
            raise StateDictError(
                f"the state dict was saved for {len(group.get('params', ()))} parameters, but this "
                f"{who} has {n}; build the optimiser from the same model.parameters()"
            )
        missing = [k for k in self._hyperparam_names if k not in group]
        if missing:
            raise StateDictError(f"the state dict's param group lacks {', '.join(missing)}")
        try:
            hyper = self._check_hyperparams(**{k: group[k] for k in self._hyperparam_names})
        except (TypeError, ValueError) as e:
            raise StateDictError(f"the state dict holds an invalid hyper-parameter: {e}") from None

        # torch keys the state by each parameter's index in the group's "params" list
        index = {pid: i for i, pid in enumerate(group["params"])}
        saved = {}
        for pid, s in saved_state.items():
            if pid not in index:
                raise StateDictError(f"state entry {pid!r} names no parameter of the param group")
            if not isinstance(s, Mapping):
                raise StateDictError(f"state entry {pid!r} must be a dict, got {type(s).__name__}")
            saved[index[pid]] = s
        staged = []
        for i, p in enumerate(self.params):
            fresh = self._fresh_state(p, hyper)
            if i not in saved:
                staged.append(fresh)
                continue
            s = saved[i]
            if set(s) != set(fresh):
                raise StateDictError(
                    f"state of parameter {i} has keys {sorted(s)}; {who} with these settings "
                    f"needs {sorted(fresh)}"
                )
            staged.append({k: self._check_state_value(i, p, k, s[k], fresh[k]) for k in fresh})
        for name, value in hyper.items():
            setattr(self, name, value)
        self.state = staged

    @staticmethod
    def _check_state_value(i, p, key, value, fresh):
        value = _to_numpy(value)
        if key == "step":
            step = float(np.asarray(value))
            if not (step >= 0 and step.is_integer()):
                raise StateDictError(
                    f"state of parameter {i}: step must be a count >= 0, got {value!r}"
                )
            return int(step)
        if fresh is None and value is None:  # SGD's momentum buffer before its first step
            return None
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise StateDictError(f"state of parameter {i}: '{key}' holds {arr.dtype}, not numbers")
        if arr.shape != p.data.shape:
            raise StateDictError(
                f"state of parameter {i}: '{key}' has shape {arr.shape}, "
                f"but the parameter has shape {p.data.shape}"
            )
        return np.array(arr, dtype=p.data.dtype, copy=True)

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


# ---------------------------------------------------------------------- Adam
class Adam(Optimizer):
    """``torch.optim.Adam`` (with ``foreach=False``) in NumPy.

    For each parameter θ with gradient ∇ (from ``p.grad``), at step t = 1, 2, ...::

        (Adam 1) g = -∇ if maximize else ∇
        (Adam 2) g ← g + λ·θ                          weight_decay λ ≠ 0: L2 in the gradient (not AdamW)
        (Adam 3) m ← β1·m + (1-β1)·g                  first moment  (torch: m.lerp_(g, 1-β1))
        (Adam 4) v ← β2·v + (1-β2)·g²                 second moment
        (Adam 5) v_max ← max(v_max, v)                amsgrad only; v_max then replaces v in (Adam 6)
        (Adam 6) denom = √v / √(1-β2^t) + ε           bias-corrected root, then ε (module docstring)
        (Adam 7) θ ← θ - (lr / (1-β1^t)) · m / denom  step_size = lr / (1-β1^t) is one scalar

    ``m``, ``v`` (and ``v_max``) start at zero and keep the parameter's dtype; the state dict
    names them as torch does: ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``, ``step``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def _check_hyperparams(self, lr, betas, eps, weight_decay, amsgrad, maximize) -> dict:
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        betas = (_real("betas[0]", beta1), _real("betas[1]", beta2))
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(
                    f"Invalid beta parameter at index {i}: {b}. Both betas must lie in [0, 1); "
                    "the usual choice is betas=(0.9, 0.999)"
                )
        eps = _real("eps", eps)
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}. eps must be >= 0 (the usual is 1e-8)")
        return {"lr": _check_lr(lr), "betas": betas, "eps": eps,
                "weight_decay": _check_weight_decay(weight_decay),
                "amsgrad": _flag("amsgrad", amsgrad), "maximize": _flag("maximize", maximize)}

    def _fresh_state(self, p: Parameter, hyper: dict) -> dict:
        state = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
        if hyper["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _update(self, p: Parameter, state: dict) -> None:
        beta1, beta2 = self.betas
        m, v = state["exp_avg"], state["exp_avg_sq"]
        buf = np.empty_like(p.data)  # holds g (if it differs from p.grad), later the update
        tmp = np.empty_like(p.data)  # scratch: differences, products, then the denominator

        g = _effective_grad(p, self.weight_decay, self.maximize, out=buf, tmp=tmp)  # (Adam 1), (Adam 2)
        state["step"] += 1
        t = state["step"]

        _lerp_(m, g, 1.0 - beta1, tmp)  # (Adam 3) m ← m + (1-β1)·(g - m)
        v *= beta2  # (Adam 4) v ← β2·v + ((1-β2)·g)·g, in torch's order
        np.multiply(g, 1.0 - beta2, out=tmp)
        tmp *= g
        v += tmp

        bias_correction1 = 1.0 - beta1**t  # Python floats, as in torch: no float64 upcast
        bias_correction2 = 1.0 - beta2**t
        step_size = self.lr / bias_correction1
        if self.amsgrad:
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)  # (Adam 5) the largest raw second moment so far
            v = v_max

        denom = np.sqrt(v, out=tmp)  # (Adam 6) denom = √v / √(1-β2^t) + ε
        denom /= bias_correction2**0.5
        denom += self.eps
        update = np.multiply(m, -step_size, out=buf)  # (Adam 7) θ ← θ + (-step_size·m) / denom
        update /= denom
        p.data += update


# ---------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """``torch.optim.SGD`` (with ``foreach=False``) in NumPy.

    For each parameter θ with gradient ∇ (from ``p.grad``)::

        (SGD 1) g = -∇ if maximize else ∇
        (SGD 2) g ← g + λ·θ                          if weight_decay λ ≠ 0
        (SGD 3) b = g  (a copy)                      momentum μ ≠ 0, first step: no dampening
            b ← μ·b + (1-τ)·g                    momentum μ ≠ 0, later steps (dampening τ)
        (SGD 4) g ← g + μ·b   if nesterov, else g ← b      (momentum μ ≠ 0 only)
        (SGD 5) θ ← θ - lr·g

    The state dict names the buffer ``momentum_buffer``, as torch does (None before step 1);
    without momentum there is no state at all.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)

    def _check_hyperparams(self, lr, momentum, dampening, weight_decay, nesterov, maximize) -> dict:
        momentum = _real("momentum", momentum)
        if not momentum >= 0.0:
            raise ValueError(
                f"Invalid momentum value: {momentum}. momentum must be >= 0 (0 switches it off; "
                "0.9 is usual)"
            )
        dampening = _real("dampening", dampening)
        nesterov = _flag("nesterov", nesterov)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening "
                f"(got momentum={momentum}, dampening={dampening}): set momentum > 0 "
                "(e.g. 0.9) and dampening=0, or nesterov=False"
            )
        return {"lr": _check_lr(lr), "momentum": momentum, "dampening": dampening,
                "weight_decay": _check_weight_decay(weight_decay), "nesterov": nesterov,
                "maximize": _flag("maximize", maximize)}

    def _fresh_state(self, p: Parameter, hyper: dict) -> dict:
        return {"momentum_buffer": None} if hyper["momentum"] != 0 else {}

    def _update(self, p: Parameter, state: dict) -> None:
        buf = np.empty_like(p.data)  # holds g when it differs from p.grad
        tmp = np.empty_like(p.data)  # scratch products
        g = _effective_grad(p, self.weight_decay, self.maximize, out=buf, tmp=tmp)  # (SGD 1), (SGD 2)

        mu = self.momentum
        if mu != 0:
            b = state["momentum_buffer"]
            if b is None:
                b = state["momentum_buffer"] = g.copy()  # (SGD 3) first step: b = g
            else:
                b *= mu  # (SGD 3) b ← μ·b + (1-τ)·g
                np.multiply(g, 1.0 - self.dampening, out=tmp)
                b += tmp
            if self.nesterov:
                np.multiply(b, mu, out=tmp)  # (SGD 4) g ← g + μ·b
                g = np.add(g, tmp, out=buf)
            else:
                g = b  # (SGD 4) g ← b

        np.multiply(g, -self.lr, out=tmp)  # (SGD 5) θ ← θ + (-lr)·g
        p.data += tmp


# ---------------------------------------------------------------------- gradient clipping
def clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm`` (in place).

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``-norm of the
    per-parameter norms (= the norm of all gradients concatenated; ``norm_type=inf`` gives the
    largest absolute entry), every gradient is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)``, and the total norm *before* clipping is returned.
    The 1e-6 keeps the division finite when every gradient is zero.

    ``params``: a Parameter or an iterable of them (e.g. ``model.parameters()``).  With
    ``error_if_nonfinite=True`` a NaN or infinite norm raises :class:`~npae.errors.NonFiniteError`
    and leaves the gradients untouched; otherwise (as torch) they are scaled by the non-finite
    coefficient.
    """
    if isinstance(params, Parameter):
        params = [params]
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(
                f"clip_grad_norm_ expects npae Parameters, but item {i} is a {type(p).__name__}"
            )
    max_norm = _real("max_norm", max_norm)
    if not max_norm >= 0.0:
        raise ValueError(f"max_norm must be >= 0 (it is the largest norm allowed), got {max_norm}")
    norm_type = float(norm_type)  # accepts 'inf', as torch does
    if not norm_type > 0.0:
        raise ValueError(f"norm_type must be a positive number or inf, got {norm_type}")
    if not params:
        return 0.0

    grads = [p.grad for p in params]
    norms = [np.linalg.vector_norm(g, ord=norm_type) for g in grads]
    total_norm = np.linalg.vector_norm(np.array(norms), ord=norm_type)  # in the grads' dtype
    if error_if_nonfinite and not np.isfinite(total_norm):
        bad = [i for i, g in enumerate(grads) if not np.isfinite(g).all()]
        where = f"parameter(s) {bad} hold NaN or infinity" if bad else "the norm overflowed"
        raise NonFiniteError(
            f"The total norm of order {norm_type} of the gradients is {total_norm} ({where}), so "
            "they cannot be clipped. Look for a diverging loss (lower the learning rate, check "
            "the data for NaN), or pass error_if_nonfinite=False to scale them anyway"
        )
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef_clamped = np.minimum(clip_coef, 1.0)  # never scale up; NaN stays NaN, as in torch
    for g in grads:
        g *= clip_coef_clamped
    return float(total_norm)


# ---------------------------------------------------------------------- learning-rate schedule
def _lr_of(optimizer) -> float:
    """The learning rate of an npae optimiser (``.lr``) or a torch one (its one param group)."""
    if hasattr(optimizer, "param_groups"):
        return float(optimizer.param_groups[0]["lr"])
    return float(optimizer.lr)


def _set_lr(optimizer, lr: float) -> None:
    if hasattr(optimizer, "param_groups"):
        for group in optimizer.param_groups:
            group["lr"] = lr
    else:
        optimizer.lr = lr


class ReduceLROnPlateau:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau``: lower the learning rate when a monitored
    value stops improving.

    Call ``step(value)`` once per epoch with the monitored value (a validation loss).  With
    ``mode="min"``, ``best`` the best value so far (``inf`` at the start) and τ = ``threshold``::

        (Plateau 1) better  ⇔  value < best·(1 - τ)     threshold_mode "rel"   ("max": value > best·(1 + τ))
                        value < best - τ         threshold_mode "abs"   ("max": value > best + τ)
        (Plateau 2) better:  best ← value, bad ← 0;   else  bad ← bad + 1
        (Plateau 3) in cooldown (counter > 0):  counter ← counter - 1, bad ← 0
        (Plateau 4) bad > patience:  lr_new = max(lr·factor, min_lr);  lr ← lr_new if lr - lr_new > eps;
                              counter ← cooldown, bad ← 0

    so the rate falls after ``patience + 1`` epochs without a relative improvement of τ, and the
    update is skipped when it would change the rate by no more than ``eps``.  The arguments,
    defaults and checks are torch's; ``optimizer`` is an npae optimiser (its ``lr`` attribute is
    changed) or a torch one (every param group's ``"lr"``).  ``get_last_lr()`` returns
    ``[lr]``; ``state_dict`` / ``load_state_dict`` save and restore the counters.
    ``tests/test_optim.py`` runs it beside torch's on the same sequences of values.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != 1:
                raise ValueError(f"expected 1 min_lr, got {len(min_lr)}")
            min_lr = min_lr[0]
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.min_lr, self.eps = int(cooldown), float(min_lr), float(eps)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [_lr_of(optimizer)]
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """(Plateau 1)."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics) -> None:
        """One epoch's monitored value: (Plateau 2)–(Plateau 4)."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):       # (Plateau 2)
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:                          # (Plateau 3)
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:       # (Plateau 4)
            old = _lr_of(self.optimizer)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                _set_lr(self.optimizer, new)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [_lr_of(self.optimizer)]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    _STATE = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr",
              "eps", "mode_worse", "last_epoch", "best", "cooldown_counter", "num_bad_epochs",
              "_last_lr")

    def state_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in ((k, getattr(self, k)) for k in self._STATE)}

    def load_state_dict(self, state_dict: Mapping) -> None:
        missing = [k for k in self._STATE if k not in state_dict]
        if missing:
            raise StateDictError(f"ReduceLROnPlateau.load_state_dict: missing {', '.join(missing)}")
        for k in self._STATE:
            setattr(self, k, list(state_dict[k]) if k == "_last_lr" else state_dict[k])

    def __repr__(self):
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor:g}, "
                f"patience={self.patience}, threshold={self.threshold:g}, lr={self._last_lr[0]:g})")
