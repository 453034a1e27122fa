"""Speed: npae against PyTorch on the CPU, side by side, in one process.

    python -m benchmarks               # the full run (several minutes)
    python -m benchmarks --quick       # under a minute: fewer rounds, a smaller grid and series
    python -m benchmarks --out DIR     # where the JSON and the PNG go (default benchmarks/results)

What is timed, for the seed tutorial's autoencoders (input size D = 1):

* ``forward`` (training mode: npae keeps its cache, torch builds its graph), ``backward`` (after an
  untimed forward), ``step`` (zero_grad, forward, MSE, backward, Adam: one training step) and
  ``score`` (inference on one batch: ``reconstruct`` / ``torch.no_grad``);
* implementations: npae float32 and float64 (the vectorised code), npae *per-step* (the plain
  loops, ``impl="loop"`` layers composed into the same autoencoder, small sizes only) and PyTorch
  (the ``reference`` twins, same weights) with ``torch.set_num_threads`` 1 and 2;
* the issue's workloads: training steps at seed (B, T, H, L) = (32, 50, 32, 16), mid (128, 100,
  64, 32) and large (256, 200, 128, 64); scoring all windows (T = 50) of a 100,000-point series
  in batches of 1024 (``--quick``: a 20,000-point series); the demo's training (50 epochs of the
  1,000-point series, batch 32, both models), run with :func:`npae.train.fit` for both backends
  (``--quick``: estimated as the measured step time × the number of steps);
* a grid over T and H (training step, LSTM, B = 32) for the log-log plot;
* the model family's rows: training steps of the GRU autoencoder and of a stacked LSTM
  autoencoder (``num_layers=2``) at the seed and mid sizes (no target: measured beside the
  others).  ``python -m benchmarks --only gru,lstm2`` runs just those rows (a few minutes less).

Every time is a median over interleaved rounds: each round runs every implementation once per
workload, in turn, after a warm-up call, so that a change in the machine's load hits all of them
alike.  Ratios are npae / PyTorch at its better thread count.  The machine's matmul peak is
measured in the same run (one large GEMM) and each training step's matmul FLOPs are shown as a
share of it.  Nothing here asserts a time: the tests prove equality, this file measures speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import npae  # noqa: E402
from npae.autoencoder import GRUAutoencoder, LSTMAutoencoder, PerStepAutoencoder, RNNAutoencoder  # noqa: E402
from npae.losses import mse_loss, mse_loss_backward  # noqa: E402
from npae.optim import Adam  # noqa: E402

CONFIGS = {"seed": (32, 50, 32, 16), "mid": (128, 100, 64, 32), "large": (256, 200, 128, 64)}



def _stacked_lstm(*args, **kw):
    """The LSTM autoencoder with two stacked layers in the encoder and in the decoder."""
    return LSTMAutoencoder(*args, num_layers=2, **kw)


MODELS = {"lstm": LSTMAutoencoder, "rnn": RNNAutoencoder, "gru": GRUAutoencoder, "lstm2": _stacked_lstm}
DEFAULT_OUT = Path(__file__).resolve().parent / "results"

# the targets: (key, label, cell, config, op, target ratio)
TARGETS = [
    ("step_lstm_seed", "training step, LSTM autoencoder", "lstm", "seed", "step", 0.6),
    ("step_rnn_seed", "training step, RNN autoencoder", "rnn", "seed", "step", 0.35),
    ("step_lstm_mid", "training step, LSTM autoencoder", "lstm", "mid", "step", 0.7),
    ("step_lstm_large", "training step, LSTM autoencoder", "lstm", "large", "step", 0.4),
    ("score_lstm", "scoring a series, LSTM (seed model)", "lstm", "seed", "series", 0.7),
    ("score_rnn", "scoring a series, RNN (seed model)", "rnn", "seed", "series", 0.7),
    ("demo", "npae demo training, both models, 50 epochs", None, "seed", "demo", 0.5),
    # the model family (issue 12): measured, no target
    ("step_gru_seed", "training step, GRU autoencoder", "gru", "seed", "step", None),
    ("step_gru_mid", "training step, GRU autoencoder", "gru", "mid", "step", None),
    ("step_lstm2_seed", "training step, LSTM autoencoder, 2 layers", "lstm2", "seed", "step", None),
    ("step_lstm2_mid", "training step, LSTM autoencoder, 2 layers", "lstm2", "mid", "step", None),
]


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

def environment() -> dict:
    """Versions, CPU, BLAS and thread counts, load: what the numbers were measured with."""
    import torch

    env = {
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "npae": npae.__version__, "cpu": _cpu_name(), "cores": os.cpu_count(),
        "torch_threads_default": torch.get_num_threads(),
        "npae_batch_threads": npae.recurrent.get_num_threads(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                               "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                               "NPAE_NUM_THREADS") if os.environ.get(k)},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        from threadpoolctl import threadpool_info

        env["threadpools"] = [{k: d.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                                      "num_threads", "architecture", "threading_layer")}
                              for d in threadpool_info()]
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        env["numpy_config"] = buf.getvalue()
    return env


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_summary(env) -> str:
    pools = env.get("threadpools")
    if not pools:
        return "BLAS: see numpy.show_config() in the JSON"
    parts = [f"{p['internal_api']} {p.get('version') or ''} ({p.get('architecture') or '?'}, "
             f"{p['num_threads']} threads, {p['prefix']})" for p in pools]
    return "thread pools: " + "; ".join(parts)


def matmul_peak(dtype, n=None, repeats=5) -> float:
    """GFLOP/s of one large square GEMM (NumPy's BLAS, its default threads): the machine's peak."""
    n = n or (2048 if np.dtype(dtype) == np.float32 else 1536)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2.0 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Model arithmetic: FLOPs and the BPTT cache
# ---------------------------------------------------------------------------------------------

def step_flops(cell, B, T, H, L, D=1) -> float:
    """Matmul FLOPs of one training step of the autoencoder, as npae computes it.

    Forward: encoder T·2B·G(H + D + 1) (h, x and the bias row in one GEMM per step), encoder_fc
    2BHL, decoder_fc 2BLH, decoder input projection once 2BGH, decoder T·2BGH, output_fc T·2BHD
    (G = 4H for the LSTM, 3H for the GRU, H for the RNN).  A second stacked layer ("lstm2") adds
    T·2B·G(2H + 1) in the encoder and in the decoder (its input is the layer below's output,
    projected at every step).  The backward does two matmuls of the same size for each (the
    input's and the weight's gradient), so a step is 3× the forward.  Elementwise work (gates,
    activations, Adam) is not counted.  PyTorch computes more (it projects the decoder's
    repeated input at every step: + T·2BGH forward).
    """
    G = {"lstm": 4 * H, "lstm2": 4 * H, "gru": 3 * H}.get(cell, H)
    fwd = (T * 2 * B * G * (H + D + 1) + 2 * B * H * L + 2 * B * L * H + 2 * B * G * H
           + T * 2 * B * G * H + T * 2 * B * H * D)
    if cell == "lstm2":
        fwd += 2 * T * 2 * B * G * (2 * H + 1)
    return 3.0 * fwd


def cache_floats(cell, B, T, H, D=1) -> dict:
    """What BPTT has to keep from the forward, per the formula, in floats.

    LSTM layer: gates 4·T·B·H + h (T+1)·B·H + c (T+1)·B·H + tanh(c) T·B·H ≈ 7·T·B·H (npae's
    encoder keeps x_t and a row of ones beside h_t: + (T+1)·B·(D+1)).  RNN layer: h (T+1)·B·H.
    The autoencoder has two layers.  ``dA`` is what a backward that stores the gates' gradient
    for all steps would add (4·T·B·H for the LSTM); npae's LSTM keeps it for a block of steps.
    """
    if cell == "lstm":
        layer = 4 * T * B * H + 2 * (T + 1) * B * H + T * B * H
        cache = 2 * layer + (T + 1) * B * (D + 1)
        dA = 4 * T * B * H
    else:
        cache = 2 * (T + 1) * B * H
        dA = T * B * H
    return {"cache": cache, "dA": dA}


# ---------------------------------------------------------------------------------------------
# Floors: the time loops' NumPy calls alone
# ---------------------------------------------------------------------------------------------

def _lstm_loop_calls(B, T, H, E, dtype, add_input, backward, dy, one_step=False):
    """A bare scan of one LSTM layer: the NumPy calls of one step of npae's kernel
    (npae/fast/lstm.py: ``lstm_scan`` 8 calls, + 1 with a broadcast input; ``lstm_scan_backward``
    5, + 1 with an upstream dy), T times, on arrays of the kernel's shapes and layout, with the
    per-step views made beforehand — and nothing else (no gate factors, no weight-gradient GEMMs,
    no layers around it).  What a NumPy time loop of these calls cannot go below.  ``one_step``:
    inference's layout, one step-sized block for the gates, c and tanh(c), reused every step."""
    rng = np.random.default_rng(0)
    half = np.array(0.5, dtype)
    W = (rng.standard_normal((4 * H, H + E)) * 0.1).astype(dtype)
    Wt = np.ascontiguousarray(W[:, :H].T)
    S = rng.random((T + 1, 5 * H, B)).astype(dtype)
    zT = rng.random((T + 1, H + E, B)).astype(dtype)
    tc, P = np.empty((T, H, B), dtype), np.empty((2 * H, B), dtype)
    xw = rng.random((4 * H, B)).astype(dtype)
    F = rng.random((T, 5 * H, B)).astype(dtype) * 0.5  # the factors, read; D written (no growth)
    D, F5 = np.empty_like(F), F.reshape(T, 5, H, B)
    D5 = D.reshape(T, 5, H, B)
    dh, dc = np.zeros((H, B), dtype), np.zeros((H, B), dtype)
    dyT = rng.random((T, H, B)).astype(dtype) if dy else None
    s_, t_ = (lambda t: 0, lambda t: 0) if one_step else (lambda t: t, lambda t: t + 1)
    fwd = [(S[s_(t), :4 * H], S[s_(t), :3 * H], S[s_(t), H:3 * H], S[s_(t), 3 * H:], S[t_(t), 4 * H:],
            tc[s_(t)], S[s_(t), :H], zT[t], zT[t + 1, :H]) for t in range(T)]
    bwd = [(None if dyT is None else dyT[t], F5[t, :2], D5[t, :2], D5[t, 0], F5[t, 2:], D5[t, 2:],
            S[t, 2 * H:3 * H], D[t, H:]) for t in range(T - 1, -1, -1)]
    mul, add, tanh, matmul = np.multiply, np.add, np.tanh, np.matmul

    def run():
        for A, oif, if_, gc, c, tct, o, z, h in fwd:
            matmul(W, z, out=A)
            if add_input:
                add(A, xw, out=A)
            tanh(A, out=A)
            mul(oif, half, out=oif)
            add(oif, half, out=oif)
            mul(if_, gc, out=P)
            tanh(add(P[:H], P[H:], out=c), out=tct)
            mul(o, tct, out=h)
        if backward:
            for dyt, kf, k, k0, df, d, f, dA in bwd:
                if dyt is not None:
                    add(dh, dyt, out=dh)
                mul(kf, dh, out=k)
                add(dc, k0, out=dc)
                mul(df, dc, out=d)
                mul(dc, f, out=dc)
                matmul(Wt, dA, out=dh)
            dh[...] = 0  # the next call starts where a backward does (the encoder: dh_T small)
            dc[...] = 0
    return run


def _rnn_loop_calls(B, T, H, dtype, add_input):
    """A bare scan of one RNN layer's inference loop (npae/fast/rnn.py ``rnn_forward_fm``: the
    GEMM with the inputs folded in (E = 2 extra rows) and tanh; the decoder adds its projected
    input, ``add_input``) on arrays of its shapes."""
    rng = np.random.default_rng(0)
    E = 0 if add_input else 2
    W = (rng.standard_normal((H, H + E)) * 0.1).astype(dtype)
    zT = rng.random((T + 1, H + E, B)).astype(dtype)
    xw = rng.random((H, B)).astype(dtype)
    steps = [(zT[t], zT[t + 1, :H]) for t in range(T)]
    matmul, add, tanh = np.matmul, np.add, np.tanh

    def run():
        for z, a in steps:
            matmul(W, z, out=a)
            if add_input:
                add(a, xw, out=a)
            tanh(a, out=a)
    return run


def step_floor(cell, B, T, H, dtype=np.float32):
    """The bare scans of one LSTM autoencoder training step: encoder forward (inputs folded:
    E = D + 1 = 2 extra rows), decoder forward (broadcast input added), decoder backward (with dy),
    encoder backward (without).  A callable returning its seconds."""
    if cell != "lstm":
        return None
    from npae.fast.threads import BlasThreads

    enc = _lstm_loop_calls(B, T, H, 2, dtype, add_input=False, backward=True, dy=False)
    dec = _lstm_loop_calls(B, T, H, 0, dtype, add_input=True, backward=True, dy=True)

    def run():
        t0 = time.perf_counter()
        with BlasThreads(1):  # as the autoencoder's passes
            enc()
            dec()
        return time.perf_counter() - t0
    return run


def scoring_floor(cell, n_windows, batch, T=50, H=32, dtype=np.float32):
    """The bare scans of scoring ``n_windows`` windows in batches of ``batch``, on the threads
    ``reconstruct`` uses (each thread its own arrays): per batch, the encoder's and the
    decoder's forward loop.  A callable returning its seconds."""
    from npae.fast.threads import BlasThreads, column_blocks, run_blocks, scoring_threads

    n = len(column_blocks(min(n_windows, batch), scoring_threads()))
    b = -(-batch // n)
    n_batches = -(-n_windows // b)
    last = n_windows - (n_batches - 1) * b

    def loops(size):
        if cell == "lstm":
            return [_lstm_loop_calls(size, T, H, 2, dtype, False, False, False, one_step=True),
                    _lstm_loop_calls(size, T, H, 0, dtype, True, False, False, one_step=True)]
        return [_rnn_loop_calls(size, T, H, dtype, False), _rnn_loop_calls(size, T, H, dtype, True)]

    per_thread = [(loops(b), loops(last)) for _ in range(n)]

    def worker(k):
        full, tail = per_thread[k]
        for j in range(k, n_batches, n):
            for loop in (tail if j == n_batches - 1 else full):
                loop()

    def run():
        t0 = time.perf_counter()
        with BlasThreads(1):
            run_blocks(worker, [(k,) for k in range(n)])
        return time.perf_counter() - t0
    return run


# ---------------------------------------------------------------------------------------------
# Runners: each op is a callable returning the seconds of the part it measures
# ---------------------------------------------------------------------------------------------

_BLAS = {}


def set_blas_threads(n=None):
    """Limit NumPy's BLAS to ``n`` threads (``None``: its default), through threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return
    if "default" not in _BLAS:
        from threadpoolctl import threadpool_info

        _BLAS["default"] = max([d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"] or [1])
    n = _BLAS["default"] if n is None else n
    if _BLAS.get("now") != n:
        threadpool_limits(limits=n, user_api="blas")
        _BLAS["now"] = n


def training_step(model, x, lr=1e-3):
    """One training step of an npae autoencoder on ``x``, as a callable: forward, the MSE, its
    backward, and Adam (the optimiser made here, once)."""
    opt = Adam(list(model.parameters()), lr=lr)

    def step():
        opt.zero_grad()
        y = model(x)
        _, cache = mse_loss(y, x)
        model.backward(mse_loss_backward(cache))
        opt.step()

    return step


def npae_ops(model, x, threads=None, blas_threads=None):
    """forward / backward / step / score callables for an npae model (vectorised or per-step);
    ``threads``: :func:`npae.recurrent.set_num_threads` (batches of ≥ 128 split; ``None``: npae's
    defaults), ``blas_threads``: NumPy's BLAS threads outside npae's passes (``None``: the
    default)."""
    train_step = training_step(model, x)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype) * 1e-3
    pc = time.perf_counter

    def prepare():
        npae.recurrent.set_num_threads(threads, min_batch=128)
        set_blas_threads(blas_threads)

    def forward():
        t0 = pc()
        model(x)
        return pc() - t0

    def backward():
        model(x)
        t0 = pc()
        model.backward(g)
        return pc() - t0

    def step():
        t0 = pc()
        train_step()
        return pc() - t0

    def score():
        t0 = pc()
        if hasattr(model, "reconstruct"):
            model.reconstruct(x, batch_size=len(x))
        else:
            model(x)
        return pc() - t0

    return prepare, {"forward": forward, "backward": backward, "step": step, "score": score}


def torch_ops(model, x, threads):
    import torch

    import reference

    tm = reference.to_torch(model)
    xt = torch.from_numpy(x.copy())
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    g = torch.from_numpy(np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype) * 1e-3)
    pc = time.perf_counter

    def prepare():
        npae.recurrent.set_num_threads(1)
        set_blas_threads(None)
        torch.set_num_threads(threads)

    def forward():
        t0 = pc()
        tm(xt)
        return pc() - t0

    def backward():
        y = tm(xt)
        t0 = pc()
        y.backward(g)
        return pc() - t0

    def step():
        t0 = pc()
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(tm(xt), xt)
        loss.backward()
        opt.step()
        return pc() - t0

    def score():
        t0 = pc()
        with torch.no_grad():
            tm(xt)
        return pc() - t0

    return prepare, {"forward": forward, "backward": backward, "step": step, "score": score}


def interleaved(impls, rounds, min_seconds=0.05, max_calls=25):
    """Median seconds per implementation: ``impls`` maps a name to ``(prepare, fn)``.

    Every round runs each implementation in turn (the order rotates): ``prepare()``, one warm-up
    call, then as many timed calls as fill ``min_seconds`` (at most ``max_calls``; the count is
    fixed in round one).  Returns name → list of times.
    """
    names = list(impls)
    times = {n: [] for n in names}
    calls = {}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            prepare, fn = impls[n]
            prepare()
            first = fn()
            if n not in calls:
                calls[n] = max(1, min(max_calls, int(min_seconds / max(first, 1e-9))))
            for _ in range(calls[n]):
                times[n].append(fn())
    return times


def _median(v):
    return float(np.median(v)) if v else float("nan")


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------

def bench_config(cell, name, B, T, H, L, ops, rounds, per_step=False, f64=True, threaded=False,
                 blas1=False, log=print):
    """Time ``ops`` for one configuration; returns {op: {impl: median seconds}} and raw times.

    Implementations: ``npae_f32`` (defaults: BLAS's threads, no batch split), ``npae_f64``,
    ``npae_f32_2thr`` (``set_num_threads(2)``), ``npae_f32_blas1`` (BLAS limited to one thread),
    ``npae_per_step_f32`` (the plain loops), ``torch_f32_1t`` / ``torch_f32_2t``.
    """
    model32 = MODELS[cell](1, H, L, dtype=np.float32, seed=0)
    x32 = np.random.default_rng(0).standard_normal((B, T, 1)).astype(np.float32)
    impls = {"npae_f32": npae_ops(model32, x32)}
    if threaded:
        impls["npae_f32_2thr"] = npae_ops(MODELS[cell](1, H, L, dtype=np.float32, seed=0), x32, threads=2)
    if blas1:
        impls["npae_f32_blas1"] = npae_ops(MODELS[cell](1, H, L, dtype=np.float32, seed=0), x32,
                                           blas_threads=1)
    if f64:
        model64 = MODELS[cell](1, H, L, dtype=np.float64, seed=0)
        impls["npae_f64"] = npae_ops(model64, x32.astype(np.float64))
    if per_step:
        impls["npae_per_step_f32"] = npae_ops(PerStepAutoencoder(model32), x32)
    impls["torch_f32_1t"] = torch_ops(model32, x32, 1)
    impls["torch_f32_2t"] = torch_ops(model32, x32, 2)
    floor = step_floor(cell, B, T, H) if cell == "lstm" and name in ("seed", "mid") else None
    out, raw = {}, {}
    for op in ops:
        timed = {k: (p, fns[op]) for k, (p, fns) in impls.items()}
        if op == "step" and floor is not None:  # the time loops' calls alone, in the same rounds
            timed["floor"] = (lambda: None, floor)
        t = interleaved(timed, rounds)
        out[op] = {k: _median(v) for k, v in t.items()}
        raw[op] = {k: [float(s) for s in v] for k, v in t.items()}
        best = min(out[op]["torch_f32_1t"], out[op]["torch_f32_2t"])
        log(f"  {cell:<4} {name:<12} {op:<8} npae {1e3 * out[op]['npae_f32']:9.2f} ms   "
            f"torch {1e3 * best:9.2f} ms   ratio {out[op]['npae_f32'] / best:5.2f}")
    return {"cell": cell, "config": name, "B": B, "T": T, "H": H, "L": L, "median_s": out,
            "times_s": raw, "flops_step": step_flops(cell, B, T, H, L)}


def bench_series(cell, n_points, batch, rounds, model_only=True, log=print):
    """Scoring all windows (T = 50) of a standardised synthetic series with the seed model,
    through the detector's own scoring (:func:`npae.detector.score_series`)."""
    import torch

    import reference
    from npae.data import synthetic_series
    from npae.detector import score_series
    from reference.train import reconstruct

    B, T, H, L = CONFIGS["seed"]
    series = synthetic_series(n_points, seed=0)
    x = ((series - series.mean()) / series.std())[:, None]
    model = MODELS[cell](1, H, L, dtype=np.float32, seed=0)
    tm = reference.to_torch(model)

    def run(fn):
        return lambda: _timed(lambda: score_series(fn, x, T, batch_size=batch))

    from npae.data import sliding_windows

    def npae_prep(threads):
        def prepare():
            npae.recurrent.set_num_threads(threads, min_batch=128)
            set_blas_threads(None)
        return prepare

    def torch_prep(threads):
        def prepare():
            npae.recurrent.set_num_threads(1)
            torch.set_num_threads(threads)
        return prepare

    windows = np.ascontiguousarray(sliding_windows(x.astype(np.float32), T))
    impls = {}
    # npae_f32: npae's defaults (one thread); npae_f32_2thr: set_num_threads(2)
    for th, name in ((None, "npae_f32"), (2, "npae_f32_2thr")):
        impls[name] = (npae_prep(th), run(lambda xb: model.reconstruct(xb, batch)))
        if model_only:  # the model alone, without the score bookkeeping
            impls[name + "_model_only"] = (npae_prep(th), lambda: _timed(lambda: model.reconstruct(windows, batch)))
    for th in (1, 2):
        impls[f"torch_f32_{th}t"] = (torch_prep(th), run(lambda xb: reconstruct(tm, xb, batch)))
        if model_only:
            impls[f"torch_f32_{th}t_model_only"] = (torch_prep(th),
                                                    lambda: _timed(lambda: reconstruct(tm, windows, batch)))
    npae.recurrent.set_num_threads(None)
    impls["floor"] = (npae_prep(None), scoring_floor(cell, len(windows), batch))  # the loops' calls alone
    t = interleaved(impls, rounds, min_seconds=0.0, max_calls=1)
    npae.recurrent.set_num_threads(None)
    med = {k: _median(v) for k, v in t.items()}
    best = min(med["torch_f32_1t"], med["torch_f32_2t"])
    msg = (f"  {cell:<4} scoring {n_points} points: npae {med['npae_f32']:.2f} s (2 threads "
           f"{med['npae_f32_2thr']:.2f} s; floor {med['floor']:.2f} s)   torch {best:.2f} s   "
           f"ratio {med['npae_f32'] / best:.2f}")
    if model_only:
        msg += (f"   (model only: npae {med['npae_f32_model_only']:.2f} s, torch "
                f"{min(med['torch_f32_1t_model_only'], med['torch_f32_2t_model_only']):.2f} s)")
    log(msg)
    return {"cell": cell, "n_points": n_points, "windows": len(windows), "batch": batch,
            "median_s": med, "times_s": {k: [float(s) for s in v] for k, v in t.items()}}


def bench_demo(step_medians, torch_threads, run_it, log=print):
    """The demo's training: 50 epochs of the 1,000-point series (951 windows, batch 32), RNN and
    LSTM, npae and PyTorch (at ``torch_threads``) from the same initial weights and batches."""
    import torch

    import reference
    from npae.data import sliding_windows, synthetic_series
    from npae.train import fit

    epochs, B, n_points = 50, 32, 1000
    B_, T, H, L = CONFIGS["seed"]
    n_windows = n_points - T + 1
    steps = epochs * -(-n_windows // B)
    out = {"epochs": epochs, "steps_per_model": steps, "torch_threads": torch_threads}
    if not run_it:  # estimate: step medians × steps (the last batch of an epoch is smaller)
        for impl in ("npae", "torch"):
            out[impl] = sum(step_medians[cell][impl] for cell in ("rnn", "lstm")) * steps
        out["estimated"] = True
        log(f"  demo (estimated from step times × {steps} steps per model): npae {out['npae']:.1f} s, "
            f"torch {out['torch']:.1f} s, ratio {out['npae'] / out['torch']:.2f}")
        return out
    series = synthetic_series(n_points, seed=42)
    windows = np.ascontiguousarray(sliding_windows((series - series.mean()) / series.std(), T),
                                   dtype=np.float32)
    torch.set_num_threads(torch_threads)
    per = {}
    for cell in ("rnn", "lstm"):
        model = MODELS[cell](1, H, L, dtype=np.float32, seed=42)
        twin = reference.to_torch(model)
        per[f"npae_{cell}"] = _timed(lambda: fit(model, windows, epochs=epochs, batch_size=B, seed=42))
        per[f"torch_{cell}"] = _timed(lambda: fit(twin, windows, epochs=epochs, batch_size=B, seed=42))
    out.update(per, npae=per["npae_rnn"] + per["npae_lstm"], torch=per["torch_rnn"] + per["torch_lstm"],
               estimated=False)
    log(f"  demo (run: npae.train.fit, {steps} steps per model): npae {out['npae']:.1f} s, "
        f"torch {out['torch']:.1f} s ({torch_threads} thread(s)), ratio {out['npae'] / out['torch']:.2f}")
    return out


def bench_memory(cell="lstm", config="large", log=print):
    """Peak traced memory (tracemalloc) of one training step on a fresh model, against the BPTT
    cache formula; and the memory of scoring 10k and 50k windows in batches of 1024."""
    B, T, H, L = CONFIGS[config]
    model = MODELS[cell](1, H, L, dtype=np.float32, seed=0)
    x = np.random.default_rng(0).standard_normal((B, T, 1)).astype(np.float32)
    step = training_step(model, x)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    floats = cache_floats(cell, B, T, H)
    item = 4
    res = {"cell": cell, "config": config, "peak_bytes": peak, "cache_bytes": floats["cache"] * item,
           "dA_bytes": floats["dA"] * item}
    res["peak_over_cache"] = peak / res["cache_bytes"]
    res["peak_over_cache_and_dA"] = peak / (res["cache_bytes"] + res["dA_bytes"])
    log(f"  memory, one {cell.upper()} training step at {config} (B={B}, T={T}, H={H}): peak "
        f"{peak / 2**20:.0f} MiB; BPTT cache {res['cache_bytes'] / 2**20:.0f} MiB "
        f"(×{res['peak_over_cache']:.2f})")
    # scoring: the peak should not grow with the number of windows (beyond the output itself)
    seed_model = MODELS[cell](1, 32, 16, dtype=np.float32, seed=0)
    res["scoring"] = {}
    for n in (10_000, 50_000):
        w = np.random.default_rng(0).standard_normal((n, 50, 1)).astype(np.float32)
        tracemalloc.start()
        seed_model.reconstruct(w, 1024)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        res["scoring"][n] = {"peak_bytes": p, "output_bytes": w.nbytes, "beyond_output": p - w.nbytes}
    s = res["scoring"]
    log(f"  memory, scoring with batch 1024: 10k windows {s[10_000]['beyond_output'] / 2**20:.1f} MiB "
        f"beyond the output, 50k windows {s[50_000]['beyond_output'] / 2**20:.1f} MiB")
    return res


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

def _best_torch(med):
    t1, t2 = med.get("torch_f32_1t", np.inf), med.get("torch_f32_2t", np.inf)
    return (t1, 1) if t1 <= t2 else (t2, 2)


NPAE_OPTIONS = {"npae_f32_2thr": "set_num_threads(2)", "npae_f32_1thr": "set_num_threads(1)",
                "npae_f32_blas1": "BLAS 1 thread"}


def target_rows(results):
    """One row per target: npae with its defaults, the best npae option measured, PyTorch."""
    rows = []
    by = {(r["cell"], r["config"]): r for r in results["configs"]}
    for key, label, cell, config, op, target in TARGETS:
        if op in ("step", "series"):
            if op == "step":
                r = by.get((cell, config))
                if r is None:
                    continue
                med = r["median_s"]["step"]
                cfg = "{} ({}, {}, {}, {})".format(config, r["B"], r["T"], r["H"], r["L"])
            else:
                r = results.get("series", {}).get(cell)
                if r is None:
                    continue
                med = r["median_s"]
                cfg = f"{r['n_points']:,} points, {r['windows']:,} windows, batch {r['batch']}"
            npae_s, (torch_s, th) = med["npae_f32"], _best_torch(med)
            floor_s = med.get("floor")
            t1, t2 = med["torch_f32_1t"], med["torch_f32_2t"]
            options = {k: med[k] for k in NPAE_OPTIONS if k in med}
        else:
            d = results.get("demo")
            if d is None:
                continue
            npae_s, torch_s, th = d["npae"], d["torch"], d["torch_threads"]
            floor_s = None
            t1 = t2 = None
            options = {}
            cfg = "seed, {} steps/model{}".format(d["steps_per_model"], ", estimated" if d["estimated"] else "")
        best_opt = min(options, key=options.get) if options else None
        opt_ratio = options[best_opt] / torch_s if best_opt else None
        ratio = npae_s / torch_s
        rows.append({"key": key, "workload": label, "config": cfg, "npae_s": npae_s,
                     "torch_1t_s": t1, "torch_2t_s": t2, "torch_best_threads": th,
                     "ratio": ratio, "target": target,
                     "met": None if target is None else bool(ratio <= target),
                     "option": NPAE_OPTIONS.get(best_opt), "option_s": options.get(best_opt),
                     "option_ratio": opt_ratio, "floor_s": floor_s,
                     "met_with_option": bool(target is not None and opt_ratio is not None
                                             and opt_ratio <= target)})
    return rows


def _fmt_s(s):
    if s is None:
        return "-"
    return f"{1e3 * s:.2f} ms" if s < 1 else f"{s:.2f} s"


def format_report(results) -> str:
    env = results["environment"]
    lines = [
        f"npae {env['npae']} | numpy {env['numpy']} | torch {env['torch']} | python {env['python']}",
        f"CPU: {env['cpu']}, {env['cores']} cores; load average at start "
        f"{', '.join(f'{v:.2f}' for v in env['load_average'] or [])}",
        blas_summary(env),
        f"env: {env['env'] or 'no thread/BLAS variables set'}; npae batch threads: {env['npae_batch_threads']}",
        f"matmul peak (one {results['peak']['n32']}² GEMM): float32 {results['peak']['float32']:.0f} GFLOP/s, "
        f"float64 {results['peak']['float64']:.0f} GFLOP/s",
        "",
        "Targets: float32, ratio = npae / PyTorch at its better thread count (1 or 2), medians of "
        "interleaved runs; floor: the time loops' NumPy calls alone (a bare scan of the kernel's calls "
        "per step, same shapes, no other work), timed in the same rounds",
    ]
    hdr = (f"{'workload':<44} {'config':<40} {'npae':>10} {'torch 1t':>10} {'torch 2t':>10} "
           f"{'ratio':>6} {'target':>7}  {'met':<4} {'floor':>10}  best npae option")
    lines += [hdr, "-" * len(hdr)]
    for r in results["targets"]:
        opt = (f"{r['option']}: {_fmt_s(r['option_s'])}, ratio {r['option_ratio']:.2f}"
               f"{' (met)' if r['met_with_option'] else ''}" if r["option"] else "")
        target = "-" if r["target"] is None else "≤ " + str(r["target"])
        met = "-" if r["met"] is None else "yes" if r["met"] else "NO"
        lines.append(f"{r['workload']:<44} {r['config']:<40} {_fmt_s(r['npae_s']):>10} "
                     f"{_fmt_s(r['torch_1t_s']):>10} {_fmt_s(r['torch_2t_s']):>10} {r['ratio']:>6.2f} "
                     f"{target:>7}  {met:<4} {_fmt_s(r.get('floor_s')):>10}  {opt}")
    lines += ["", "All timings (medians; f64/f32 = npae float64 over float32; GF/s and % of peak: "
              "the step's matmul FLOPs over its time)"]
    hdr = (f"{'cell':<6}{'config':<7}{'op':<9}{'npae f32':>10}{'2 thr':>10}{'BLAS 1':>10}{'npae f64':>10}"
           f"{'per-step':>10}{'torch 1t':>10}{'torch 2t':>10}{'ratio':>7}{'f64/f32':>8}{'GFLOP':>7}"
           f"{'GF/s':>6}{'%peak':>6}")
    lines += [hdr, "-" * len(hdr)]
    for r in results["configs"]:
        for op, med in r["median_s"].items():
            best, _ = _best_torch(med)
            f64 = med.get("npae_f64")
            gf = r["flops_step"] / 1e9 if op == "step" else None
            rate = gf / med["npae_f32"] if gf else None
            lines.append(
                f"{r['cell']:<6}{r['config']:<7}{op:<9}{_fmt_s(med['npae_f32']):>10}"
                f"{_fmt_s(med.get('npae_f32_2thr')):>10}{_fmt_s(med.get('npae_f32_blas1')):>10}"
                f"{_fmt_s(f64):>10}{_fmt_s(med.get('npae_per_step_f32')):>10}"
                f"{_fmt_s(med['torch_f32_1t']):>10}{_fmt_s(med['torch_f32_2t']):>10}"
                f"{med['npae_f32'] / best:>7.2f}{(f64 / med['npae_f32'] if f64 else float('nan')):>8.2f}"
                + (f"{gf:>7.2f}{rate:>6.1f}{100 * rate / results['peak']['float32']:>5.1f}%" if gf else ""))
    m = results.get("memory")
    if m:
        lines += ["", f"Memory: one {m['cell'].upper()} training step at {m['config']}, float32: peak "
                  f"{m['peak_bytes'] / 2**20:.0f} MiB (tracemalloc) = {m['peak_over_cache']:.2f} × the BPTT "
                  f"cache ({m['cache_bytes'] / 2**20:.0f} MiB: 2 layers × (4 gates + h + c + tanh c) × T·B·H "
                  f"floats; the backward's dA is kept for a block of steps, not all T)."]
        s = m["scoring"]
        lines.append("Scoring memory beyond its output, batch 1024: " + ", ".join(
            f"{n:,} windows {v['beyond_output'] / 2**20:.1f} MiB" for n, v in s.items())
            + " (grows with the batch, not the series)")
    if results.get("grid"):
        lines += ["", "Grid (LSTM training step, B = 32, float32): " + ", ".join(
            f"{g['label']} npae {_fmt_s(g['npae_f32'])} / torch {_fmt_s(min(g['torch_f32_1t'], g['torch_f32_2t']))}"
            for g in results["grid"])]
    return "\n".join(lines)


def plot(results):
    """Log-log time per training step against T and against H (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, axis in zip(axes, ("T", "H")):
        pts = sorted((g for g in results["grid"] if g["vary"] == axis), key=lambda g: g[axis])
        if not pts:
            continue
        xs = [g[axis] for g in pts]
        for key, label, style in (("npae_f32", "npae float32", "o-"), ("npae_f64", "npae float64", "s--"),
                                  ("npae_per_step_f32", "npae per-step (loops)", "^:"),
                                  ("torch_f32_1t", "PyTorch, 1 thread", "v-"),
                                  ("torch_f32_2t", "PyTorch, 2 threads", "d-")):
            ys = [g.get(key) for g in pts]
            if all(y is None for y in ys):
                continue
            ax.loglog([x for x, y in zip(xs, ys) if y], [1e3 * y for y in ys if y], style, label=label)
        ax.set_xlabel(axis + (" (time steps)" if axis == "T" else " (hidden size)"))
        ax.set_ylabel("ms per training step")
        fixed = "B = 32, H = 32" if axis == "T" else "B = 32, T = 50"
        ax.set_title(f"LSTM autoencoder, {fixed}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def family_configs(rounds, quick, cells=("gru", "lstm2"), log=print):
    """The model family's training-step rows: seed and mid sizes for each of ``cells``."""
    rows = []
    for cell in cells:
        for name in ("seed", "mid"):
            rows.append(bench_config(cell, name, *CONFIGS[name], ["step"], rounds if name == "seed" else
                                     max(1, rounds // 2), per_step=name == "seed" and not quick,
                                     f64=not quick, log=log))
    return rows


def run_only(cells, quick=False, out=DEFAULT_OUT, log=print):
    """``--only``: just the training-step rows of ``cells`` (seed and mid), the table, the JSON."""
    import torch

    start = time.perf_counter()
    env = environment()
    log(f"npae speed benchmark, training steps only ({', '.join(cells)}; {'quick' if quick else 'full'} "
        f"rounds); " + blas_summary(env))
    results = {"quick": quick, "environment": env, "only": list(cells)}
    results["peak"] = {"float32": matmul_peak(np.float32), "float64": matmul_peak(np.float64), "n32": 2048}
    results["configs"] = family_configs(3 if quick else 7, quick, cells, log=log)
    torch.set_num_threads(env["torch_threads_default"])
    results["targets"] = target_rows(results)
    results["seconds"] = time.perf_counter() - start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = format_report(results)
    (out / "speed_only.json").write_text(json.dumps(results, indent=1, default=_json_default))
    log("")
    log(report)
    log(f"\nwrote {out / 'speed_only.json'} ({results['seconds']:.0f} s)")
    return results


def run(quick=False, out=DEFAULT_OUT, profile=True, log=print):
    import torch

    start = time.perf_counter()
    env = environment()
    log(f"npae speed benchmark ({'quick' if quick else 'full'}); " + blas_summary(env))
    results = {"quick": quick, "environment": env}
    results["peak"] = {"float32": matmul_peak(np.float32), "float64": matmul_peak(np.float64), "n32": 2048}
    log(f"  matmul peak: float32 {results['peak']['float32']:.0f} GFLOP/s, "
        f"float64 {results['peak']['float64']:.0f} GFLOP/s")

    rounds = 3 if quick else 7
    configs = [
        bench_config("lstm", "seed", *CONFIGS["seed"],
                     ["step", "forward", "backward"] + ([] if quick else ["score"]), rounds,
                     per_step=True, blas1=True, log=log),
        bench_config("rnn", "seed", *CONFIGS["seed"], ["step"] if quick else ["step", "forward", "backward"],
                     rounds, per_step=not quick, blas1=True, log=log),
        bench_config("lstm", "mid", *CONFIGS["mid"], ["step"] if quick else ["step", "forward", "backward"],
                     rounds, f64=not quick, threaded=True, blas1=not quick, log=log),
        bench_config("lstm", "large", *CONFIGS["large"], ["step"], 1 if quick else 3, f64=not quick,
                     threaded=True, log=log),
    ]
    configs += family_configs(rounds, quick, log=log)
    results["configs"] = configs

    # grid for the plot: T and H at B = 32 (LSTM training step)
    grid = []
    Ts, Hs = ((25, 50, 100), (16, 32, 64)) if quick else ((25, 50, 100, 200), (16, 32, 64, 128))
    for vary, values in (("T", Ts), ("H", Hs)):
        for v in values:
            T, H = (v, 32) if vary == "T" else (50, v)
            if (T, H) == (50, 32):  # the seed config, already measured
                med = configs[0]["median_s"]["step"]
            else:
                r = bench_config("lstm", f"{vary}={v}", 32, T, H, max(H // 2, 1), ["step"],
                                 1 if quick else 3, per_step=not quick and T * H <= 3200,
                                 f64=not quick, log=log)
                med = r["median_s"]["step"]
            grid.append(dict(med, vary=vary, T=T, H=H, label=f"T={T},H={H}"))
    results["grid"] = grid

    n_points = 20_000 if quick else 100_000
    results["series"] = {cell: bench_series(cell, n_points, 1024, 1 if quick else 2,
                                            model_only=not quick, log=log)
                         for cell in ("lstm", "rnn")}
    step_meds = {}
    for r in configs:
        if r["config"] == "seed":
            med = r["median_s"]["step"]
            step_meds[r["cell"]] = {"npae": med["npae_f32"], "torch": _best_torch(med)[0]}
    seed_torch_threads = _best_torch(configs[0]["median_s"]["step"])[1]
    results["demo"] = bench_demo(step_meds, seed_torch_threads, run_it=not quick, log=log)
    results["memory"] = bench_memory(log=log)
    if profile:
        from .profile import profile_step

        results["profile"] = profile_step("lstm", *CONFIGS["seed"], quick=quick)
        log(results["profile"]["text"])
    torch.set_num_threads(env["torch_threads_default"])
    npae.recurrent.set_num_threads(1)
    set_blas_threads(None)
    results["targets"] = target_rows(results)
    results["seconds"] = time.perf_counter() - start

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = format_report(results)
    (out / "speed.json").write_text(json.dumps(results, indent=1, default=_json_default))
    (out / "speed.txt").write_text(report + "\n")
    fig = plot(results)
    fig.savefig(out / "speed.png", dpi=120)
    log("")
    log(report)
    log(f"\nwrote {out / 'speed.json'}, {out / 'speed.txt'}, {out / 'speed.png'} "
        f"({results['seconds']:.0f} s)")
    return results


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description="npae vs PyTorch speed benchmark (see benchmarks/speed.py).")
    p.add_argument("--quick", action="store_true", help="under a minute: fewer rounds and sizes")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default: benchmarks/results)")
    p.add_argument("--no-profile", action="store_true", help="skip the profile of the seed step")
    p.add_argument("--only", metavar="CELLS", default=None,
                   help="only the training-step rows (seed and mid sizes) of these comma-separated "
                        f"models, from {', '.join(MODELS)} (lstm2: the LSTM autoencoder with 2 layers)")
    args = p.parse_args(argv)
    if args.only:
        cells = [c.strip() for c in args.only.split(",") if c.strip()]
        bad = [c for c in cells if c not in MODELS]
        if bad or not cells:
            p.error(f"--only takes models from {', '.join(MODELS)}; got {args.only!r}")
        run_only(cells, quick=args.quick, out=args.out)
        return 0
    run(quick=args.quick, out=args.out, profile=not args.no_profile)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
