"""The training loop, one for both backends: an npae autoencoder or its PyTorch twin.

    history = fit(model, windows, epochs=50, batch_size=32, lr=1e-3, seed=42)

The loop is the tutorial's (shuffled mini-batches, MSE between a window and its reconstruction,
Adam at 1e-3) written once; what differs between the backends — the forward, the backward and the
optimiser step — sits behind a small *stepper* object:

* an npae model (:class:`npae.module.Module`): :class:`npae.losses.MSELoss`, the model's own
  ``backward``, :class:`npae.optim.Adam` / :class:`npae.optim.SGD`, :func:`npae.optim.clip_grad_norm_`;
* a torch model (a ``reference`` twin or the tutorial's own class): torch autograd and
  ``torch.optim``, in :mod:`reference.train` — reached through :mod:`npae.backends` only when
  such a model arrives, so ``import npae`` never imports torch.

Per epoch, with windows ``x (n, T, D)`` and batches of ``B``::

    (Fit 1)  order ← a permutation of the n training windows, drawn from one Generator(seed);
          a last batch of one window joins the batch before it (training_batches)
    (Fit 2)  for each batch b:  L_b = (1 / (B·T·D)) Σ (x̂ - x)²         (the loss of npae.losses)
    (Fit 3)                     ∇ ← ∂L_b/∂θ;  ∇ ← clip(∇, clip)       (when ``clip`` is given)
    (Fit 4)                     θ ← optimiser step(θ, ∇)
    (Fit 5)  train_loss = mean_b L_b        (the tutorial's epoch loss: a mean over batches)
    (Fit 6)  val_loss   = MSE over the held-out windows, no update     (when ``val_fraction`` > 0)
    (Fit 7)  budget: max(epochs, ⌈min_steps / steps per epoch⌉) epochs, at most ``max_steps`` steps
          (``epochs=None``: ``max_steps`` steps, unless early stopping ends training sooner)
    (Fit 8)  lr ← ReduceLROnPlateau(lr, monitored loss)                 (when ``lr_patience`` is set)
    (Fit 9)  stop with TrainingDivergedError when a loss is not finite or train_loss exceeds
          100 × max(first batch loss, mean x²)

The batch order comes from :func:`npae.data.iterate_batches` with one ``numpy.random.Generator``
seeded by ``seed``, independent of the backend: two models trained with the same ``seed`` see the
same batches in the same order, so an npae model and its torch twin, started from the same
weights (``reference.to_torch``), train in lockstep.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_finite, is_int
from .backends import is_torch_model, torch_stepper
from .data import iterate_batches
from .errors import DataError, ShapeError, TrainingDivergedError
from .module import Module, as_generator

__all__ = ["History", "fit", "OPTIMIZERS", "STOP_REASONS", "DIVERGE_FACTOR", "steps_per_epoch",
           "training_batches"]

OPTIMIZERS = ("adam", "sgd")


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------

STOP_REASONS = ("epochs", "max_steps", "early_stopping", "callback")


@dataclass
class History:
    """What training did, one entry per epoch.

    ``train_loss``: (Fit 5) the mean of the batch losses of the epoch;
    ``val_loss``: (Fit 6) the loss on the held-out windows after the epoch (empty without a
    validation split); ``lr``: the learning rate the epoch trained with (it changes only with
    ``lr_patience``, (Fit 8)); ``seconds``: wall time of the epoch.  ``steps``: optimiser steps in
    all.  ``best_epoch`` (0-based) is the epoch whose weights the model holds at the end when
    early stopping restored them, else the last; ``stopped_early`` says whether ``patience``
    ended training before its budget; ``stop_reason`` is one of :data:`STOP_REASONS`:
    ``"epochs"`` (the epoch budget ran out), ``"max_steps"``, ``"early_stopping"``,
    ``"callback"``.
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    steps: int = 0
    stop_reason: str | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def final_loss(self) -> float:
        """The last epoch's training loss (NaN before any epoch)."""
        return self.train_loss[-1] if self.train_loss else math.nan

    @property
    def best_val_loss(self) -> float:
        """The smallest validation loss (NaN without a validation split)."""
        return float(min(self.val_loss)) if self.val_loss else math.nan

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    def to_dict(self) -> dict:
        """Plain JSON-able dict: ``train_loss``, ``val_loss``, ``seconds``, ``lr`` (lists of
        floats), ``best_epoch``, ``stopped_early``, ``steps``, ``stop_reason``."""
        return {
            "train_loss": [float(v) for v in self.train_loss],
            "val_loss": [float(v) for v in self.val_loss],
            "seconds": [float(v) for v in self.seconds],
            "lr": [float(v) for v in self.lr],
            "best_epoch": self.best_epoch,
            "stopped_early": bool(self.stopped_early),
            "steps": int(self.steps),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d) -> "History":
        """The inverse of :meth:`to_dict`; keys missing in older files take their defaults."""
        if not isinstance(d, dict):
            raise DataError(f"History.from_dict needs a dict, got {type(d).__name__}")
        try:
            reason = d.get("stop_reason")
            if reason is not None and reason not in STOP_REASONS:
                raise ValueError(f"unknown stop_reason {reason!r}")
            return cls(
                train_loss=[float(v) for v in d.get("train_loss", [])],
                val_loss=[float(v) for v in d.get("val_loss", [])],
                seconds=[float(v) for v in d.get("seconds", [])],
                lr=[float(v) for v in d.get("lr", [])],
                best_epoch=None if d.get("best_epoch") is None else int(d["best_epoch"]),
                stopped_early=bool(d.get("stopped_early", False)),
                steps=int(d.get("steps", 0)),
                stop_reason=reason,
            )
        except (TypeError, ValueError) as e:
            raise DataError(f"History.from_dict: not a training history ({e})") from None


