"""``npae gradcheck``: every hand-written gradient against finite differences and against PyTorch.

For each layer (Linear, RNN with tanh, RNN with relu, LSTM, GRU; stacked and bidirectional ones) and
each autoencoder (RNN, LSTM, GRU, a stacked LSTM, the dense one with batch norm), on small random
shapes, the command prints one row per tensor — the input, the initial states of the recurrent
layers and every parameter — with two norm-wise relative errors (see :mod:`npae.gradcheck`):

* ``finite diff.``: npae's analytic gradient against central finite differences, always in
  float64 (:func:`npae.gradcheck.gradcheck_module` for Linear and the autoencoders,
  :func:`npae.gradcheck.gradcheck` — the function-style API a student can use on their own code —
  for the recurrent layers, whose loss also reads the final state);
* ``torch``: npae's gradient against ``torch.autograd`` on a torch model holding the same weights,
  in the chosen ``--dtype`` (shown as "—" when torch is not installed).

The scalar being differentiated is a *random* weighted sum of the outputs,
``L = Σ w ⊙ output (+ Σ w_h ⊙ h_n + Σ w_c ⊙ c_n for a layer)``, so a transposed or mis-summed
gradient cannot hide behind an all-ones upstream gradient.  Exit status 1 when any row fails.

The dense autoencoder runs in training mode (batch statistics, dropout 0 so that the function is
deterministic) on a batch of 4 windows.  There, a Linear bias right before a batch norm has a
gradient of exactly zero (the batch norm subtracts it again, docs/bptt.md section 7a): both
oracles return rounding noise for it, so its errors are measured against 1e-3 of the model's
largest gradient instead of its own size (and the finite differences get an absolute 1e-8).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

HELP = "check every hand-written gradient against finite differences and PyTorch autograd"
DESCRIPTION = (
    "For each layer (Linear, RNN tanh, RNN relu, LSTM, GRU, stacked/bidirectional) and each "
    "autoencoder (RNN, LSTM, GRU, stacked, dense), print every "
    "parameter's (and the input's) maximum relative gradient error against central finite "
    "differences and against PyTorch autograd, with a pass/fail column. Exit status 1 on a failure."
)

# shapes: small enough for finite differences to take milliseconds
T, B, D, H, L = 4, 2, 2, 3, 2
FD_EPS = 1e-5  # step of the central differences: truncation ~ε², rounding ~1e-16/ε
FD_RTOL = 1e-6  # with it a right backward agrees to ≤ 1e-7 (seeds 0–11: worst 6e-8); a bug gives ≥ 1e-2
TORCH_RTOL = {"float64": 1e-9, "float32": 1e-4}


def add_arguments(parser):
    parser.add_argument("--cell", choices=("rnn", "lstm", "gru", "dense", "all"), default="all",
                        help="which recurrent cell to check (Linear is checked with either; default all)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="dtype of the npae/torch comparison; finite differences always use "
                             "float64 (default float64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random shapes' values (default 0)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--impl", choices=("vectorized", "fast", "loop"), default="vectorized",
                        help="which tier of the recurrent layers and autoencoders to check: the plain "
                             "vectorised functions docs/bptt.md cites (default), the fast kernels, "
                             "or the per-step loops")


@dataclass
class Row:
    """One checked tensor."""

    model: str
    tensor: str
    shape: tuple
    fd_error: float
    fd_ok: bool
    torch_error: float | None = None
    torch_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.fd_ok and self.torch_ok


# ---------------------------------------------------------------------- the cases


def _cases(cell, impl="vectorized"):
    """``(label, kind, factory)``; ``factory(dtype)`` builds the module with fixed weights; the
    recurrent ones run the tier ``impl``."""
    from npae.autoencoder import GRUAutoencoder, LSTMAutoencoder, RNNAutoencoder
    from npae.dense import DenseAutoencoder
    from npae.gru import GRU
    from npae.linear import Linear
    from npae.lstm import LSTM
    from npae.rnn import RNN

    cases = [(f"Linear({H}→{D})", "linear", lambda dt: Linear(H, D, dtype=dt, seed=1))]
    if cell in ("rnn", "all"):
        cases += [
            (f"RNN tanh (D={D}, H={H})", "rnn", lambda dt: RNN(D, H, dtype=dt, seed=2, impl=impl)),
            (f"RNN relu (D={D}, H={H})", "rnn",
             lambda dt: RNN(D, H, nonlinearity="relu", dtype=dt, seed=3, impl=impl)),
        ]
    if cell in ("lstm", "all"):
        cases.append((f"LSTM (D={D}, H={H})", "lstm", lambda dt: LSTM(D, H, dtype=dt, seed=4, impl=impl)))
        cases.append((f"LSTM 2 layers bidirectional (D={D}, H={H})", "lstm",
                      lambda dt: LSTM(D, H, num_layers=2, bidirectional=True, dtype=dt, seed=7, impl=impl)))
    if cell in ("gru", "all"):
        cases.append((f"GRU (D={D}, H={H})", "rnn", lambda dt: GRU(D, H, dtype=dt, seed=8, impl=impl)))
        cases.append((f"GRU 2 layers bidirectional (D={D}, H={H})", "rnn",
                      lambda dt: GRU(D, H, num_layers=2, bidirectional=True, dtype=dt, seed=9, impl=impl)))
    if cell in ("rnn", "all"):
        cases.append((f"RNNAutoencoder (D={D}, H={H}, L={L})", "ae",
                      lambda dt: RNNAutoencoder(D, H, L, dtype=dt, seed=5, impl=impl)))
    if cell in ("lstm", "all"):
        cases.append((f"LSTMAutoencoder (D={D}, H={H}, L={L})", "ae",
                      lambda dt: LSTMAutoencoder(D, H, L, dtype=dt, seed=6, impl=impl)))
        cases.append((f"LSTMAutoencoder 2 layers (D={D}, H={H}, L={L})", "ae",
                      lambda dt: LSTMAutoencoder(D, H, L, num_layers=2, dtype=dt, seed=10, impl=impl)))
    if cell in ("gru", "all"):
        cases.append((f"GRUAutoencoder (D={D}, H={H}, L={L})", "ae",
                      lambda dt: GRUAutoencoder(D, H, L, dtype=dt, seed=11, impl=impl)))
    if cell in ("dense", "all"):
        cases.append((f"DenseAutoencoder (T={T}, D={D}, hidden [{H}, {L}, {H}])", "dense",
                      lambda dt: DenseAutoencoder(D, T, [H, L, H], dropout=0.0, dtype=dt, seed=12)))
    return cases


DENSE_B = 4  # batch norm in training mode needs a batch; B = 2 is ill-conditioned (docs/bptt.md 7a)


def _nk(module):
    """States per recurrent layer: num_layers · num_directions."""
    return module.num_layers * module.num_directions


def _inputs(kind, rng, module=None):
    """Random input (and initial states) plus the random output weights ``w`` of the loss.

    Initial states are ``(B, H)`` for a one-layer, one-direction layer and ``(num_layers·K, B, H)``
    otherwise."""
    if kind == "linear":  # Linear(H → D), applied at every step as output_fc is
        x = rng.standard_normal((B, T, H))
        return {"input": x}, {"y": rng.standard_normal((B, T, D))}
    if kind in ("ae", "dense"):
        b = DENSE_B if kind == "dense" else B
        x = rng.standard_normal((b, T, D))
        return {"input": x}, {"y": rng.standard_normal((b, T, D))}
    nk = _nk(module)
    s = (B, H) if nk == 1 else (nk, B, H)
    arrays = {"input": rng.standard_normal((T, B, D)), "h_0": rng.standard_normal(s)}
    ws = {"y": rng.standard_normal((T, B, module.num_directions * H)), "h_n": rng.standard_normal(s)}
    if kind == "lstm":
        arrays["c_0"] = rng.standard_normal(s)
        ws["c_n"] = rng.standard_normal(s)
    return arrays, ws


def _hx(a):
    """A state as the layer takes it: ``(B, H)`` gets its leading layer axis."""
    return a[None] if a.ndim == 2 else a


def _unhx(a, like):
    return a[0] if like.ndim == 2 else a


def _npae_grads(module, kind, arrays, ws):
    """npae's analytic gradients of L = Σ w ⊙ outputs, by name (module's dtype)."""
    module.zero_grad()
    dt = module.dtype
    x = arrays["input"].astype(dt)
    if kind in ("linear", "ae", "dense"):
        module.forward(x)
        grads = {"input": module.backward(ws["y"].astype(dt))}
    elif kind == "rnn":
        module.forward(x, _hx(arrays["h_0"]).astype(dt))
        dx, dh0 = module.backward(ws["y"].astype(dt), _hx(ws["h_n"]).astype(dt))
        grads = {"input": dx, "h_0": _unhx(dh0, arrays["h_0"])}
    else:
        module.forward(x, (_hx(arrays["h_0"]).astype(dt), _hx(arrays["c_0"]).astype(dt)))
        dx, (dh0, dc0) = module.backward(ws["y"].astype(dt),
                                         (_hx(ws["h_n"]).astype(dt), _hx(ws["c_n"]).astype(dt)))
        grads = {"input": dx, "h_0": _unhx(dh0, arrays["h_0"]), "c_0": _unhx(dc0, arrays["c_0"])}
    grads.update({n: p.grad.copy() for n, p in module.named_parameters()})
    module.zero_grad()
    return grads


def _torch_grads(module, kind, arrays, ws, torch):
    """torch.autograd's gradients of the same L on a torch twin holding the same weights
    (``torch``: the module :func:`npae.backends.optional_torch` returned)."""
    from npae.backends import import_reference, to_numpy
    from npae.gru import GRU
    from npae.rnn import RNN

    reference = import_reference("the torch column")
    tdt = reference.torch_dtype(module.dtype)
    state = {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}
    if kind in ("ae", "dense"):
        twin = reference.to_torch(module)
    elif kind == "linear":
        twin = torch.nn.Linear(module.in_features, module.out_features).to(tdt)
    else:
        kw = dict(num_layers=module.num_layers, bidirectional=module.bidirectional)
        if isinstance(module, RNN):
            twin = torch.nn.RNN(module.input_size, module.hidden_size, nonlinearity=module.nonlinearity, **kw)
        else:
            twin = (torch.nn.GRU if isinstance(module, GRU) else torch.nn.LSTM)(module.input_size,
                                                                               module.hidden_size, **kw)
        twin = twin.to(tdt)
    if kind not in ("ae", "dense"):
        twin.load_state_dict(state)
    t = {k: torch.tensor(v, dtype=tdt, requires_grad=True) for k, v in arrays.items()}
    w = {k: torch.tensor(v, dtype=tdt) for k, v in ws.items()}
    if kind in ("linear", "ae", "dense"):
        loss = (twin(t["input"]) * w["y"]).sum()
    elif kind == "rnn":
        y, h_n = twin(t["input"], _hx(t["h_0"]))
        loss = (y * w["y"]).sum() + (h_n * _hx(w["h_n"])).sum()
    else:
        y, (h_n, c_n) = twin(t["input"], (_hx(t["h_0"]), _hx(t["c_0"])))
        loss = (y * w["y"]).sum() + (h_n * _hx(w["h_n"])).sum() + (c_n * _hx(w["c_n"])).sum()
    loss.backward()
    grads = {k: to_numpy(v.grad) for k, v in t.items()}
    grads.update({n: to_numpy(p.grad) for n, p in twin.named_parameters()})
    return grads


def _fd_report(module64, kind, arrays, ws, seed):
    """Finite differences in float64; a :class:`npae.gradcheck.GradcheckReport`."""
    from npae.gradcheck import gradcheck, gradcheck_module

    if kind in ("linear", "ae"):
        return gradcheck_module(module64, arrays["input"], eps=FD_EPS, rtol=FD_RTOL, seed=seed)
    if kind == "dense":  # atol: the zero gradients of the biases before batch norm (see above)
        return gradcheck_module(module64, arrays["input"], eps=FD_EPS, rtol=FD_RTOL, atol=1e-8, seed=seed)
    # a recurrent layer through the function-style API: the loss also reads h_n (and c_n)
    pnames = [n for n, _ in module64.named_parameters()]
    snames = [k for k in arrays if k != "input"]

    def split(args):
        x, states, params = args[0], args[1:1 + len(snames)], args[1 + len(snames):]
        for n, p in zip(pnames, params):
            getattr(module64, n).data[...] = p
        hx = _hx(states[0]) if kind == "rnn" else (_hx(states[0]), _hx(states[1]))
        return x, hx

    def f(*args):
        x, hx = split(args)
        y, state = module64.forward(x, hx)
        finals = [state] if kind == "rnn" else list(state)
        return np.concatenate([y.ravel()] + [s.ravel() for s in finals])

    def backward(w, *args):
        x, hx = split(args)
        module64.zero_grad()
        y, _ = module64.forward(x, hx)
        wy, rest = w[:y.size].reshape(y.shape), w[y.size:]
        like = arrays["h_0"]
        wstates = [_hx(r.reshape(like.shape)) for r in np.split(rest, len(snames))]
        dx, dstate = module64.backward(wy, wstates[0] if kind == "rnn" else tuple(wstates))
        dstates = [_unhx(dstate, like)] if kind == "rnn" else [_unhx(d, like) for d in dstate]
        return [dx] + dstates + [getattr(module64, n).grad.copy() for n in pnames]

    inputs = [arrays["input"]] + [arrays[k] for k in snames] + \
             [getattr(module64, n).data.copy() for n in pnames]
    return gradcheck(f, inputs, backward, names=["input"] + snames + pnames,
                     eps=FD_EPS, rtol=FD_RTOL, seed=seed)


def run_checks(cell="all", dtype="float64", seed=0, use_torch=True, impl="vectorized"):
    """Every row for ``cell`` ("rnn", "lstm", "gru", "dense" or "all") with the torch comparison
    in ``dtype``, the recurrent models on the tier ``impl`` ("vectorized", "fast" or "loop").

    Returns ``(rows, torch)``: a list of :class:`Row` and the torch module used (``None`` when
    ``use_torch`` is false or torch is not installed, leaving the torch column empty).
    """
    from npae.backends import optional_torch

    torch = optional_torch() if use_torch else None
    rows = []
    for label, kind, factory in _cases(cell, impl):
        rng = np.random.default_rng(seed)
        module = factory(np.dtype(dtype))
        arrays, ws = _inputs(kind, rng, module)
        module64 = factory(np.float64)  # the same weights, exactly: a float64 copy of module
        module64.load_state_dict(module.state_dict())
        report = _fd_report(module64, kind, arrays, ws, seed)
        floor = 0.0
        if kind == "dense":  # zero gradients before batch norm: a floor on the scale (see above)
            floor = 1e-3 * max(np.abs(g).max() for g in _npae_grads(module64, kind, arrays, ws).values())
        torch_err = {}
        if torch is not None:
            ours = _npae_grads(module, kind, arrays, ws)
            theirs = _torch_grads(module, kind, arrays, ws, torch)
            torch_err = {n: _floored_error(ours[n], theirs[n], floor) for n in ours}
        for c in report.checks:
            if floor:  # the same floor for the finite differences' column
                c.rel_error = c.max_abs_error / max(c.max_abs_error / max(c.rel_error, 1e-300), floor)
            e = torch_err.get(c.name)
            torch_ok = torch is None or (e is not None and e <= TORCH_RTOL[dtype])
            rows.append(Row(label, c.name, c.shape, c.rel_error, c.ok, e, torch_ok))
    return rows, torch


def _floored_error(a, b, floor):
    """:func:`npae.gradcheck.relative_error` with the scale at least ``floor``."""
    from npae.gradcheck import relative_error

    if not floor:
        return relative_error(a, b)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), floor))


def format_table(rows) -> str:
    """The rows as an aligned table with a ``result`` column (``pass`` / ``FAIL``)."""
    wm = max(len(r.model) for r in rows)
    wt = max(len(r.tensor) for r in rows)
    ws = max(len(str(r.shape)) for r in rows)
    head = f"{'model':<{wm}}  {'tensor':<{wt}}  {'shape':<{ws}}  {'finite diff.':>12}  {'torch':>9}  result"
    lines = [head, "-" * len(head)]
    prev = None
    for r in rows:
        model = r.model if r.model != prev else ""
        prev = r.model
        te = "—" if r.torch_error is None else f"{r.torch_error:.1e}"
        fd = f"{r.fd_error:.1e}" + ("" if r.fd_ok else "!")
        te += "" if r.torch_ok else "!"
        lines.append(f"{model:<{wm}}  {r.tensor:<{wt}}  {str(r.shape):<{ws}}  {fd:>12}  {te:>9}  "
                     f"{'pass' if r.ok else 'FAIL'}")
    return "\n".join(lines)


def _sci(v) -> str:
    return f"{v:.0e}".replace("e-0", "e-")


def run(args) -> int:
    t0 = time.perf_counter()
    rows, torch = run_checks(args.cell, args.dtype, args.seed, use_torch=not args.no_torch,
                             impl=args.impl)
    seconds = time.perf_counter() - t0
    print(f"npae gradcheck: cell={args.cell}, impl={args.impl}, dtype={args.dtype}, seed={args.seed}; "
          f"shapes T={T}, B={B}, D={D}, H={H}, L={L}")
    print("Each number is max|npae - other| / max(|npae|, |other|) over one tensor, for the loss "
          "L = Σ w⊙output (+ Σ w_h⊙h_n + Σ w_c⊙c_n for a layer) with random weights w.")
    print(f"  finite diff.: central differences (ε = {_sci(FD_EPS)}) in float64; pass below {_sci(FD_RTOL)}.")
    if torch is None and args.no_torch:
        print("  torch: skipped (--no-torch) — only finite differences are checked.")
    elif torch is None:
        print("  torch: torch not installed — only finite differences are checked "
              "(pip install torch to compare with PyTorch autograd too).")
    else:
        print(f"  torch: torch {torch.__version__} autograd on a twin with the same weights, in "
              f"{args.dtype}; pass below {_sci(TORCH_RTOL[args.dtype])}.")
    if args.dtype == "float32":
        print("  float32: finite differences cannot run in float32 (a step of 1e-5 would be swamped by "
              "float32's ~6e-8 relative rounding), so they run on a float64 copy of each model with the "
              "same weights; the torch column compares float32 npae with float32 torch, where "
              "rounding alone gives ~1e-6, hence its looser tolerance.")
    print()
    print(format_table(rows))
    failed = [r for r in rows if not r.ok]
    print()
    if failed:
        print(f"FAILED: {len(failed)} of {len(rows)} gradients ({seconds:.1f} s): "
              + ", ".join(f"{r.model} {r.tensor}" for r in failed))
        print("A failing row means the backward line for that tensor does not invert its forward "
              "equation: see docs/bptt.md.")
        return 1
    print(f"all {len(rows)} gradients pass ({seconds:.1f} s)")
    return 0
