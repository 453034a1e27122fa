"""The torch side of :func:`npae.train.fit`: one training step with autograd and ``torch.optim``.

:class:`TorchStepper` has the four methods of :class:`npae.train.NumpyStepper` (``train_step``,
``eval_loss``, ``snapshot``, ``restore``), so ``npae.train.fit`` runs the same loop, with the same
batch order, for an npae model and for its torch twin.  The arithmetic is the tutorial's:
``nn.MSELoss`` (mean), ``loss.backward()``, ``torch.nn.utils.clip_grad_norm_``, then
``torch.optim.Adam`` / ``SGD`` (single-tensor code path, as npae's optimisers).
"""

import copy

import numpy as np
import torch

from npae.backends import to_numpy

from .models import torch_dtype


def _model_dtype(model):
    for p in model.parameters():
        return p.dtype
    return torch.float32


class TorchStepper:
    """(F2)–(F4) of :mod:`npae.train` for a ``torch.nn.Module`` autoencoder ``x (B,T,D) → x̂``."""

    backend = "torch"

    def __init__(self, model, windows, optimizer="adam", lr=1e-3, clip=None):
        self.model = model
        dtype = _model_dtype(model)
        # the windows once, in the model's dtype (as the tutorial's FloatTensor)
        self.x = torch.from_numpy(np.ascontiguousarray(windows)).to(torch_dtype(dtype))
        self.loss_fn = torch.nn.MSELoss()
        params = [p for p in model.parameters() if p.requires_grad]
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=lr, foreach=False)
        else:
            self.optimizer = torch.optim.SGD(params, lr=lr, foreach=False)
        self.params = params
        self.clip = clip

    def train_step(self, idx) -> float:
        self.model.train()
        xb = self.x[torch.from_numpy(np.asarray(idx, dtype=np.int64))]
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(xb), xb)
        value = float(loss.detach())
        if not np.isfinite(value):
            return value  # the loop raises; no update with NaN
        loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        return value

    def eval_loss(self, idx, batch_size=1024) -> float:
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(idx), batch_size):
                xb = self.x[torch.from_numpy(np.asarray(idx[s:s + batch_size], dtype=np.int64))]
                total += float(torch.sum((self.model(xb).double() - xb.double()) ** 2))
                count += xb.numel()
        return total / count

    def snapshot(self):
        return copy.deepcopy(self.model.state_dict())

    def restore(self, state) -> None:
        self.model.load_state_dict(state)


def reconstruct(model, windows, batch_size=1024) -> np.ndarray:
    """``model(x)`` for NumPy windows ``(n, T, D)`` in batches, without autograd → NumPy ``x̂``."""
    dtype = torch_dtype(_model_dtype(model))
    x = np.asarray(windows)
    out = np.empty(x.shape, dtype=np.float32 if dtype == torch.float32 else np.float64)
    model.eval()
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[s:s + batch_size])).to(dtype)
            out[s:s + batch_size] = to_numpy(model(xb))
    return out
