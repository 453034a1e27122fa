"""The torch backend: the one module of npae that imports torch or ``reference`` (its PyTorch twins).

``reference`` depends on npae (its converters build npae models), so npae must never import it at
module level: that would be a cycle, and ``import npae`` would pull in torch, which is optional.
Every function here imports lazily, when a torch model is actually asked for, and raises
:class:`~npae.errors.MissingDependencyError` (an ``ImportError`` and an
:class:`~npae.errors.NpaeError`) saying how to install PyTorch when it is missing.

* :func:`import_reference` — the ``reference`` package, or that error;
* :func:`optional_torch` — ``torch`` when it and ``reference`` import, else ``None``;
* :func:`is_torch_model` — a ``torch.nn.Module``?, without importing torch;
* :func:`to_torch`, :func:`torch_stepper`, :func:`torch_reconstruct`, :func:`load_torch_state` —
  what the detector and the training loop need of a torch model;
* :func:`to_numpy` — a torch tensor (or anything array-like) as a NumPy array.
"""

import sys

import numpy as np

from .errors import MissingDependencyError

__all__ = ["import_reference", "optional_torch", "is_torch_model", "to_torch", "torch_stepper",
           "torch_reconstruct", "load_torch_state", "to_numpy"]


def import_reference(what):
    """The ``reference`` package (the PyTorch twins), or a :class:`MissingDependencyError` that says
    how to install PyTorch.  ``what``: the feature that needs it, for the message."""
    try:
        import reference
    except ImportError as e:
        raise MissingDependencyError(
            f"{what} needs PyTorch, which is not installed here ({e}); install the CPU build with "
            f"'pip install torch==2.13.0', or use the numpy backend") from None
    return reference


def optional_torch():
    """``torch`` if it (and the ``reference`` twins) can be imported, else ``None``: for a
    comparison with torch that is skipped, not an error, when torch is not installed."""
    try:
        import torch

        import reference  # noqa: F401
    except ImportError:
        return None
    return torch


def is_torch_model(model) -> bool:
    """True for a ``torch.nn.Module`` — without importing torch when it was never imported (a
    torch model cannot exist before torch is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def to_torch(model, what):
    """The ``reference`` twin of an npae model, its weights copied (``reference.to_torch``).
    ``what``: the feature that asked, for the message when torch is missing."""
    return import_reference(what).to_torch(model)


def torch_stepper(model, windows, optimizer="adam", lr=1e-3, clip=None):
    """``reference.train.TorchStepper`` for a torch model: the torch side of
    :func:`npae.train.fit` (autograd and ``torch.optim``)."""
    import_reference("training a torch model")
    from reference.train import TorchStepper

    return TorchStepper(model, windows, optimizer, lr, clip)


def torch_reconstruct(model, windows, batch_size=1024) -> np.ndarray:
    """A torch model's reconstruction of NumPy windows ``(n, T, D)``, in batches, without
    autograd, as NumPy (``reference.train.reconstruct``)."""
    import_reference("reconstructing with a torch model")
    from reference.train import reconstruct

    return reconstruct(model, windows, batch_size)


def load_torch_state(model, arrays) -> None:
    """Load NumPy arrays ``{name: array}`` into a torch model's ``load_state_dict`` (as tensors
    that own a copy of the data, so the arrays may be read-only or reused)."""
    import_reference("loading a torch model")
    import torch

    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})


def to_numpy(value) -> np.ndarray:
    """``value`` as a NumPy array: a torch tensor detached and copied to the CPU first (without
    importing torch: anything with ``detach`` is taken for a tensor), anything else through
    ``np.asarray`` (which may raise ``ValueError`` / ``TypeError`` for what it cannot hold)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
