"""Where the time of one LSTM-autoencoder training step goes (``python -m benchmarks.profile``).

Two measurements, combined:

1. **By function** — ``cProfile`` over many steps.  NumPy's ufuncs (``np.exp``, ``np.matmul``
   …) are not Python functions, so the profiler charges them to the Python function that calls
   them: ``lstm_scan`` is the forward time loop with everything in it, ``lstm_scan_backward`` the
   backward loop (with the gate derivatives computed before it), ``sum_over_steps`` the weight
   gradients' GEMMs after the loops, ``Adam.step`` the optimiser.
2. **Inside the loops** — every NumPy call of one forward and one backward step is replayed on
   arrays of the step's shapes (``timeit``, best of several), and once more on one-element arrays
   to get its fixed cost.  A call's time minus its fixed cost is its arithmetic; the fixed costs
   summed are the NumPy per-call overhead; what the loop measures beyond the sum of its calls is
   the Python interpreter (the ``for``, indexing, slicing) plus what the replay does not see: the
   loop reads and writes a fresh slice of the step arrays each step (cache misses), the replay
   the same small arrays again and again.

Reported shares of the step: matmuls in the loops, weight-gradient GEMMs, gate arithmetic (the
elementwise work in the loops and the gate derivatives), NumPy per-call overhead, Python
overhead, Adam, and the rest (Linear layers, MSE, projections, copies).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
import timeit
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from npae.autoencoder import LSTMAutoencoder, RNNAutoencoder  # noqa: E402


def _best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def _replay_forward(B, H, dtype, number):
    """Per-call seconds of one forward step of ``lstm_scan`` (encoder, inputs folded in: 8 calls)
    and the same calls on one-element arrays (their fixed cost).  Inputs are fixed arrays and
    results go to other arrays, so repeating a call never overflows; shapes and layouts are the
    loop's (a step's block [o; i; f; g; c_{t-1}], (5H, B))."""
    def calls(B, H):
        rng = np.random.default_rng(0)
        half = np.array(0.5, dtype)
        W = rng.standard_normal((4 * H, H + 2)).astype(dtype) * 0.1
        z = rng.standard_normal((H + 2, B)).astype(dtype)
        S, S2 = rng.random((5 * H, B)).astype(dtype), np.empty((5 * H, B), dtype)
        P = np.empty((2 * H, B), dtype)
        c, tc, h = (np.empty((H, B), dtype) for _ in range(3))
        return [
            ("matmul", lambda: np.matmul(W, z, out=S2[:4 * H])),
            ("tanh", lambda: np.tanh(S[:4 * H], out=S2[:4 * H])),
            ("multiply", lambda: np.multiply(S[:3 * H], half, out=S2[:3 * H])),
            ("add", lambda: np.add(S[:3 * H], half, out=S2[:3 * H])),
            ("multiply", lambda: np.multiply(S[H:3 * H], S[3 * H:], out=P)),
            ("add", lambda: np.add(P[:H], P[H:], out=c)),
            ("tanh", lambda: np.tanh(S[4 * H:], out=tc)),
            ("multiply", lambda: np.multiply(S[:H], S[4 * H:], out=h)),
        ]
    full = [(n, _best(f, number)) for n, f in calls(B, H)]
    tiny = [(n, _best(f, number * 4)) for n, f in calls(1, 1)]
    return full, tiny


def _replay_backward(B, H, dtype, number):
    """Per-call seconds of one step of ``lstm_scan_backward`` (with an upstream dy: 6 calls)."""
    def calls(B, H):
        rng = np.random.default_rng(0)
        W = rng.standard_normal((4 * H, H)).astype(dtype) * 0.1
        D, D_out = rng.standard_normal((5 * H, B)).astype(dtype), np.empty((5 * H, B), dtype)
        D5, D5_out = D.reshape(5, H, B), D_out.reshape(5, H, B)
        dh, dc, dy, f, out = (rng.random((H, B)).astype(dtype) for _ in range(5))
        WT = W.T
        return [
            ("add", lambda: np.add(dh, dy, out=out)),
            ("multiply", lambda: np.multiply(D5[:2], dh, out=D5_out[:2])),
            ("add", lambda: np.add(dc, D5[0], out=out)),
            ("multiply", lambda: np.multiply(D5[2:], dc, out=D5_out[2:])),
            ("multiply", lambda: np.multiply(dc, f, out=out)),
            ("matmul", lambda: np.matmul(WT, D[H:], out=dh)),
        ]
    full = [(n, _best(f, number)) for n, f in calls(B, H)]
    tiny = [(n, _best(f, number * 4)) for n, f in calls(1, 1)]
    return full, tiny


def _split(full, tiny):
    """(matmul seconds, elementwise arithmetic seconds, fixed per-call seconds) of one step."""
    mm = sum(t for n, t in full if n == "matmul")
    fixed = sum(t for _, t in tiny)
    elem = sum(max(t - t0, 0.0) for (n, t), (_, t0) in zip(full, tiny) if n != "matmul")
    mm_fixed = sum(t0 for (n, _), (_, t0) in zip(full, tiny) if n == "matmul")
    return mm - mm_fixed, elem, fixed


def profile_step(cell="lstm", B=32, T=50, H=32, L=16, dtype=np.float32, quick=False):
    """The breakdown of one training step (see the module docstring); returns a dict with the
    numbers and a printable ``text``."""
    if cell != "lstm":
        raise ValueError("the profile breaks down the LSTM's loops; use cell='lstm'")
    Model = LSTMAutoencoder if cell == "lstm" else RNNAutoencoder
    model = Model(1, H, L, dtype=dtype, seed=0)
    x = np.random.default_rng(0).standard_normal((B, T, 1)).astype(dtype)
    from .speed import training_step

    step = training_step(model, x)

    n = 20 if quick else 60
    for _ in range(5):
        step()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    total = float(np.median(times))

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        step()
    prof.disable()
    stats = pstats.Stats(prof).stats
    prof_total = sum(v[2] for v in stats.values())  # tottime summed = profiled wall time

    def cum(name, path_part=""):
        return sum(v[3] for (file, _, fn), v in stats.items() if fn == name and path_part in file) / n

    def tot(name, path_part=""):
        return sum(v[2] for (file, _, fn), v in stats.items() if fn == name and path_part in file) / n

    scale = total / (prof_total / n)  # the profiler's own overhead, spread evenly
    fwd_loop = tot("lstm_scan", "lstm.py") * scale
    bwd_all = cum("lstm_scan_backward", "lstm.py") * scale
    gate_derivs = cum("_gate_factors", "lstm.py") * scale
    bwd_loop = bwd_all - gate_derivs
    weight_gemms = cum("sum_over_steps", "layout.py") * scale
    adam = cum("step", "optim.py") * scale

    number = 300 if quick else 1000
    f_full, f_tiny = _replay_forward(B, H, dtype, number)
    b_full, b_tiny = _replay_backward(B, H, dtype, number)
    steps = 2 * T  # encoder and decoder
    f_mm, f_elem, f_fixed = _split(f_full, f_tiny)
    b_mm, b_elem, b_fixed = _split(b_full, b_tiny)
    f_py = max(fwd_loop / steps - sum(t for _, t in f_full), 0.0)
    b_py = max(bwd_loop / steps - sum(t for _, t in b_full), 0.0)
    parts = {
        "matmuls in the loops (h W_hh, dA W_hh)": steps * (f_mm + b_mm),
        "weight-gradient GEMMs after the loops": weight_gemms,
        "gate arithmetic in the loops (tanh, products)": steps * (f_elem + b_elem),
        "gate derivatives before the backward loop": gate_derivs,
        "NumPy per-call overhead in the loops": steps * (f_fixed + b_fixed),
        "Python + memory in the loops (beyond the calls' isolated cost)": steps * (f_py + b_py),
        "Adam": adam,
    }
    parts["everything else (Linear layers, MSE, projections, copies)"] = max(total - sum(parts.values()), 0.0)
    calls = {"forward_step": len(f_full), "backward_step": len(b_full)}
    lines = [f"Profile: one {cell.upper()} autoencoder training step, B={B}, T={T}, H={H}, L={L}, "
             f"{np.dtype(dtype).name}: {1e3 * total:.2f} ms (median of {n})",
             f"  NumPy calls per time step: forward {calls['forward_step']} (+1 add in the decoder), "
             f"backward {calls['backward_step']} (the encoder has no dy: {calls['backward_step'] - 1}); {steps} steps each way",
             f"  per step: forward loop {1e6 * fwd_loop / steps:.1f} µs (calls {1e6 * sum(t for _, t in f_full):.1f}),"
             f" backward loop {1e6 * bwd_loop / steps:.1f} µs (calls {1e6 * sum(t for _, t in b_full):.1f})"]
    for k, v in parts.items():
        lines.append(f"  {k:<58} {1e3 * v:7.2f} ms  {100 * v / total:5.1f} %")
    groups = {
        "matmuls": parts["matmuls in the loops (h W_hh, dA W_hh)"] + parts["weight-gradient GEMMs after the loops"],
        "gate arithmetic": parts["gate arithmetic in the loops (tanh, products)"]
        + parts["gate derivatives before the backward loop"],
        "Python + NumPy call overhead": parts["NumPy per-call overhead in the loops"]
        + parts["Python + memory in the loops (beyond the calls' isolated cost)"],
    }
    lines.append("  summary: " + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in groups.items())
                 + f", Adam {100 * adam / total:.0f} %, rest {100 * parts[list(parts)[-1]] / total:.0f} %")
    return {"cell": cell, "B": B, "T": T, "H": H, "L": L, "dtype": np.dtype(dtype).name,
            "step_s": total, "parts_s": parts, "groups_s": groups, "calls_per_step": calls,
            "forward_calls_s": f_full, "forward_calls_fixed_s": f_tiny,
            "backward_calls_s": b_full, "backward_calls_fixed_s": b_tiny,
            "text": "\n".join(lines)}


if __name__ == "__main__":  # pragma: no cover
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    p.add_argument("--config", default="seed", choices=("seed", "mid", "large"))
    p.add_argument("--float64", action="store_true")
    a = p.parse_args()
    from .speed import CONFIGS

    print(profile_step("lstm", *CONFIGS[a.config], dtype=np.float64 if a.float64 else np.float32)["text"])