# ---------------------------------------------------------------------------------------------
# The npae stepper (the torch one is reference.train.TorchStepper, same four methods)
# ---------------------------------------------------------------------------------------------

class NumpyStepper:
    """(Fit 2)–(Fit 4) for an npae autoencoder: MSELoss, the model's backward, an npae optimiser."""

    backend = "numpy"

    def __init__(self, model, windows, optimizer="adam", lr=1e-3, clip=None):
        from .losses import MSELoss
        from .optim import SGD, Adam

        self.model = model
        self.x = np.ascontiguousarray(windows, dtype=model.dtype)
        self.loss_fn = MSELoss()
        params = list(model.parameters())
        self.optimizer = Adam(params, lr=lr) if optimizer == "adam" else SGD(params, lr=lr)
        self.params = params
        self.clip = clip

    def train_step(self, idx) -> float:
        """One update on the windows ``idx``; returns the batch loss before the update."""
        from .optim import clip_grad_norm_

        xb = self.x[idx]
        self.optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):
            x_hat = self.model.forward(xb)             # (A1)–(A5)
            if not np.isfinite(x_hat).all():           # diverged weights: report, don't update
                return float(np.mean((x_hat - xb) ** 2))
            loss = float(self.loss_fn.forward(x_hat, xb))  # (Fit 2)
        if not math.isfinite(loss):
            return loss                                # the loop raises; no update with NaN
        self.model.backward(self.loss_fn.backward())   # (Fit 3)
        if self.clip is not None:
            clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()                          # (Fit 4)
        return loss

    def eval_loss(self, idx, batch_size=1024) -> float:
        """(Fit 6) MSE over the windows ``idx``, no update, computed in batches."""
        total, count = 0.0, 0
        for s in range(0, len(idx), batch_size):
            xb = self.x[idx[s:s + batch_size]]
            x_hat = self.model.reconstruct(xb, batch_size)
            total += float(np.sum((x_hat.astype(np.float64) - xb) ** 2))
            count += xb.size
        return total / count

    def snapshot(self):
        return self.model.state_dict()

    def restore(self, state) -> None:
        self.model.load_state_dict(state)


