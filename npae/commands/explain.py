"""``npae explain``: one window's path through an autoencoder, forward and backward, explained.

The window comes from the built-in series of the seed tutorial (trend + seasonality + noise with
injected spikes, standard-scaled).  The forward path is recorded with :class:`npae.trace.Trace`;
the backward part prints the loss, the gradient of every parameter in the order the backward pass
produces them, and how large the gradient that reaches each input step is (the gradient of the
first steps has crossed the most recurrences).  Symbols: see the glossary in ``docs/bptt.md``.
"""

from __future__ import annotations

import numpy as np

HELP = "print one window's path through an autoencoder: every intermediate's shape and values"
DESCRIPTION = (
    "Run one window of the built-in synthetic series through an RNN, LSTM, GRU (optionally "
    "stacked) or dense autoencoder and "
    "print, in order, every intermediate array (name, equation, shape, dtype, min/mean/max) "
    "with a one-line explanation, then the loss and the gradients of the backward pass."
)


def add_arguments(parser):
    parser.add_argument("--cell", choices=("lstm", "rnn", "gru", "dense"), default="lstm",
                        help="the autoencoder: recurrent cell, or the guide's dense model (default lstm)")
    parser.add_argument("--num-layers", type=int, default=1, metavar="N",
                        help="stacked recurrent layers (default 1); for dense, N hidden layers of H "
                             "on each side of the latent layer")
    import argparse

    # the same names as npae detect's (--window is a length everywhere); the old spellings
    # --window-size / --hidden-size / --latent-size stay as hidden aliases
    parser.add_argument("--window", type=int, default=50, metavar="T",
                        help="window length T (default 50, the tutorial's)")
    parser.add_argument("--window-size", type=int, dest="window", help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=32, metavar="H", help="hidden size H (default 32)")
    parser.add_argument("--hidden-size", type=int, dest="hidden", help=argparse.SUPPRESS)
    parser.add_argument("--latent", type=int, default=16, metavar="L", help="latent size L (default 16)")
    parser.add_argument("--latent-size", type=int, dest="latent", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=None, metavar="I",
                        help="which window: the one starting at point I (default: the first one "
                             "that contains an injected spike)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="train this many epochs first (Adam, lr 1e-3, batch 32; default 0: "
                             "the initial weights — the path and the shapes are the same)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the series and of the weights (default 42)")


# what each step of the backward pass is, in the order it runs (equations of docs/bptt.md)
_BACKWARD = (
    ("output_fc", "(A5') (L1')", "output_fc at every step: dW_o = Σ_t dx̂_tᵀ h_t, db_o = Σ_t dx̂_t"),
    ("decoder_{cell}", "(A4') {eqs} (P')",
     "decoder: through time, newest step first; its input u was the same at every step, so "
     "dW_ih uses Σ_t dA_t"),
    ("decoder_fc", "(A3') (L1')", "u fed the decoder T + 1 times (the input of every step, and h_0): du sums them all"),
    ("encoder_fc", "(A2') (L1')", "dh_T = dz W_e: the only gradient the encoder receives"),
    ("encoder_{cell}", "(A1') {eqs} (P')", "encoder: dh_T enters at the last step and flows back to step 1"),
)


def _data(args):
    from npae.data import StandardScaler, sliding_windows, tutorial_data

    _, series, starts, labels = tutorial_data(args.seed)      # the data npae demo uses
    windows = sliding_windows(series, args.window)
    scaled = StandardScaler().fit(windows).transform(windows).astype(np.float32)
    return series, starts, labels, scaled


def _train(model, windows, epochs, seed):
    from npae.data import batches
    from npae.losses import MSELoss
    from npae.optim import Adam

    opt, loss_fn = Adam(model.parameters(), lr=1e-3), MSELoss()
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        total, n = 0.0, 0
        for xb in batches(windows, 32, rng=rng):
            opt.zero_grad()
            loss = loss_fn(model(xb), xb)
            model.backward(loss_fn.backward())
            opt.step()
            total, n = total + float(loss) * len(xb), n + len(xb)
        print(f"  epoch {epoch + 1}/{epochs}: mean training loss {total / n:.4f}")


_DENSE_EQS = {"fc": "(L1')", "bn": "(N4')–(N1')", "output_fc": "(L1')"}
DENSE_BATCH = 8  # batch norm normalises over a batch: the dense model sees 8 windows


def run(args) -> int:
    from npae.autoencoder import build_autoencoder
    from npae.errors import DataError
    from npae.losses import MSELoss
    from npae.trace import Trace

    for name in ("window", "hidden", "latent"):
        if getattr(args, name) < 1 or (name == "window" and args.window < 2):
            raise DataError(f"--{name} must be at least {2 if name == 'window' else 1}, got "
                            f"{getattr(args, name)}")
    if args.epochs < 0:
        raise DataError(f"--epochs must be >= 0, got {args.epochs}")
    if args.num_layers < 1:
        raise DataError(f"--num-layers must be at least 1, got {args.num_layers}")
    if args.window > 1000:
        raise DataError(f"--window {args.window} is longer than the 1000-point series; use at most 1000")
    series, starts, labels, windows = _data(args)
    n = len(windows)
    T = args.window
    if args.index is None:
        index = int(max(0, min(starts[0] - T // 2, n - 1)))  # the first spike in the middle of the window
    else:
        index = args.index
        if not 0 <= index < n:
            raise DataError(f"--index must be in [0, {n - 1}] ({n} windows of {T} points), got {index}")
    dense = args.cell == "dense"
    if dense:  # batch norm needs a batch (in training mode): this window and the next ones
        index = min(index, n - DENSE_BATCH)
    x = windows[index:index + (DENSE_BATCH if dense else 1)]  # (B, T, D=1)
    model = build_autoencoder(args.cell, 1, args.hidden, args.latent, num_layers=args.num_layers,
                              window_size=T, seed=args.seed)
    cls = type(model)
    H, L = args.hidden, args.latent
    G = {"lstm": f"4H = {4 * H}", "gru": f"3H = {3 * H}"}.get(args.cell, f"H = {H}")
    spikes = [int(s) for s in starts if index <= s < index + T]

    print(f"npae explain: one window through the {cls.__name__}"
          + (f" (in a batch of the {DENSE_BATCH} windows from it on: batch norm normalises over the "
             "batch)" if dense else ""))
    print(f"series: the tutorial's synthetic series (1000 points, seed {args.seed}) with 5 spikes "
          f"at {', '.join(map(str, starts))}; standard-scaled windows of T = {T} points")
    print(f"window #{index}: points {index} … {index + T - 1}; "
          + (f"it contains the spike starting at {', '.join(map(str, spikes))}" if spikes
             else "no injected spike starts in it"))
    print(f"model: {cls.__name__}({model.extra_repr()}), {model.num_parameters():,} parameters, seed {args.seed}")
    if dense:
        print(f"glossary: T = {T} steps flattened with D = 1 feature to F = {T} values, "
              f"B = {DENSE_BATCH} windows, hidden sizes {model.hidden_sizes}; training mode: "
              f"batch statistics and dropout {model.dropout}")
    else:
        print(f"glossary: T = {T} steps, B = 1 window, D = 1 feature, H = {H} hidden units, "
              f"G = {G} gate rows, L = {L} latent units"
              + (f", {args.num_layers} stacked layers (S1)" if args.num_layers > 1 else ""))
    if args.epochs:
        print(f"training {args.epochs} epoch(s) on all {n} windows first:")
        _train(model, windows, args.epochs, args.seed)
    else:
        print("weights: the initial (untrained) ones — add --epochs N to train first")

    print("\nFORWARD — the data path (batch-first at the edges, time-major (T, B, ·) inside)\n")
    with Trace() as tr:
        x_hat = model(x)
    print(tr.table(notes=True))

    loss_fn = MSELoss()
    loss = loss_fn(x_hat, x)
    print(f"\nLOSS (M): L = mean((x̂ - x)²) over N = {x.size} elements = {float(loss):.6f}")

    print("\nBACKWARD — gradients in the order the backward pass computes them\n")
    dy = loss_fn.backward()
    print(f"dL/dx̂   (M')  shape {dy.shape}: (2/N)(x̂ - x), max |·| {np.abs(dy).max():.3e}")
    model.zero_grad()
    dx = model.backward(dy)
    eqs = {"lstm": "(1')–(7')", "gru": "(G6')–(G1')"}.get(args.cell, "(R1')–(R2')")
    if args.num_layers > 1:
        eqs = "(S2')–(S1') " + eqs
    params = dict(model.named_parameters())
    width = max(len(k) for k in params)
    if dense:
        _dense_backward(model, params, width)
        print(f"dL/dx    (L1') shape {dx.shape}: the gradient of each input window")
        return 0
    for prefix, eq, note in _BACKWARD:
        prefix = prefix.format(cell=args.cell)
        print(f"{prefix}: {eq.format(eqs=eqs)} — {note}")
        for name, p in params.items():
            if name.startswith(prefix + "."):
                g = p.grad
                print(f"    {name:<{width}}  {str(g.shape):<9}  ‖grad‖ {np.linalg.norm(g):.3e}  "
                      f"max |grad| {np.abs(g).max():.3e}")
    step_norm = np.linalg.norm(dx[0], axis=-1)  # (T,)
    print(f"dL/dx    (P')  shape {dx.shape}: the gradient that reaches each input step")
    picks = sorted(set(np.linspace(0, T - 1, min(T, 6)).round().astype(int)))
    print("    ‖dL/dx_t‖ at " + ", ".join(f"t={t + 1}: {step_norm[t]:.2e}" for t in picks))
    print("    the encoder receives its gradient only at step T (through h_T); every step back "
          "multiplies it by the recurrent Jacobian again, so early steps usually get less.")
    return 0


def _dense_backward(model, params, width):
    """The dense model's gradients, layer by layer in the order the backward pass runs."""
    for name in reversed(model._blocks):
        kind = "output_fc" if name == "output_fc" else name.rstrip("0123456789")
        mine = {k: p for k, p in params.items() if k.startswith(name + ".")}
        if kind == "drop":
            print(f"{name}: (D1') — dx = dy ⊙ m, the forward's mask")
        elif kind == "act":
            print(f"{name}: rule 2 — {model.activation}'s derivative from its output")
        else:
            note = ("training mode: through the batch's μ and σ² as well, step by step"
                    if kind == "bn" else "dx = dy W, dW = dyᵀ x, db = Σ_b dy")
            print(f"{name}: {_DENSE_EQS[kind]} — {note}")
        for k, p in mine.items():
            g = p.grad
            print(f"    {k:<{width}}  {str(g.shape):<9}  ‖grad‖ {np.linalg.norm(g):.3e}  "
                  f"max |grad| {np.abs(g).max():.3e}")
