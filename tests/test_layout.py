"""The package's layout: torch and ``reference`` are reached through ``npae.backends`` only.

``reference`` (the PyTorch twins) imports npae, so npae importing it at module level would be a
cycle, and would make ``import npae`` pull in torch, which is optional.  These tests hold the
rule: importing every npae module leaves torch and reference unimported (in a fresh interpreter),
no npae source file but ``backends.py`` names them in an import, and the backend's functions
fail with the install hint, not a traceback, when torch is missing.
"""

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import npae
from npae import backends
from npae.errors import MissingDependencyError, NpaeError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "npae"
# an import statement of torch or reference, or importlib naming one of them
IMPORT_RE = re.compile(r"^\s*(?:import|from)\s+(?:torch|reference)\b"
                       r"|import_module\(\s*['\"](?:torch|reference)\b", re.M)


def _python(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_import_npae_imports_neither_torch_nor_reference():
    r = _python("import npae, sys; "
                "assert 'torch' not in sys.modules and 'reference' not in sys.modules, "
                "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'reference'))")
    assert r.returncode == 0, r.stderr


def test_importing_every_npae_module_imports_neither_torch_nor_reference():
    """Not just the package: every module in it, the command-line ones and backends included
    (not ``npae.__main__``, which runs the command line when imported)."""
    names = sorted(m.name for m in pkgutil.walk_packages(npae.__path__, "npae.")
                   if m.name != "npae.__main__")
    assert {"npae.backends", "npae.commands.gradcheck", "npae.detector", "npae.train"} <= set(names)
    r = _python("import importlib, sys\n"
                f"for name in {names!r}:\n"
                "    importlib.import_module(name)\n"
                "    bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'reference'))\n"
                "    assert not bad, (name, bad)\n")
    assert r.returncode == 0, r.stderr


def test_only_backends_imports_torch_or_reference():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE / "backends.py" in sources and PACKAGE / "commands" / "gradcheck.py" in sources
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
                 for p in sources if p.name != "backends.py" or p.parent != PACKAGE
                 for m in IMPORT_RE.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert IMPORT_RE.search((PACKAGE / "backends.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("line, hit", [
    ("import torch", True), ("    from reference.train import reconstruct", True),
    ("        import reference  # noqa: F401", True), ("from torch import nn", True),
    ("m = importlib.import_module('torch')", True),
    ("``import npae`` never imports torch.", False), ("import torchvision_like_name", False),
    ("from .backends import to_torch", False), ("# see reference.to_torch", False),
])
def test_the_import_pattern(line, hit):
    """The pattern of the test above finds real imports and nothing else."""
    assert bool(IMPORT_RE.search(line)) is hit


def test_reference_imports_npae_in_either_order():
    """No cycle: reference (which imports npae) imports first or second in a fresh interpreter."""
    pytest.importorskip("torch")
    for code in ("import reference, npae", "import npae, reference",
                 "import npae.detector, reference.train"):
        r = _python(code + "; print(reference.LSTMAutoencoder.__name__)")
        assert r.returncode == 0 and r.stdout.strip() == "LSTMAutoencoder", (code, r.stderr)


def test_errors_holds_only_exceptions():
    """errors.py keeps the exception classes; the importer lives in backends (still reachable
    from the old place)."""
    import npae.errors as errors

    public = {k: v for k, v in vars(errors).items() if not k.startswith("_")}
    assert public and all(isinstance(v, type) and issubclass(v, Exception) for v in public.values())
    from npae.errors import import_reference

    assert import_reference is backends.import_reference
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        errors.nothing_here  # noqa: B018


# ------------------------------------------------------------------ the backend without torch

@pytest.fixture
def no_torch(monkeypatch):
    """``import torch`` and ``import reference`` raise ImportError, as on a machine without torch."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "reference", None)
    monkeypatch.setitem(sys.modules, "reference.train", None)


@pytest.mark.parametrize("call", [
    lambda: backends.import_reference("backend='torch'"),
    lambda: backends.to_torch(npae.RNNAutoencoder(1, 4, 2), "backend='torch'"),
    lambda: backends.torch_stepper(object(), np.zeros((4, 3, 1))),
    lambda: backends.torch_reconstruct(object(), np.zeros((4, 3, 1))),
    lambda: backends.load_torch_state(object(), {}),
])
def test_missing_torch_is_one_clear_error(no_torch, call):
    with pytest.raises(MissingDependencyError, match=r"needs PyTorch.*pip install torch==2\.13\.0") \
            as info:
        call()
    assert isinstance(info.value, ImportError) and isinstance(info.value, NpaeError)


def test_optional_torch_is_none_without_torch(no_torch):
    assert backends.optional_torch() is None


def test_is_torch_model_without_torch(no_torch):
    assert not backends.is_torch_model(npae.LSTMAutoencoder(1, 4, 2))
    assert not backends.is_torch_model(object())


# ------------------------------------------------------------------ torch → NumPy

class _FakeTensor:
    """What ``to_numpy`` asks of a tensor: ``detach().cpu().numpy()``, each step recorded."""

    def __init__(self, value):
        self.value, self.calls = np.asarray(value), []

    def detach(self):
        self.calls.append("detach")
        return self

    def cpu(self):
        self.calls.append("cpu")
        return self

    def numpy(self):
        self.calls.append("numpy")
        return self.value


def test_to_numpy_detaches_a_tensor_and_passes_arrays_through():
    t = _FakeTensor([[1.0, 2.0]])
    np.testing.assert_array_equal(backends.to_numpy(t), [[1.0, 2.0]])
    assert t.calls == ["detach", "cpu", "numpy"]
    a = np.arange(3.0)
    assert backends.to_numpy(a) is a
    np.testing.assert_array_equal(backends.to_numpy([1, 2]), [1, 2])
    with pytest.raises(ValueError):
        backends.to_numpy([[1.0], [2.0, 3.0]])  # ragged: np.asarray's own error


def test_to_numpy_on_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.arange(6.0, dtype=torch.float64, requires_grad=True).reshape(2, 3) * 2
    out = backends.to_numpy(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.arange(6.0).reshape(2, 3) * 2)
    assert backends.is_torch_model(torch.nn.Linear(2, 2))
    assert not backends.is_torch_model(x)