def make_stepper(model, windows, optimizer="adam", lr=1e-3, clip=None):
    """The stepper for ``model``'s backend (npae → :class:`NumpyStepper`, torch → reference's,
    through :mod:`npae.backends`)."""
    if isinstance(model, Module):
        return NumpyStepper(model, windows, optimizer, lr, clip)
    if is_torch_model(model):
        return torch_stepper(model, windows, optimizer, lr, clip)
    raise TypeError(
        f"fit() trains an npae autoencoder (npae.LSTMAutoencoder, npae.RNNAutoencoder) or a torch "
        f"model (reference.LSTMAutoencoder, ...); got {type(model).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------

def _positive_int(value, name) -> int:
    if not is_int(value, 1):
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_windows(windows) -> np.ndarray:
    x = np.asarray(windows)
    if x.dtype.kind not in "fiu":
        raise DataError(f"windows must hold numbers, got dtype {x.dtype}")
    if x.ndim != 3:
        hint = " (for univariate windows (n, T) use windows[..., None])" if x.ndim == 2 else ""
        raise ShapeError(f"windows must have shape (n, T, D), got {x.shape}{hint}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ShapeError(f"windows has an empty axis (shape {x.shape})")
    check_finite(x, "windows", "fill or drop missing values before windowing", verb="hold")
    return x


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------

DIVERGE_FACTOR = 100.0


def steps_per_epoch(n_train, batch_size) -> int:
    """Optimiser steps in one epoch of ``n_train`` windows (Fit 1): ⌈n_train / batch_size⌉, one
    fewer when the last batch would hold a single window (it joins the one before it; not with
    ``batch_size`` 1, where every batch is one window by choice)."""
    steps = -(-n_train // batch_size)
    if steps > 1 and batch_size > 1 and n_train % batch_size == 1:
        steps -= 1
    return steps


def training_batches(n_train, batch_size, rng):
    """(Fit 1) the epoch's batches: :func:`npae.data.iterate_batches`, except that a last batch of
    one window joins the batch before it (B + 1 windows).  Batch norm cannot normalise one row
    in training mode (torch raises, as :class:`npae.dense.BatchNorm1d` does), and a one-window
    step is a noisy update at full learning rate; the permutation drawn is the same.  With
    ``batch_size`` 1 nothing is merged."""
    batches = list(iterate_batches(n_train, batch_size, rng=rng))
    if len(batches) > 1 and batch_size > 1 and len(batches[-1]) == 1:
        batches[-2:] = [np.concatenate(batches[-2:])]
    return batches


def _epoch_budget(epochs, min_steps, max_steps, spe) -> int:
    """(Fit 7): ``epochs``, raised so that at least ``min_steps`` optimiser steps fit, capped so
    that no more than ``max_steps`` do; ``epochs=None``: as many epochs as ``max_steps`` need."""
    cap = None if max_steps is None else -(-max_steps // spe)
    if epochs is None:
        return cap
    n = epochs if min_steps is None else max(epochs, -(-min_steps // spe))
    return n if cap is None else min(n, cap)


def fit(model, windows, epochs=50, batch_size=32, lr=1e-3, optimizer="adam", clip=None,
        val_fraction=0.0, patience=None, seed=None, progress=False, callback=None, *,
        rng=None, desc=None, min_steps=None, max_steps=None, lr_patience=None, lr_factor=0.5,
        min_lr=0.0) -> History:
    """Train ``model`` to reconstruct ``windows (n, T, D)``; returns a :class:`History`.

    ``model``: an npae autoencoder or a torch one (a ``reference`` twin, the tutorial's class);
    it is trained in place, in its own dtype.  ``optimizer``: ``"adam"`` or ``"sgd"`` (plain, no
    momentum) at learning rate ``lr``.  ``clip``: clip the joint gradient norm to this value (Fit 3).

    ``val_fraction``: hold out the *last* fraction of the windows (the latest in time, not
    shuffled, as Keras' ``validation_split``) and report their loss after each epoch (Fit 6).
    ``patience``: stop when the monitored loss (validation if any, else training) has not
    improved for that many epochs, and put back the weights of the best epoch.

    The budget (Fit 7): ``epochs`` epochs, raised to as many as ``min_steps`` optimiser steps need
    (an epoch of a small data set is only a few steps; 24 windows at batch 16 are 2 steps), and
    never more than ``max_steps`` steps (training stops mid-epoch there).  ``epochs=None``: no
    epoch budget, ``max_steps`` (then required) or early stopping ends training.  Early stopping
    cannot end training before ``min_steps`` steps.

    (Fit 8) ``lr_patience``: multiply the learning rate by ``lr_factor`` (down to ``min_lr``) when
    the monitored loss has not improved for more than ``lr_patience`` epochs:
    :class:`npae.optim.ReduceLROnPlateau`, torch's semantics, stepped once per epoch.

    ``seed`` / ``rng``: the batch order (Fit 1) — the same seed gives the same batches for either
    backend.  ``progress``: a tqdm bar that advances once per epoch with the current losses
    (needs ``tqdm``; the command line turns it on).  ``callback(epoch, history)`` runs after each
    epoch (``epoch`` 0-based); returning ``True`` stops training.

    Raises :class:`~npae.errors.TrainingDivergedError` (a :class:`~npae.errors.NonFiniteError`)
    as soon as a batch loss is NaN or infinite, or an epoch's training loss exceeds
    ``DIVERGE_FACTOR`` (100) times the loss scale of the start, max(first batch loss, mean x²)
    (the loss of the untrained model and of the zero predictor: a model 100 times worse than
    predicting zero has diverged, as Adam at lr 1e3 does, ending at a loss of 1e7), saying to
    lower ``lr`` or set ``clip``.
    """
    if epochs is not None:
        epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not lr > 0 \
            or not math.isfinite(lr):
        raise DataError(f"lr must be a positive number, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise DataError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))
                             or not clip > 0 or not math.isfinite(clip)):
        raise DataError(f"clip must be None or a positive number (a gradient-norm bound such as "
                        f"1.0), got {clip!r}")
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if patience is not None:
        patience = _positive_int(patience, "patience")
    if min_steps is not None:
        min_steps = _positive_int(min_steps, "min_steps")
    if max_steps is not None:
        max_steps = _positive_int(max_steps, "max_steps")
    if min_steps is not None and max_steps is not None and min_steps > max_steps:
        raise DataError(f"min_steps ({min_steps}) must not exceed max_steps ({max_steps})")
    if epochs is None and max_steps is None:
        raise DataError("epochs=None (no epoch budget) needs max_steps, the number of optimiser "
                        "steps that ends training (e.g. max_steps=2000), or give epochs")
    if lr_patience is not None:
        if not is_int(lr_patience, 0):
            raise DataError(f"lr_patience must be None or an integer >= 0, got {lr_patience!r}")
        if not isinstance(lr_factor, (int, float)) or not 0 < lr_factor < 1:
            raise DataError(f"lr_factor must be in (0, 1), got {lr_factor!r}")
    x = _check_windows(windows)

    n = x.shape[0]
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and (n_val < 1 or n_val >= n):
        raise DataError(f"val_fraction={val_fraction} of {n} windows leaves "
                        f"{n - n_val} for training and {n_val} for validation; both need at "
                        f"least one window (use more data or another fraction)")
    n_train = n - n_val
    train_idx = np.arange(n_train)
    val_idx = np.arange(n_train, n)
    spe = steps_per_epoch(n_train, batch_size)
    n_epochs = _epoch_budget(epochs, min_steps, max_steps, spe)

    stepper = make_stepper(model, x, optimizer, float(lr), None if clip is None else float(clip))
    scheduler = None
    if lr_patience is not None:
        from .optim import ReduceLROnPlateau

        scheduler = ReduceLROnPlateau(stepper.optimizer, factor=float(lr_factor),
                                      patience=int(lr_patience), min_lr=float(min_lr))
    rng = as_generator(seed, rng)
    history = History()
    bar = _progress_bar(n_epochs, desc) if progress else None
    best, best_state, since_best = math.inf, None, 0
    scale = None  # (Fit 9) the loss scale of the start
    try:
        for epoch in range(n_epochs):
            start = time.perf_counter()
            lr_now = _current_lr(stepper, scheduler, lr)
            total, count = 0.0, 0
            for b, idx in enumerate(training_batches(n_train, batch_size, rng)):    # (Fit 1)
                loss = stepper.train_step(train_idx[idx])                            # (Fit 2)–(Fit 4)
                if not math.isfinite(loss):
                    raise TrainingDivergedError(
                        f"the training loss became {loss} at epoch {epoch + 1}, batch {b + 1} "
                        f"({stepper.backend} backend, lr={lr_now:g}); training diverged: lower "
                        f"the learning rate (e.g. lr={lr_now / 10:g}) or clip the gradients "
                        f"(clip=1.0), and check that the data is scaled"
                    )
                if scale is None:
                    scale = max(loss, float(np.mean(np.square(x[train_idx], dtype=np.float64))))
                total += loss
                count += 1
                history.steps += 1
                if max_steps is not None and history.steps >= max_steps:
                    break
            history.train_loss.append(total / count)                                 # (Fit 5)
            history.lr.append(lr_now)
            if history.train_loss[-1] > DIVERGE_FACTOR * scale:                      # (Fit 9)
                raise TrainingDivergedError(
                    f"training diverged: the loss of epoch {epoch + 1} is "
                    f"{history.train_loss[-1]:.4g}, more than {DIVERGE_FACTOR:g} times the "
                    f"{scale:.4g} of the untrained model ({stepper.backend} backend, "
                    f"{optimizer}, lr={lr_now:g}); lower the learning rate (e.g. "
                    f"lr={lr_now / 100:g}) or clip the gradients (clip=1.0)"
                )
            if n_val:
                history.val_loss.append(stepper.eval_loss(val_idx))                  # (Fit 6)
            history.seconds.append(time.perf_counter() - start)

            monitored = history.val_loss[-1] if n_val else history.train_loss[-1]
            if monitored < best:
                best, since_best = monitored, 0
                history.best_epoch = epoch
                if patience is not None:
                    best_state = stepper.snapshot()
            else:
                since_best += 1
            if scheduler is not None:
                scheduler.step(monitored)                                            # (Fit 8)
            if bar is not None:
                post = {"loss": f"{history.train_loss[-1]:.4g}"}
                if n_val:
                    post["val"] = f"{history.val_loss[-1]:.4g}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if callback is not None and callback(epoch, history) is True:
                history.stop_reason = "callback"
                break
            if max_steps is not None and history.steps >= max_steps:
                history.stop_reason = "max_steps"
                break
            if patience is not None and since_best >= patience \
                    and history.steps >= (min_steps or 0):
                history.stopped_early = epoch + 1 < n_epochs
                if history.stopped_early:
                    history.stop_reason = "early_stopping"
                break
    finally:
        if bar is not None:
            bar.close()
    if history.stop_reason is None:
        history.stop_reason = "epochs"
    if patience is not None and best_state is not None and history.best_epoch != history.epochs - 1:
        stepper.restore(best_state)
    elif patience is None:
        history.best_epoch = history.epochs - 1
    return history


def _current_lr(stepper, scheduler, lr) -> float:
    if scheduler is None:
        return float(lr)
    return float(scheduler.get_last_lr()[0])


def _progress_bar(epochs, desc, stream=None, interval=10.0):
    """Progress over epochs on stderr: a tqdm bar on a terminal, else plain lines.

    Piped, in CI or in a notebook log, a carriage-return bar shows nothing until it ends (or
    spams one line per refresh); there a :class:`LineProgress` prints one line every
    ``interval`` seconds (and at the end) instead.  None when tqdm is needed but not installed.
    """
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if not (isatty is not None and isatty()):
        return LineProgress(epochs, desc, stream, interval)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the cli extra
        return None
    return tqdm(total=epochs, desc=desc or "training", unit="epoch", file=stream,
                leave=True, dynamic_ncols=True)


class LineProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close``, as a line every ``interval`` seconds.

    ``lstm (numpy): epoch 12/50, loss=0.0213, val=0.0250, 31 s elapsed``
    """

    def __init__(self, total, desc=None, stream=None, interval=10.0, clock=time.monotonic):
        self.total, self.desc = total, desc or "training"
        self.stream = sys.stderr if stream is None else stream
        self.interval, self.clock = float(interval), clock
        self.n, self.postfix = 0, {}
        self.start = self.last = clock()
        self.printed_at = None  # the epoch count of the last line

    def set_postfix(self, postfix, refresh=False):
        self.postfix = dict(postfix)

    def update(self, k=1):
        self.n += k
        now = self.clock()
        if now - self.last >= self.interval:
            self._line(now)

    def _line(self, now):
        post = "".join(f", {k}={v}" for k, v in self.postfix.items())
        self.stream.write(f"{self.desc}: epoch {self.n}/{self.total}{post}, "
                          f"{now - self.start:.0f} s elapsed\n")
        self.stream.flush()
        self.last, self.printed_at = now, self.n

    def close(self):
        if self.n and self.printed_at != self.n:
            self._line(self.clock())
